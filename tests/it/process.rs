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
            let opts = OpenOptions {
                durability: wfstore::Durability::Always,
                read_only: false,
                snapshots: None,
                ..OpenOptions::default()
            };
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
        "periodic-writer" => {
            let opts = OpenOptions {
                durability: wfstore::Durability::Periodic(Duration::from_millis(2)),
                snapshots: None,
                ..OpenOptions::default()
            };
            let s = Store::open(dir, &opts).unwrap();
            for i in 1..=20_000u64 {
                match s.append(&wfstore::sim::synthetic(SEED, i)) {
                    Ok(seq) => writeln!(out, "ACK {seq}").unwrap(),
                    Err(e) => {
                        writeln!(out, "ERR {e}").unwrap();
                        let again = s.append(&wfstore::sim::synthetic(SEED, i)).map(|_| ());
                        writeln!(out, "AFTER {again:?}").unwrap();
                        writeln!(out, "FLUSH {:?}", s.flush()).unwrap();
                        break;
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            out.flush().unwrap();
        }
        "always-appenders" => {
            let opts = OpenOptions {
                durability: wfstore::Durability::Always,
                snapshots: None,
                ..OpenOptions::default()
            };
            let s = Store::open(dir, &opts).unwrap();
            let appender = s.appender().unwrap();
            // 4 producers keep submissions in flight; each prints its outcome.
            let outcomes: Vec<Vec<String>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4u64)
                    .map(|t| {
                        let appender = appender.clone();
                        scope.spawn(move || {
                            // Two rounds: the second starts after a sync answered the first,
                            // so at least two syncs happen.
                            let mut lines = Vec::new();
                            for round in 0..2u64 {
                                let pending: Vec<_> = (0..100u64)
                                    .map(|k| {
                                        appender.submit(vec![wfstore::sim::synthetic(t, round * 100 + k)])
                                    })
                                    .collect();
                                lines.extend(pending.into_iter().map(|p| {
                                    match p.and_then(wfstore::Pending::wait) {
                                        Ok(r) => format!("ACK {} t{t}", r.start),
                                        Err(e) => format!("ERR t{t} {e}"),
                                    }
                                }));
                            }
                            lines
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for line in outcomes.concat() {
                writeln!(out, "{line}").unwrap();
            }
            writeln!(out, "FLUSH {:?}", appender.flush()).unwrap();
            out.flush().unwrap();
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Runs a child role under strace, failing `msync` calls as `inject` says; returns the
/// child's marked lines.
fn run_with_failing_msync(role: &str, dir: &Path, inject: &str) -> Vec<String> {
    let child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=msync", "-e", inject, "-o", "/dev/null"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "process::child", "--nocapture", "--test-threads=1"])
        .env("WFSTORE_CHILD", role)
        .env("WFSTORE_CHILD_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = child.expect("strace is needed for fault injection (apt-get install strace)");
    let lines: Vec<String> = marked_lines(&mut child).collect();
    assert!(child.wait().unwrap().success());
    lines
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
    let lines = run_with_failing_msync("always-writer", dir.path(), "inject=msync:error=EIO:when=10");
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

/// The periodic syncer's `msync` fails (the 3rd one, after the store is open): the store is
/// poisoned, so the next append, every later one and `flush` fail; nothing acknowledged
/// before is lost to a reopen (it is in the page cache: `Periodic` promises a process crash).
#[test]
fn a_failed_periodic_sync_poisons_the_store() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let lines = run_with_failing_msync("periodic-writer", dir.path(), "inject=msync:error=EIO:when=3");
    let acks = lines.iter().filter(|l| l.starts_with("ACK")).count() as u64;
    let rest: Vec<&String> = lines.iter().filter(|l| !l.starts_with("ACK")).collect();
    assert_eq!(rest.len(), 3, "{lines:?}");
    assert!(
        rest[0].starts_with("ERR ")
            && rest[0].contains("periodic msync")
            && rest[0].contains("Input/output error"),
        "{rest:?}"
    );
    assert!(rest[1].starts_with("AFTER Err(Poisoned("), "{rest:?}");
    assert!(rest[2].starts_with("FLUSH Err(Poisoned("), "{rest:?}");
    assert!(acks < 20_000, "the failure stopped the writer");
    assert_prefix(&open(dir.path()), acks);
}

/// With appender handles and group commit, the 2nd `msync` fails: every submission that
/// waited on it and every later one fails as poisoned (a producer never sees an ACK after
/// an error), and all acknowledged ones survive a reopen.
#[test]
fn a_failed_group_commit_fails_every_waiter() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let lines = run_with_failing_msync("always-appenders", dir.path(), "inject=msync:error=EIO:when=2");
    let acked: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ACK "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let errs: Vec<&String> = lines.iter().filter(|l| l.starts_with("ERR")).collect();
    assert_eq!(acked.len() + errs.len(), 800, "{lines:?}");
    for t in 0..4 {
        let tag = format!(" t{t}");
        let mine: Vec<&String> = lines.iter().filter(|l| l.contains(&tag)).collect();
        let first_err = mine.iter().position(|l| l.starts_with("ERR")).unwrap_or(mine.len());
        assert!(mine[first_err..].iter().all(|l| l.starts_with("ERR")), "producer {t}: {mine:?}");
    }
    assert!(!errs.is_empty() && errs.iter().all(|e| e.contains("poisoned")), "{errs:?}");
    assert!(lines.last().unwrap().starts_with("FLUSH Err(Poisoned("), "{lines:?}");
    let store = open(dir.path());
    let max_ack = acked.iter().copied().max().unwrap_or(0);
    assert!(store.last_seq() >= max_ack);
    for seq in acked {
        assert!(store.get(seq).unwrap().is_some(), "acknowledged seq {seq} lost");
    }
}
