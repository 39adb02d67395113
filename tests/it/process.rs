//! Tests that need other processes: the writer lock, and kill -9 of a writer that reports
//! each acknowledged seq to the parent. The child is this test binary, re-run with
//! `WFSTORE_CHILD` naming its role.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wfstore::sim::synthetic;
use wfstore::{Durability, Error, OpenOptions, Store};

use crate::util::*;

/// The child's entry point; a no-op when run as an ordinary test.
#[test]
fn child() {
    let (Ok(role), Ok(dir)) = (std::env::var("WFSTORE_CHILD"), std::env::var("WFSTORE_CHILD_DIR")) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut out = std::io::stdout().lock();
    // libtest has printed "test process::child ... " without a newline: end that line.
    writeln!(out).unwrap();
    match role.as_str() {
        "race" => match Store::open(dir, &OpenOptions::default()) {
            Ok(_s) => {
                writeln!(out, "WON").unwrap();
                out.flush().unwrap();
                std::thread::sleep(Duration::from_millis(300));
            }
            Err(e) => writeln!(out, "LOST {e}").unwrap(),
        },
        "hold" => {
            let _s = Store::open(dir, &OpenOptions::default()).unwrap();
            writeln!(out, "OPEN").unwrap();
            out.flush().unwrap();
            std::thread::sleep(Duration::from_secs(30));
        }
        "writer" => {
            let policy = wfstore::SnapshotPolicy { every_events: 200, every: None, keep: 2 };
            let opts =
                OpenOptions { durability: Durability::Always, snapshots: Some(policy), read_only: false };
            let s = Store::open(dir, &opts).unwrap();
            let mut seq = s.last_seq();
            loop {
                let batch: Vec<_> = (seq + 1..=seq + 1 + seq % 3).map(|i| synthetic(SEED, i)).collect();
                let r = s.append_batch(&batch).unwrap();
                seq = r.end - 1;
                writeln!(out, "ACK {seq}").unwrap();
                out.flush().unwrap();
            }
        }
        other => panic!("unknown child role {other}"),
    }
}

fn spawn(role: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "process::child", "--nocapture", "--test-threads=1"])
        .env("WFSTORE_CHILD", role)
        .env("WFSTORE_CHILD_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Lines the child printed that start with one of our markers.
fn marked_lines(child: &mut Child) -> impl Iterator<Item = String> + use<> {
    BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter(|l| ["WON", "LOST", "OPEN", "ACK"].iter().any(|m| l.starts_with(m)))
}

fn snapshot(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_second_writer_is_refused_by_name_and_changes_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 100, SMALL_SEGMENT);
    let mut holder = spawn("hold", dir.path());
    let mut lines = marked_lines(&mut holder);
    assert_eq!(lines.next().as_deref(), Some("OPEN"));
    std::thread::sleep(Duration::from_millis(50));
    let before = snapshot(dir.path());
    let err = Store::open(dir.path(), &OpenOptions::default()).err().unwrap();
    let Error::Locked { holder: who, .. } = &err else { panic!("{err}") };
    assert_eq!(who, &format!("pid {}", holder.id()));
    assert_eq!(snapshot(dir.path()), before);
    // A reader is still welcome.
    assert_prefix(&open_ro(dir.path()).unwrap(), 100);
    // kill -9 leaves no lock behind.
    holder.kill().unwrap();
    holder.wait().unwrap();
    drop(lines);
    assert_prefix(&open(dir.path()), 100);
}

#[test]
fn two_processes_racing_to_open_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 10, SMALL_SEGMENT);
    for _ in 0..20 {
        let mut kids = [spawn("race", dir.path()), spawn("race", dir.path())];
        let outcomes: Vec<String> =
            kids.iter_mut().map(|k| marked_lines(k).collect::<Vec<_>>().concat()).collect();
        for k in &mut kids {
            assert!(k.wait().unwrap().success());
        }
        let won = outcomes.iter().filter(|o| *o == "WON").count();
        assert_eq!(won, 1, "{outcomes:?}");
        assert!(outcomes.iter().any(|o| o.starts_with("LOST") && o.contains("already open for writing by")));
    }
    assert_prefix(&open(dir.path()), 10);
}

#[test]
fn kill_9_of_a_writer_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut acked = 0u64;
    for round in 0..25 {
        let mut child = spawn("writer", dir.path());
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ACK ").and_then(|s| s.parse::<u64>().ok()))
                .max()
        });
        std::thread::sleep(Duration::from_millis(rng.u64(20..120)));
        child.kill().unwrap();
        child.wait().unwrap();
        let last_ack = reader.join().unwrap().unwrap_or(acked);
        acked = acked.max(last_ack);
        let s = open(dir.path());
        assert!(s.last_seq() >= acked, "round {round}: acked {acked}, recovered {}", s.last_seq());
        assert_prefix(&s, s.last_seq());
        // The writer snapshots in the background: a kill may land mid-snapshot.
        let (state, _) = s.state().unwrap();
        let events: Vec<_> = s.iter(1..=u64::MAX).map(|r| r.unwrap()).collect();
        let replayed = wfstore::state::EnergyState::replay(events.iter().map(|r| (r.seq, &r.event)));
        assert_eq!(state.hash(), replayed.hash(), "round {round}: recovered state != full replay");
        acked = s.last_seq();
        drop(s);
        let again = open(dir.path());
        assert_eq!(again.recovery_report().torn_tail, None, "round {round}: second open cut again");
        drop(again);
        assert!(wfstore::verify::verify(dir.path()).unwrap().is_clean());
    }
    assert!(acked > 100, "the writer made progress ({acked})");
    assert!(!open(dir.path()).snapshots().unwrap().is_empty(), "the writer took snapshots");
}
