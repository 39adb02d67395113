//! Durable evidence outranks the scan (formats/recovery.md): regression tests for every
//! way the round-1 store lost, hid or invented acknowledged data under damage. Each builds a
//! cleanly closed store (so its whole log was durable), damages it as a hostile disk would,
//! and asserts the exact outcome: refused with its location, nothing removed, no seq reused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wfstore::disk::{Disk, OpKind};
use wfstore::faultsim::inject::{EIO, ENOSPC, Fault, Faults};
use wfstore::meta::StoreFile;
use wfstore::sim::synthetic;
use wfstore::verify::verify;
use wfstore::{Durability, Error, OpenOptions, SnapshotPolicy, Store};

use crate::cli::{check, wf};
use crate::util::*;

/// Events in the test store: seven 64 KiB segments.
const N: u64 = 4500;

fn seven_segments() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), N, SMALL_SEGMENT);
    assert!(data_segments(dir.path()).len() >= 7, "the test needs seven segments");
    dir
}

/// Every file under `dir` (but `LOCK`, which names its last holder) and a hash of its bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.ends_with("LOCK") {
            let bytes = std::fs::read(&p).unwrap();
            out.push((p.clone(), crc32fast::hash(&bytes) as u64 | (bytes.len() as u64) << 32));
        }
    }
    out.sort();
    out
}

fn records_in(segs: &[PathBuf]) -> u64 {
    segs.iter().map(|s| frame_offsets(s).len() as u64).sum()
}

/// The store refuses a writer (locating the damage in `path` at `offset`) and changes no
/// byte, a reader serves exactly `kept` events and reports the loss, and `verify` exits 3.
fn assert_refused_and_untouched(dir: &Path, path: &Path, offset: u64, kept: u64) {
    let before = tree(dir);
    let Err(Error::Corrupt(c)) = open_with(dir, &OpenOptions::default()) else {
        panic!("a writer opened it")
    };
    assert_eq!((c.path.as_path(), c.offset), (path, offset), "{}", c.what);
    assert!(c.what.contains(&format!("seqs {}..={N} missing", kept + 1)), "{}", c.what);
    assert!(tree(dir) == before, "a refused open changed bytes");
    let r = wf(dir, &["append"], Some(b""));
    check(&r, 3);
    assert!(tree(dir) == before, "a refused append changed bytes");
    let s = open_ro(dir).unwrap();
    assert_prefix(&s, kept);
    let loss = s.recovery_report().loss.clone().unwrap();
    assert_eq!((loss.last_seq, loss.durable), (kept, N));
    drop(s);
    let v = verify(dir).unwrap();
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    check(&wf(dir, &["verify"], None), 3);
}

#[test]
fn a_zeroed_first_page_of_a_middle_segment_is_refused_and_removes_nothing() {
    let dir = seven_segments();
    let segs = data_segments(dir.path());
    let kept = records_in(&segs[..2]);
    write_zeros(&segs[2], 0, 4096);
    assert_refused_and_untouched(dir.path(), &segs[2], 0, kept);
}

#[test]
fn an_empty_middle_segment_file_is_refused_and_removes_nothing() {
    let dir = seven_segments();
    let segs = data_segments(dir.path());
    let kept = records_in(&segs[..2]);
    std::fs::File::create(&segs[2]).unwrap();
    assert_refused_and_untouched(dir.path(), &segs[2], 0, kept);
}

#[test]
fn a_zeroed_first_segment_does_not_reset_the_store() {
    let dir = seven_segments();
    let segs = data_segments(dir.path());
    write_zeros(&segs[0], 0, 4096);
    assert_refused_and_untouched(dir.path(), &segs[0], 0, 0);
}

#[test]
fn a_fifo_or_a_symlink_under_a_segment_name_is_refused_at_once() {
    let dir = seven_segments();
    let segs = data_segments(dir.path());
    let fifo = dir.path().join("0000000099.seg");
    rustix::fs::mknodat(rustix::fs::CWD, &fifo, rustix::fs::FileType::Fifo, 0o600.into(), 0).unwrap();
    let started = std::time::Instant::now();
    let Err(Error::Corrupt(c)) = open_ro(dir.path()) else { panic!("a FIFO was accepted") };
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the open hung");
    assert_eq!(
        (c.path.as_path(), c.what.as_str()),
        (fifo.as_path(), "a FIFO where the store keeps a regular file")
    );
    std::fs::remove_file(&fifo).unwrap();
    let moved = dir.path().join("elsewhere.seg");
    std::fs::rename(&segs[3], &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &segs[3]).unwrap();
    let Err(Error::Corrupt(c)) = open_ro(dir.path()) else { panic!("a symlink was accepted") };
    assert_eq!(
        (c.path.as_path(), c.what.as_str()),
        (segs[3].as_path(), "a symbolic link where the store keeps a regular file")
    );
}

#[test]
fn a_flipped_bit_in_the_last_record_is_loss_not_a_torn_tail() {
    let dir = seven_segments();
    let tail = data_segments(dir.path()).pop().unwrap();
    let &(at, _) = frame_offsets(&tail).last().unwrap();
    flip_bit(&tail, at as u64 + 40);
    assert_refused_and_untouched(dir.path(), &tail, at as u64, N - 1);
}

#[test]
fn a_zeroed_last_page_is_loss_not_a_torn_tail() {
    let dir = seven_segments();
    let tail = data_segments(dir.path()).pop().unwrap();
    let frames = frame_offsets(&tail);
    let &(last_at, last_len) = frames.last().unwrap();
    let page = (last_at + last_len - 1) / 4096 * 4096;
    write_zeros(&tail, page as u64, 4096);
    let first_hit = frames.iter().position(|&(a, l)| a + l > page).unwrap();
    let kept = N - (frames.len() - first_hit) as u64;
    assert_refused_and_untouched(dir.path(), &tail, frames[first_hit].0 as u64, kept);
}

#[test]
fn a_deleted_or_older_last_segment_is_loss() {
    let dir = seven_segments();
    let segs = data_segments(dir.path());
    let tail = segs.last().unwrap();
    let kept = N - frame_offsets(tail).len() as u64;
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), copy.path());
    let gone = copy.path().join(tail.file_name().unwrap());
    std::fs::remove_file(&gone).unwrap();
    assert_refused_and_untouched(copy.path(), &gone, 0, kept);

    // An older copy of the last segment, taken 20 events earlier and put back.
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), N - 20, SMALL_SEGMENT);
    let tail = data_segments(dir.path()).pop().unwrap();
    let older = std::fs::read(&tail).unwrap();
    let s = open(dir.path());
    for i in N - 19..=N {
        s.append(&synthetic(SEED, i)).unwrap();
    }
    s.close().unwrap();
    assert_eq!(data_segments(dir.path()).pop().unwrap(), tail, "the 20 events fit the same segment");
    std::fs::write(&tail, older).unwrap();
    let end = frame_offsets(&tail).last().map(|(a, l)| (a + l) as u64).unwrap();
    assert_refused_and_untouched(dir.path(), &tail, end, N - 20);
}

#[test]
fn no_seq_that_was_durable_is_ever_handed_out_again() {
    let dir = seven_segments();
    let tail = data_segments(dir.path()).pop().unwrap();
    let &(at, _) = frame_offsets(&tail).last().unwrap();
    flip_bit(&tail, at as u64 + 33);
    // Every writer refuses, however often it is asked.
    for _ in 0..3 {
        assert!(matches!(open_with(dir.path(), &OpenOptions::default()), Err(Error::Corrupt(_))));
    }
    let s = open_ro(dir.path()).unwrap();
    assert_eq!(s.last_seq(), N - 1);
}

#[test]
fn a_real_torn_tail_past_the_last_sync_is_cut_and_reported() {
    let dir = seven_segments();
    let tail = data_segments(dir.path()).pop().unwrap();
    unsynced_after(dir.path(), N - 2);
    let &(at, len) = frame_offsets(&tail).last().unwrap();
    truncate_to(&tail, (at + len / 2) as u64);
    let r = wf(dir.path(), &["append"], Some(b""));
    check(&r, 0);
    assert!(
        r.stderr.contains(&format!("wfstore: warning: torn tail in {} at offset {at}", tail.display())),
        "{}",
        r.stderr
    );
    assert_prefix(&open(dir.path()), N - 1);
}

/// Found by the power-loss campaign (seed 1, workload 3648065505293653075): a batch ran
/// from segment 1 into segment 2, segment 1 was sealed (synced and indexed), and the power
/// went before the batch's end in segment 2 was synced. The batch was never committed: it is
/// cut out of the sealed segment, which becomes the tail again (recovery used to refuse the
/// store as corrupt).
#[test]
fn a_lost_batch_end_past_a_sealed_segment_cuts_the_batch_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    for i in 1..=100 {
        s.append(&synthetic(SEED, i)).unwrap();
    }
    let batch: Vec<_> = (101..=800).map(|i| synthetic(SEED, i)).collect();
    s.append_batch(&batch).unwrap();
    s.close().unwrap();
    let segs = data_segments(dir.path());
    assert_eq!(segs.len(), 2, "the batch must run from segment 1 into segment 2");
    assert!(segs[0].with_extension("idx").exists(), "segment 1 must be sealed");
    // Only the first 100 were synced: the high-water mark says so, segment 2 has no index,
    // and the batch's last frame is torn.
    let disk = Disk::default();
    let file = StoreFile::load(&disk, dir.path()).unwrap();
    let marks = wfstore::meta::Marks { high_water: 100, ..file.marks };
    StoreFile::publish(&disk, dir.path(), &file.meta, marks, file.generation + 1).unwrap();
    let _ = std::fs::remove_file(segs[1].with_extension("idx"));
    let &(at, len) = frame_offsets(&segs[1]).last().unwrap();
    flip_bit(&segs[1], (at + len - 1) as u64);

    let r = wf(dir.path(), &["append"], Some(b""));
    check(&r, 0);
    assert!(
        r.stderr.contains("a batch that was never committed (seqs 101..=799) was discarded"),
        "{}",
        r.stderr
    );
    let (a, l) = frame_offsets(&segs[0])[99];
    let torn = format!("torn tail in {} at offset {}", segs[0].display(), a + l);
    let lost = format!("(the log breaks in {} at offset {at}: ", segs[1].display());
    assert!(r.stderr.contains(&torn) && r.stderr.contains(&lost), "{}", r.stderr);
    assert_eq!(data_segments(dir.path()), segs[..1]);
    assert!(!segs[0].with_extension("idx").exists(), "the tail's stale index must go");
    let s = open(dir.path());
    assert_prefix(&s, 100);
    assert_eq!(s.append(&synthetic(SEED, 101)).unwrap(), 101);
    s.close().unwrap();
    check(&wf(dir.path(), &["verify"], None), 0);
}

#[test]
fn a_stale_snapshot_of_another_history_is_never_used_and_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let s = open(dir.path());
    for i in 1..=300 {
        s.append(&synthetic(1, i)).unwrap();
    }
    let snap = s.snapshot_now(3).unwrap();
    s.close().unwrap();
    // The same seqs written again with other events (as after a loss the old store let a
    // writer reuse them): the snapshot now describes another history.
    let kept_aside = dir.path().join("aside.wfsnap");
    std::fs::rename(&snap.path, &kept_aside).unwrap();
    unsynced_after(dir.path(), 250);
    let tail = data_segments(dir.path()).pop().unwrap();
    let frames = frame_offsets(&tail);
    let keep = frames.len() - 50;
    truncate_to(&tail, frames[keep].0 as u64);
    let s = open(dir.path());
    assert_eq!(s.last_seq(), 250);
    for i in 251..=400 {
        s.append(&synthetic(2, i)).unwrap();
    }
    s.close().unwrap();
    std::fs::rename(&kept_aside, &snap.path).unwrap();

    let replay = |args: &[&str]| {
        let r = wf(dir.path(), args, None);
        check(&r, 0);
        serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()["hash"].clone()
    };
    let s = open_ro(dir.path()).unwrap();
    let mut full = wfstore::state::EnergyState::default();
    for r in s.iter(1..=300) {
        let r = r.unwrap();
        full.apply(r.seq, &r.event);
    }
    drop(s);
    assert_eq!(replay(&["replay", "--json", "--to-seq", "300"]), serde_json::json!(full.hash_hex()));
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert!(v.problems[0].what.contains("does not bind"), "{}", v.problems[0].what);
    let s = open(dir.path());
    assert_eq!(s.recovery_report().removed_snapshots.len(), 1);
    drop(s);
    assert!(!snap.path.exists());
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn under_none_a_snapshot_never_covers_events_not_yet_synced() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), 64 << 20);
    let opts = OpenOptions {
        durability: Durability::None,
        snapshots: Some(SnapshotPolicy { every_events: 1, every: None, keep: 3, history: 0 }),
        ..OpenOptions::default()
    };
    let s = open_with(dir.path(), &opts).unwrap();
    for i in 1..=100 {
        s.append(&synthetic(1, i)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(s.durable_seq(), 0, "nothing was synced");
    assert!(s.snapshots().unwrap().is_empty(), "a snapshot covers unsynced events");
    s.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // It catches up one step (here one event) at a time, a snapshot after each.
    let newest = || s.snapshots().unwrap().last().map(|i| i.seq);
    while newest() != Some(100) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(newest(), Some(100));
}

#[test]
fn an_over_long_active_segment_is_cut_back_and_never_written_past() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 1000, SMALL_SEGMENT);
    let tail = data_segments(dir.path()).pop().unwrap();
    let mut rng = fastrand::Rng::with_seed(4);
    let junk: Vec<u8> = (0..1 << 20).map(|_| rng.u8(..)).collect();
    let mut f = std::fs::OpenOptions::new().append(true).open(&tail).unwrap();
    std::io::Write::write_all(&mut f, &junk).unwrap();
    drop(f);
    let s = open(dir.path());
    assert_eq!(s.recovery_report().trimmed, vec![tail.clone()]);
    for i in 1001..=15_000 {
        s.append(&synthetic(SEED, i)).unwrap();
    }
    s.close().unwrap();
    for seg in segments(dir.path()) {
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), SMALL_SEGMENT, "{}", seg.display());
    }
    assert_prefix(&open(dir.path()), 15_000);
    assert!(verify(dir.path()).unwrap().is_clean());
}

#[test]
fn after_a_failed_periodic_sync_nothing_moves_the_durable_seq() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let faults = Arc::new(Faults::new());
    let opts = OpenOptions {
        durability: Durability::Periodic(std::time::Duration::from_millis(2)),
        snapshots: Some(SnapshotPolicy { every_events: 10, every: None, keep: 100, history: 0 }),
        disk: Disk::hooked(faults.clone()),
        ..OpenOptions::default()
    };
    let s = open_with(dir.path(), &opts).unwrap();
    // The 20th msync fails once: a retry would succeed, so only poison keeps it honest.
    faults.set(Some(Fault { kind: OpKind::SyncRange, nth: 20, forever: false, errno: EIO }));
    let mut frame = 0;
    while !faults.fired() {
        frame += 1;
        let deadline = std::time::Instant::now();
        let _ = s.commit_frame(frame, &[synthetic(1, frame)], deadline);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let (durable, durable_frame) = (s.durable_seq(), s.durable_frame());
    let snaps = s.snapshots().unwrap();
    let marks = StoreFile::load(&Disk::default(), dir.path()).unwrap().marks;
    for _ in 0..50 {
        frame += 1;
        assert!(matches!(
            s.commit_frame(frame, &[synthetic(1, frame)], std::time::Instant::now()),
            Err(Error::Poisoned(_))
        ));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(matches!(s.flush(), Err(Error::Poisoned(_))));
    assert_eq!((s.durable_seq(), s.durable_frame()), (durable, durable_frame));
    let stats = s.stats().unwrap();
    assert!(stats.poisoned);
    assert_eq!((stats.durable_seq, stats.durable_lag), (durable, stats.last_seq - durable));
    assert_eq!(s.snapshots().unwrap(), snaps);
    assert_eq!(StoreFile::load(&Disk::default(), dir.path()).unwrap().marks, marks);
    assert!(marks.high_water <= durable);
    drop(s);
    let s = open(dir.path());
    assert!(s.last_seq() >= durable);
}

#[test]
fn a_wrong_sparse_offset_in_a_valid_index_is_rebuilt_not_blamed_on_the_log() {
    let dir = seven_segments();
    let segs = data_segments(dir.path());
    let idx = segs[2].with_extension("idx");
    let mut bytes = std::fs::read(&idx).unwrap();
    // Sparse entry 1's offset (after the 64-byte header and the u32 count), CRCs redone.
    let at = 64 + 4 + 12;
    let off = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    bytes[at..at + 4].copy_from_slice(&(off + 7).to_le_bytes());
    let body_end = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[64..body_end]);
    bytes[body_end..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&idx, &bytes).unwrap();
    let base = records_in(&segs[..2]);
    let from = base + 70;
    let r = wf(dir.path(), &["tail", "--from", &from.to_string()], None);
    check(&r, 0);
    assert_eq!(r.stdout.lines().count() as u64, N - from + 1);
    let s = open(dir.path());
    assert_eq!(s.get(from).unwrap().unwrap().seq, from);
    assert!(s.warnings().iter().any(|w| w.contains("rebuilt index")), "{:?}", s.warnings());
}

#[test]
fn one_flipped_bit_in_store_leaves_the_store_readable_and_is_rewritten() {
    let dir = seven_segments();
    let store = dir.path().join("STORE");
    let original = std::fs::read(&store).unwrap();
    let mut rng = fastrand::Rng::with_seed(9);
    for _ in 0..32 {
        let copy = rng.usize(..2);
        let bit = copy * 4096 * 8 + rng.usize(..64 * 8);
        let mut b = original.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&store, &b).unwrap();
        assert_prefix(&open_ro(dir.path()).unwrap(), N);
        let v = verify(dir.path()).unwrap();
        assert!(v.problems.iter().any(|p| p.what.contains(["copy A", "copy B"][copy])), "{:?}", v.problems);
        drop(open(dir.path()));
        assert!(verify(dir.path()).unwrap().is_clean(), "bit {bit}");
    }
}

#[test]
fn store_values_out_of_range_or_disagreeing_with_segments_are_refused() {
    let dir = seven_segments();
    let disk = Disk::default();
    let f = StoreFile::load(&disk, dir.path()).unwrap();
    let huge = wfstore::meta::StoreMeta { segment_bytes: 8 << 30, ..f.meta };
    StoreFile::publish(&disk, dir.path(), &huge, f.marks, f.generation + 1).unwrap();
    assert!(matches!(open_ro(dir.path()), Err(Error::Corrupt(_))), "an 8 GiB segment size was accepted");
    let other = wfstore::meta::StoreMeta { segment_bytes: 128 << 10, ..f.meta };
    StoreFile::publish(&disk, dir.path(), &other, f.marks, f.generation + 2).unwrap();
    let Err(Error::Corrupt(c)) = open_ro(dir.path()) else { panic!("a size that disagrees was accepted") };
    assert!(c.what.contains("segment size 65536 but the store's is 131072"), "{}", c.what);
}

#[test]
fn the_largest_segment_keeps_every_offset_in_a_u32() {
    use wfstore::limits::{SEGMENT_BYTES_MAX, segment_bytes_ok};
    assert_eq!(SEGMENT_BYTES_MAX, 0xFFFF_F000);
    assert!(segment_bytes_ok(SEGMENT_BYTES_MAX));
    assert!(!segment_bytes_ok(1 << 32));
    assert!(!segment_bytes_ok(SEGMENT_BYTES_MAX + 4096));
    assert!(!segment_bytes_ok((64 << 10) + 1));
    let dir = tempfile::tempdir().unwrap();
    let opts = wfstore::CreateOptions { segment_bytes: 1 << 32, ..wfstore::CreateOptions::default() };
    assert!(matches!(Store::create(dir.path(), &opts), Err(Error::InvalidOption(_))));
}

#[test]
fn a_failed_roll_in_a_batch_stores_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 100, SMALL_SEGMENT);
    let faults = Arc::new(Faults::new());
    let opts = OpenOptions {
        durability: Durability::None,
        snapshots: None,
        disk: Disk::hooked(faults.clone()),
        ..OpenOptions::default()
    };
    let s = open_with(dir.path(), &opts).unwrap();
    faults.set(Some(Fault { kind: OpKind::Preallocate, nth: 1, forever: true, errno: ENOSPC }));
    let batch: Vec<_> = (101..=3000).map(|i| synthetic(SEED, i)).collect();
    let e = s.append_batch(&batch).unwrap_err();
    assert!(e.to_string().contains("No space left on device"), "{e}");
    assert_eq!(s.last_seq(), 100);
    assert_prefix(&s, 100);
    faults.set(None);
    assert_eq!(s.append_batch(&batch).unwrap(), 101..3001);
    drop(s);
    assert_prefix(&open(dir.path()), 3000);
}

#[test]
fn an_event_no_segment_can_hold_is_refused_with_its_size_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let mut lines = String::new();
    for i in 1..=2000 {
        lines.push_str(&wfstore::event::to_json_line(i, &synthetic(SEED, i)));
        lines.push('\n');
    }
    let target = "t".repeat(100_000);
    lines.push_str(&format!(
        r#"{{"session":"s","user":"u","type":"user.action","data":{{"action":"a","target":"{target}"}}}}"#
    ));
    lines.push('\n');
    let r = wf(dir.path(), &["append"], Some(lines.as_bytes()));
    check(&r, 1);
    let expect = "event encodes to 100015 bytes, over the 65440-byte record limit";
    assert!(r.stderr.contains(expect), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was appended; the store still ends at seq 0"), "{}", r.stderr);
    assert_eq!(open(dir.path()).last_seq(), 0);
}

#[test]
fn an_init_that_fails_leaves_nothing_and_can_be_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("store");
    let faults = Arc::new(Faults::new());
    faults.set(Some(Fault { kind: OpKind::Preallocate, nth: 1, forever: false, errno: ENOSPC }));
    let opts = wfstore::CreateOptions {
        segment_bytes: SMALL_SEGMENT,
        disk: Disk::hooked(faults),
        ..Default::default()
    };
    assert!(Store::create(&target, &opts).is_err());
    assert!(!target.exists(), "a failed init left files behind");
    create(&target, SMALL_SEGMENT);
}

#[test]
fn a_snapshot_on_a_full_disk_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), 100, SMALL_SEGMENT);
    let faults = Arc::new(Faults::new());
    let opts = OpenOptions { snapshots: None, disk: Disk::hooked(faults.clone()), ..OpenOptions::default() };
    let s = open_with(dir.path(), &opts).unwrap();
    faults.set(Some(Fault { kind: OpKind::Write, nth: 1, forever: true, errno: ENOSPC }));
    assert!(s.snapshot_now(3).is_err());
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path().join("snapshots")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_panic_in_a_background_thread_is_returned_by_close() {
    struct PanicOnSeal;
    impl wfstore::disk::DiskHook for PanicOnSeal {
        fn before(&self, op: &wfstore::disk::Op<'_>) -> std::io::Result<()> {
            let seal = matches!(op, wfstore::disk::Op::SyncFile { path } if path.ends_with("0000000001.seg"));
            assert!(!seal || std::thread::current().name() != Some("wfstore-sync"), "injected panic");
            Ok(())
        }
        fn after(&self, _: &wfstore::disk::Op<'_>) {}
    }
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    let opts = OpenOptions {
        durability: Durability::None,
        snapshots: None,
        disk: Disk::hooked(Arc::new(PanicOnSeal)),
        ..OpenOptions::default()
    };
    let s = open_with(dir.path(), &opts).unwrap();
    for i in 1..=1000 {
        s.append(&synthetic(SEED, i)).unwrap();
    }
    let e = s.close().unwrap_err();
    assert!(matches!(e, Error::ThreadPanicked { thread: "sync" }), "{e}");
}

#[test]
fn ids_with_control_characters_are_refused_at_input() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), SMALL_SEGMENT);
    for (id, shown) in [("a\\u0000b", "'\\0'"), ("line\\nbreak", "'\\n'")] {
        let line = format!(r#"{{"session":"{id}","user":"u","type":"user.action","data":{{"action":"a"}}}}"#);
        let r = wf(dir.path(), &["append"], Some(line.as_bytes()));
        check(&r, 1);
        assert!(r.stderr.contains(&format!("id holds control character {shown}")), "{}", r.stderr);
    }
    assert_eq!(open(dir.path()).last_seq(), 0);
}

fn write_zeros(path: &Path, at: u64, n: u64) {
    use std::os::unix::fs::FileExt as _;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&vec![0u8; n as usize], at).unwrap();
}

fn flip_bit(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt as _;
    let f = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x08;
    f.write_all_at(&b, at).unwrap();
}

fn truncate_to(path: &Path, len: u64) {
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}
