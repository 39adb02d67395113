//! Backup and restore: online backups beside a writer restore to exactly the replayed
//! state at their seq; incremental backups copy only what changed; damaged backups are
//! refused by name and leave nothing behind; point-in-time restores stop at batch bounds;
//! tar, tar.zst and `--keep` rotation; the command line with `--json`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use wfstore::backup::{BackupFormat, BackupOptions, BackupReport, RestoreOptions, RestoreReport, restore};
use wfstore::disk::Disk;
use wfstore::sim::synthetic;
use wfstore::{Error, OpenOptions, ReplayTarget, SnapshotPolicy, Store};

use wfstore::event::Event;
use wfstore::sim::{SimConfig, Simulator};

use crate::util::{SEED, SMALL_SEGMENT, copy_dir, create, open, open_ro, open_with, store_with};

/// `n` simulated events (which `validate` accepts), appended in batches of 5.
fn sim_store(dir: &Path, n: usize) -> Vec<Event> {
    let events: Vec<Event> = Simulator::new(SimConfig { seed: 3, frames: 100_000, ..SimConfig::default() })
        .flatten()
        .take(n)
        .collect();
    assert_eq!(events.len(), n);
    create(dir, SMALL_SEGMENT);
    let store = open(dir);
    for batch in events.chunks(5) {
        store.append_batch(batch).unwrap();
    }
    store.close().unwrap();
    events
}

/// Asserts `dir` holds exactly `events`, seqs from 1.
fn assert_same(dir: &Path, events: &[Event]) {
    let s = open_ro(dir).unwrap();
    assert_eq!(s.last_seq(), events.len() as u64);
    for (rec, e) in s.iter(1..=u64::MAX).zip(events) {
        assert_eq!(&rec.unwrap().event, e);
    }
}

fn restore_all(src: &Path, dir: &Path) -> wfstore::Result<RestoreReport> {
    restore(src, dir, &RestoreOptions::default())
}

fn backup_with(store: &Store, dest: &Path, format: BackupFormat, keep: Option<usize>) -> BackupReport {
    store.backup_with(dest, &BackupOptions { format, keep, progress: None }).unwrap()
}

/// The state hash of `dir`'s store, opened read-only.
fn state_hash(dir: &Path) -> [u8; 32] {
    open_ro(dir).unwrap().state().unwrap().0.hash()
}

/// Asserts `dir` holds exactly synthetic events 1..=n.
fn assert_events(dir: &Path, n: u64) {
    let s = open_ro(dir).unwrap();
    assert_eq!(s.last_seq(), n);
    for (i, rec) in s.iter(1..=n).enumerate() {
        let rec = rec.unwrap();
        assert_eq!((rec.seq, &rec.event), (i as u64 + 1, &synthetic(SEED, i as u64 + 1)));
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_backup_beside_a_writer_appending_flat_out_restores_to_the_replay_at_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let opts = OpenOptions {
        snapshots: Some(SnapshotPolicy { every_events: 700, every: None, keep: 3, history: 0 }),
        ..OpenOptions::default()
    };
    let store = open_with(dir.path(), &opts).unwrap();
    for i in 1..=2000 {
        store.append(&synthetic(SEED, i)).unwrap();
    }
    store.snapshot_now(3).unwrap();
    let stop = AtomicBool::new(false);
    let appended = AtomicU64::new(2000);
    let dest = out.path().join("b");
    let report = std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 2001;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(store.append(&synthetic(SEED, i)).unwrap(), i);
                appended.store(i, Ordering::Relaxed);
                i += 1;
            }
        });
        // Let the writer get going, then back up while it runs.
        while appended.load(Ordering::Relaxed) < 2500 {
            std::thread::yield_now();
        }
        let r = store.backup_to(&dest).unwrap();
        let during = appended.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        (r, during)
    });
    let (report, during) = report;
    assert!(report.seq >= 2500 && report.seq <= during, "{} not in 2500..={during}", report.seq);
    assert!(report.verified && report.audited, "{report:?}");
    assert_eq!((report.files_reused, report.bytes_reused), (0, 0));
    let expected = store.replay_to(ReplayTarget::Seq(report.seq), None).unwrap().hash();
    assert!(store.last_seq() > report.seq, "the writer went on past the backup");
    // The source recorded the backup.
    let audit = wfstore::audit::read(&Disk::default(), dir.path()).unwrap();
    let rec = audit.records.last().unwrap().1;
    assert_eq!((rec.action, rec.seq_first, rec.seq_last), (wfstore::audit::Action::Backup, 1, report.seq));
    store.close().unwrap();

    // The backup itself opens as a store at exactly its seq, with no loss reported.
    let b = open_ro(&dest).unwrap();
    assert!(b.recovery_report().loss.is_none(), "{:?}", b.recovery_report());
    assert_eq!(b.last_seq(), report.seq);
    assert_eq!(b.state().unwrap().0.hash(), expected);
    drop(b);
    let v = wfstore::verify::verify(&dest).unwrap();
    assert!(v.is_clean(), "{v:?}");
    assert!(!dest.join("LOCK").exists() && !dest.join("PURGE").exists());
    assert!(names_in(&dest).iter().any(|n| n == "MANIFEST"));
    assert!(!names_in(&dest.join("snapshots")).is_empty(), "snapshots at or below the seq are copied");

    let target = out.path().join("restored");
    let r = restore_all(&dest, &target).unwrap();
    assert_eq!((r.seq, r.backup_seq, r.log_start), (report.seq, report.seq, 1));
    // Synthetic events break `validate`'s session rules: reported, not refused.
    assert!(r.verified && r.validated == Some(false) && r.violations > 0, "{r:?}");
    assert_eq!(state_hash(&target), expected);
    assert_events(&target, report.seq);
    // A writable open of the restored store finds it sound and goes on from its seq.
    let w = open(&target);
    assert!(w.recovery_report().loss.is_none());
    assert_eq!(w.append(&synthetic(SEED, report.seq + 1)).unwrap(), report.seq + 1);
    w.close().unwrap();
    let audit = wfstore::audit::read(&Disk::default(), &target).unwrap();
    let rec = audit.records.last().unwrap().1;
    assert_eq!((rec.action, rec.seq_first, rec.seq_last), (wfstore::audit::Action::Restore, 1, report.seq));
}

#[test]
fn an_incremental_backup_after_one_percent_new_events_copies_a_small_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let n = 20_000;
    store_with(dir.path(), n, SMALL_SEGMENT);
    let store = open(dir.path());
    let dest = out.path().join("b");
    let first = store.backup_to(&dest).unwrap();
    assert_eq!(first.bytes_copied, first.bytes);
    for i in n + 1..=n + n / 100 {
        store.append(&synthetic(SEED, i)).unwrap();
    }
    let second = store.backup_to(&dest).unwrap();
    assert_eq!(second.seq, n + n / 100);
    assert_eq!(second.bytes_copied + second.bytes_reused, second.bytes);
    assert_eq!(second.files_copied + second.files_reused, second.files);
    assert!(second.bytes_copied * 20 < second.bytes, "copied {} of {}", second.bytes_copied, second.bytes);
    assert!(second.files_reused > 30, "{second:?}");
    store.close().unwrap();
    let target = out.path().join("r");
    let r = restore_all(&dest, &target).unwrap();
    assert_eq!(r.seq, n + n / 100);
    assert_events(&target, n + n / 100);
}

/// A small store with a backup of it in `out/b`.
fn backed_up(out: &Path) -> (tempfile::TempDir, PathBuf, BackupReport) {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1500, SMALL_SEGMENT);
    let store = open(dir.path());
    store.snapshot_now(3).unwrap();
    let dest = out.join("b");
    let report = store.backup_to(&dest).unwrap();
    store.close().unwrap();
    (dir, dest, report)
}

/// Restores `src` into `out/target`, expecting damage named by `file`; nothing is left.
fn refused_naming(src: &Path, out: &Path, file: &str) {
    let target = out.join("target");
    match restore_all(src, &target) {
        Err(Error::Corrupt(c)) => {
            assert!(c.path.to_string_lossy().contains(file), "{} does not name {file}", c.path.display())
        }
        other => panic!("expected damage naming {file}, got {other:?}"),
    }
    assert!(!target.exists(), "nothing restored");
    assert!(!names_in(out).iter().any(|n| n.contains("tmp-restore")), "no staging left: {:?}", names_in(out));
}

#[test]
fn a_damaged_backup_is_refused_naming_the_file_and_nothing_is_left() {
    let out = tempfile::tempdir().unwrap();
    let (_src, dest, _) = backed_up(out.path());
    let variant = |name: &str| {
        let p = out.path().join(name);
        copy_dir(&dest, &p);
        p
    };
    // A flipped bit inside a segment.
    let flipped = variant("flipped");
    let seg = flipped.join("0000000002.seg");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[5000] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    refused_naming(&flipped, out.path(), "flipped/0000000002.seg");
    // A truncated file.
    let cut = variant("cut");
    let seg = cut.join("0000000001.seg");
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(1000).unwrap();
    refused_naming(&cut, out.path(), "cut/0000000001.seg");
    // A missing file.
    let missing = variant("missing");
    std::fs::remove_file(missing.join("0000000001.idx")).unwrap();
    refused_naming(&missing, out.path(), "missing/0000000001.idx");
    // A damaged manifest, and none at all.
    let bad = variant("bad");
    let mut m = std::fs::read(bad.join("MANIFEST")).unwrap();
    m[70] ^= 1;
    std::fs::write(bad.join("MANIFEST"), &m).unwrap();
    refused_naming(&bad, out.path(), "bad/MANIFEST");
    let none = variant("none");
    std::fs::remove_file(none.join("MANIFEST")).unwrap();
    refused_naming(&none, out.path(), "none/MANIFEST");

    // The command line: exit 3, the file named, nothing left.
    let target = out.path().join("target");
    let run =
        crate::cli::wf(out.path(), &["restore", flipped.to_str().unwrap(), target.to_str().unwrap()], None);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("0000000002.seg"), "{}", run.stderr);
    assert!(!target.exists());
}

#[test]
fn a_damaged_tar_is_refused_naming_the_entry() {
    let out = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 800, SMALL_SEGMENT);
    let store = open(dir.path());
    let tar = out.path().join("b.tar");
    backup_with(&store, &tar, BackupFormat::Tar, None);
    store.close().unwrap();
    let mut bytes = std::fs::read(&tar).unwrap();
    // Inside the first segment's data (after STORE's header and 8 KiB, and the segment's).
    let at = bytes.windows(8).position(|w| w == b"WFSEGMT\0").unwrap() + 3000;
    bytes[at] ^= 0x40;
    let bad = out.path().join("bad.tar");
    std::fs::write(&bad, &bytes).unwrap();
    refused_naming(&bad, out.path(), "bad.tar/0000000001.seg");
    let short = out.path().join("short.tar");
    std::fs::write(&short, &std::fs::read(&tar).unwrap()[..20_000]).unwrap();
    refused_naming(&short, out.path(), "short.tar");
}

#[test]
fn restore_refuses_a_non_empty_target_and_a_live_store() {
    let out = tempfile::tempdir().unwrap();
    let (src, dest, _) = backed_up(out.path());
    let busy = out.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), b"mine").unwrap();
    assert!(matches!(restore_all(&dest, &busy), Err(Error::RestoreTarget { .. })));
    assert_eq!(std::fs::read(busy.join("notes.txt")).unwrap(), b"mine");
    let live = open(src.path());
    let before = names_in(src.path());
    match restore_all(&dest, src.path()) {
        Err(Error::RestoreTarget { why, .. }) => assert!(why.contains("store"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(names_in(src.path()), before);
    assert_eq!(live.last_seq(), 1500);
    live.close().unwrap();
    // A live store is not a backup either.
    assert!(matches!(restore_all(src.path(), &out.path().join("x")), Err(Error::NotABackup { .. })));
    // An empty directory is fine.
    let empty = out.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(restore_all(&dest, &empty).unwrap().seq, 1500);
    assert_events(&empty, 1500);
}

#[test]
fn a_point_in_time_restore_equals_the_replay_and_refuses_a_seq_inside_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let events = sim_store(dir.path(), 2000);
    let store = open(dir.path());
    store.snapshot_now(5).unwrap();
    let dest = out.path().join("b");
    store.backup_to(&dest).unwrap();
    for to in [700u64, 1995, 5] {
        let target = out.path().join(format!("r{to}"));
        let r = restore(&dest, &target, &RestoreOptions { to_seq: Some(to), ..RestoreOptions::default() })
            .unwrap();
        assert_eq!((r.seq, r.backup_seq, r.events), (to, 2000, to));
        assert!(r.verified && r.validated == Some(true), "{r:?}");
        assert!(r.cut.iter().any(|c| c.starts_with("snapshots/")), "the snapshot at 2000 went: {:?}", r.cut);
        assert_eq!(state_hash(&target), store.replay_to(ReplayTarget::Seq(to), None).unwrap().hash());
        assert_same(&target, &events[..to as usize]);
        assert!(wfstore::verify::verify(&target).unwrap().is_clean());
        let v = wfstore::validate::validate(&open_ro(&target).unwrap()).unwrap();
        assert!(v.is_valid(), "{:?}", v.violations);
    }
    let target = out.path().join("mid");
    match restore(&dest, &target, &RestoreOptions { to_seq: Some(702), ..RestoreOptions::default() }) {
        Err(Error::MidBatch { seq, first, last }) => assert_eq!((seq, first, last), (702, 701, 705)),
        other => panic!("{other:?}"),
    }
    assert!(!target.exists());
    let past = restore(&dest, &target, &RestoreOptions { to_seq: Some(2001), ..RestoreOptions::default() });
    assert!(matches!(past, Err(Error::InvalidOption(_))), "{past:?}");
    store.close().unwrap();
}

#[test]
fn tar_and_tar_zst_round_trip_and_keep_rotates_to_exactly_n() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1200, SMALL_SEGMENT);
    let store = open(dir.path());
    for name in ["b.tar", "b.tar.zst"] {
        let tar = out.path().join(name);
        let r = backup_with(&store, &tar, BackupFormat::Tar, None);
        assert_eq!((r.seq, r.format.as_str()), (1200, name.strip_prefix("b.").unwrap()));
        assert!(r.verified && tar.is_file());
        let target = out.path().join(format!("r-{name}"));
        assert_eq!(restore_all(&tar, &target).unwrap().seq, 1200);
        assert_events(&target, 1200);
    }
    let plain = std::fs::metadata(out.path().join("b.tar")).unwrap().len();
    let zst = std::fs::metadata(out.path().join("b.tar.zst")).unwrap().len();
    assert!(zst * 2 < plain, "zstd compresses: {zst} vs {plain}");

    let root = out.path().join("rot");
    let mut last = None;
    for k in 0..4u64 {
        store.append(&synthetic(SEED, 1201 + k)).unwrap();
        let r = backup_with(&store, &root, BackupFormat::Dir, Some(2));
        assert_eq!(r.rotated_out.len(), usize::from(k >= 2), "{r:?}");
        if k > 0 {
            assert!(r.files_reused > 0 && r.bytes_copied * 4 < r.bytes, "{r:?}");
        }
        last = Some(r);
    }
    let kept = names_in(&root);
    assert_eq!(kept.len(), 2, "{kept:?}");
    let last = last.unwrap();
    assert!(kept.iter().all(|n| n.starts_with("wfstore-") && n.contains("-seq")), "{kept:?}");
    assert!(last.path.ends_with(kept.last().unwrap()) && kept.last().unwrap().ends_with("-seq1204"));
    // The root restores its newest backup.
    let target = out.path().join("r-rot");
    assert_eq!(restore_all(&root, &target).unwrap().seq, 1204);
    // Tar rotation too.
    let troot = out.path().join("trot");
    for _ in 0..3 {
        backup_with(&store, &troot, BackupFormat::Tar, Some(1));
    }
    let kept = names_in(&troot);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].ends_with(".tar.zst"));
    store.close().unwrap();
}

#[test]
fn a_read_only_handle_backs_up_a_store_another_handle_is_writing_to() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1000, SMALL_SEGMENT);
    let writer = open(dir.path());
    for i in 1001..=1500 {
        writer.append(&synthetic(SEED, i)).unwrap();
    }
    writer.flush().unwrap();
    // The high-water mark is written after a sync, at most every 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(250));
    let reader = open_ro(dir.path()).unwrap();
    let dest = out.path().join("b");
    let stop = AtomicBool::new(false);
    let report = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut i = 1501;
            while !stop.load(Ordering::Relaxed) && i < 20_000 {
                writer.append(&synthetic(SEED, i)).unwrap();
                i += 1;
            }
        });
        let r = reader.backup_to(&dest).unwrap();
        stop.store(true, Ordering::Relaxed);
        h.join().unwrap();
        r
    });
    assert!(report.seq >= 1000 && report.seq <= reader.last_seq(), "{report:?}");
    assert!(!report.audited && report.notes.iter().any(|n| n.contains("read-only")), "{report:?}");
    let target = out.path().join("r");
    let r = restore_all(&dest, &target).unwrap();
    assert_eq!(r.seq, report.seq);
    assert_eq!(state_hash(&target), writer.replay_to(ReplayTarget::Seq(report.seq), None).unwrap().hash());
    assert_events(&target, report.seq);
    writer.close().unwrap();
    // No backup record in the source from the read-only handle.
    let audit = wfstore::audit::read(&Disk::default(), dir.path()).unwrap();
    assert!(audit.records.iter().all(|(_, r)| r.action != wfstore::audit::Action::Backup));
}

#[test]
fn a_backup_refuses_a_destination_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    store_with(dir.path(), 100, SMALL_SEGMENT);
    store_with(other.path(), 100, SMALL_SEGMENT);
    let store = open(dir.path());
    // Not onto a store, not onto a directory of other files, not onto another store's backup.
    assert!(matches!(store.backup_to(other.path()), Err(Error::BackupTarget { .. })));
    let busy = tempfile::tempdir().unwrap();
    std::fs::write(busy.path().join("x"), b"x").unwrap();
    assert!(matches!(store.backup_to(busy.path()), Err(Error::BackupTarget { .. })));
    let out = tempfile::tempdir().unwrap();
    let o = open(other.path());
    o.backup_to(out.path().join("b")).unwrap();
    o.close().unwrap();
    match store.backup_to(out.path().join("b")) {
        Err(Error::BackupTarget { why, .. }) => assert!(why.contains("another store"), "{why}"),
        other => panic!("{other:?}"),
    }
    store.close().unwrap();
}

#[test]
fn the_backup_and_restore_commands_print_json_and_use_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let events = sim_store(dir.path(), 900);
    let dest = out.path().join("b");
    let wf = |args: &[&str]| crate::cli::wf(dir.path(), args, None);
    let run = wf(&["--json", "backup", dest.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        (v["seq"].as_u64(), v["verified"].as_bool(), v["audited"].as_bool()),
        (Some(900), Some(true), Some(true))
    );
    assert_eq!(v["format"], "dir");
    assert_eq!(v["bytes_copied"], v["bytes"]);
    let again = wf(&["--json", "backup", dest.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(again.stdout.trim()).unwrap();
    assert!(v["bytes_copied"].as_u64().unwrap() < v["bytes"].as_u64().unwrap() / 10, "{v}");

    let tar = out.path().join("b.tar.zst");
    let run = wf(&["backup", tar.to_str().unwrap(), "--format", "tar"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("backup of seq 900 written to"), "{}", run.stdout);

    let target = out.path().join("r");
    let run = wf(&["--json", "restore", tar.to_str().unwrap(), target.to_str().unwrap(), "--to-seq", "450"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        (v["seq"].as_u64(), v["backup_seq"].as_u64(), v["verified"].as_bool()),
        (Some(450), Some(900), Some(true))
    );
    assert_eq!(v["validated"], true);
    assert_same(&target, &events[..450]);

    // A non-empty target: exit 1, said plainly.
    let run = wf(&["restore", dest.to_str().unwrap(), target.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("a restore never overwrites"), "{}", run.stderr);
    // Usage errors are clap's 2.
    assert_eq!(wf(&["backup", dest.to_str().unwrap(), "--format", "zip"]).code, 2);

    // Beside a live writer (this process holds the lock), the command backs up read-only.
    let live = open(dir.path());
    let beside = out.path().join("beside");
    let run = wf(&["--json", "backup", beside.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!((v["seq"].as_u64(), v["audited"].as_bool()), (Some(900), Some(false)));
    live.close().unwrap();
}

#[test]
fn a_backup_refuses_a_store_with_a_pending_purge() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    store_with(dir.path(), 300, SMALL_SEGMENT);
    let reader = open_ro(dir.path()).unwrap();
    // A purge in another process past its commit point: its journal is there.
    std::fs::write(dir.path().join("PURGE"), b"journal").unwrap();
    let dest = out.path().join("b");
    assert!(matches!(reader.backup_to(&dest), Err(Error::PurgePending { .. })));
    assert!(!dest.exists(), "nothing written");
    assert!(names_in(out.path()).is_empty(), "no staging left: {:?}", names_in(out.path()));
}

#[test]
fn an_empty_store_backs_up_and_restores_as_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let store = open(dir.path());
    let report = store.backup_to(out.path().join("b")).unwrap();
    assert_eq!((report.seq, report.log_start), (0, 1));
    store.close().unwrap();
    let target = out.path().join("r");
    let r = restore_all(&out.path().join("b"), &target).unwrap();
    assert_eq!((r.seq, r.events), (0, 0));
    let w = open(&target);
    assert_eq!(w.last_seq(), 0);
    assert_eq!(w.append(&synthetic(SEED, 1)).unwrap(), 1);
    w.close().unwrap();
}

#[test]
fn a_store_after_retention_backs_up_and_restores_from_its_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    store_with(dir.path(), 3000, SMALL_SEGMENT);
    let store = open(dir.path());
    let kept = store.retain(wfstore::RetainRule::BeforeSeq(2000)).unwrap();
    assert!(kept.new_start > 1);
    for i in 3001..=3200 {
        store.append(&synthetic(SEED, i)).unwrap();
    }
    let dest = out.path().join("b");
    let report = store.backup_to(&dest).unwrap();
    assert_eq!((report.seq, report.log_start), (3200, kept.new_start));
    let target = out.path().join("r");
    let r = restore_all(&dest, &target).unwrap();
    assert_eq!((r.seq, r.log_start), (3200, kept.new_start));
    assert_eq!(state_hash(&target), store.state().unwrap().0.hash());
    // Point in time after the base snapshot (3000) works; before it there is no state.
    let pit = out.path().join("pit");
    let opts = RestoreOptions { to_seq: Some(3100), ..RestoreOptions::default() };
    assert_eq!(restore(&dest, &pit, &opts).unwrap().seq, 3100);
    assert_eq!(state_hash(&pit), store.replay_to(ReplayTarget::Seq(3100), None).unwrap().hash());
    let early = RestoreOptions { to_seq: Some(2500), ..RestoreOptions::default() };
    match restore(&dest, &out.path().join("early"), &early) {
        Err(Error::BeforeLogStart { seq, first }) => assert_eq!((seq, first), (2500, 3000)),
        other => panic!("{other:?}"),
    }
    assert!(!out.path().join("early").exists());
    store.close().unwrap();
}
