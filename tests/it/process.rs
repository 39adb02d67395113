//! Tests that need other processes: the writer lock, held and raced for. The child is this
//! test binary, re-run with `WFSTORE_CHILD` naming its role. (kill -9 of a writer is the
//! crash-torture driver's job: `tests/it/torture.rs`.)

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use wfstore::{Error, OpenOptions, Store};

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
        "always-writer" => {
            let opts =
                OpenOptions { durability: wfstore::Durability::Always, read_only: false, snapshots: None };
            let s = Store::open(dir, &opts).unwrap();
            for b in 0..200u64 {
                let batch: Vec<_> =
                    (b * 3 + 1..=b * 3 + 3).map(|i| wfstore::sim::synthetic(SEED, i)).collect();
                match s.append_batch(&batch) {
                    Ok(r) => writeln!(out, "ACK {}", r.end - 1).unwrap(),
                    Err(e) => {
                        writeln!(out, "ERR {e}").unwrap();
                        let again = s.append_batch(&batch).map(|r| r.end);
                        writeln!(out, "AFTER {again:?}").unwrap();
                        writeln!(out, "FLUSH {:?}", s.flush()).unwrap();
                        break;
                    }
                }
            }
            out.flush().unwrap();
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
        .filter(|l| ["WON", "LOST", "OPEN", "ACK", "ERR", "AFTER", "FLUSH"].iter().any(|m| l.starts_with(m)))
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

/// The 10th `msync` fails with EIO (injected by strace): that append and every later one
/// fail, `flush` fails, nothing is retried into a false success; what was acknowledged
/// before is intact after a reopen.
#[test]
fn a_failed_sync_fails_the_waiter_and_poisons_the_store() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=msync", "-e", "inject=msync:error=EIO:when=10", "-o", "/dev/null"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "process::child", "--nocapture", "--test-threads=1"])
        .env("WFSTORE_CHILD", "always-writer")
        .env("WFSTORE_CHILD_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = child.expect("strace is needed for fault injection (apt-get install strace)");
    let lines: Vec<String> = marked_lines(&mut child).collect();
    assert!(child.wait().unwrap().success());
    let acks: Vec<&String> = lines.iter().filter(|l| l.starts_with("ACK")).collect();
    assert_eq!(acks.len(), 9, "{lines:?}");
    assert_eq!(acks[8].as_str(), "ACK 27");
    let rest: Vec<&String> = lines.iter().filter(|l| !l.starts_with("ACK")).collect();
    assert_eq!(rest.len(), 3, "{lines:?}");
    assert!(
        rest[0].starts_with("ERR ") && rest[0].contains("poisoned") && rest[0].contains("Input/output error"),
        "{rest:?}"
    );
    assert!(rest[1].starts_with("AFTER Err(Poisoned("), "{rest:?}");
    assert!(rest[2].starts_with("FLUSH Err(Poisoned("), "{rest:?}");
    let s = open(dir.path());
    assert!(s.last_seq() >= 27);
    assert_prefix(&s, s.last_seq());
}
