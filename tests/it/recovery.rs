//! Torn tails and corruption: truncation at every offset, every bit flipped, hostile
//! lengths, stale and garbage bytes past the end, damaged or missing segments.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use wfstore::Error;
use wfstore::verify::verify;

use crate::util::*;

const N: u64 = 1200;

/// A store of N records over several small segments; returns (dir, tail segment path).
fn base_store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    store_with(dir.path(), N, SMALL_SEGMENT);
    let segs = data_segments(dir.path());
    assert!(segs.len() >= 3, "test needs several segments");
    let tail = segs.last().unwrap().clone();
    assert!(frame_offsets(&tail).len() >= 3, "tail needs 3 records");
    (dir, tail)
}

fn truncate(path: &Path, len: u64) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

fn flip(path: &Path, offset: u64, bit: u8) {
    let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 1 << bit;
    f.write_all_at(&b, offset).unwrap();
}

fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    OpenOptions::new().write(true).open(path).unwrap().write_all_at(bytes, offset).unwrap();
}

/// Frames that survive a cut at `cut`: those wholly before it (a frame the cut reaches into
/// is torn, even if the bytes it lost were zeros).
fn surviving(frames: &[(usize, usize)], cut: usize) -> u64 {
    frames.iter().take_while(|&&(at, len)| at + len <= cut).count() as u64
}

/// Records before the tail segment.
fn records_before(tail: &Path) -> u64 {
    N - frame_offsets(tail).len() as u64
}

/// Opens a damaged copy, expects exactly `n` records, then checks a second open changes
/// nothing and verify is clean.
fn assert_recovers_to(dir: &Path, n: u64) {
    let s = open(dir);
    assert_prefix(&s, n);
    drop(s);
    let again = open(dir);
    assert_eq!(again.recovery_report().torn_tail, None, "second open cut again");
    assert_eq!(again.recovery_report().extended_tail, None);
    drop(again);
    let v = verify(dir).unwrap();
    assert!(v.is_clean(), "{:?}", v.problems);
}

#[test]
fn truncation_at_every_offset_of_the_last_three_records() {
    let (base, tail) = base_store();
    let frames = frame_offsets(&tail);
    let before = records_before(&tail);
    // The writer died before syncing the last three records: cutting them is a torn tail.
    unsynced_after(base.path(), N - 3);
    let first = frames[frames.len() - 3].0;
    let (last_at, last_len) = frames[frames.len() - 1];
    for cut in first..=last_at + last_len {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        truncate(&dir.path().join(tail.file_name().unwrap()), cut as u64);
        let whole = surviving(&frames, cut);
        assert_recovers_to(dir.path(), before + whole);
    }
}

#[test]
fn truncation_inside_the_tail_header_ends_the_log_at_the_previous_segment() {
    let (base, tail) = base_store();
    unsynced_after(base.path(), records_before(&tail));
    for cut in 0..64 {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        truncate(&dir.path().join(tail.file_name().unwrap()), cut);
        assert_recovers_to(dir.path(), records_before(&tail));
    }
}

#[test]
fn truncation_across_a_roll_boundary() {
    let (base, _) = base_store();
    let segs = data_segments(base.path());
    let sealed = &segs[segs.len() - 2];
    let frames = frame_offsets(sealed);
    let upto: u64 = segs[..segs.len() - 2].iter().map(|s| frame_offsets(s).len() as u64).sum();
    let first = frames[frames.len() - 3].0;
    let (last_at, last_len) = frames[frames.len() - 1];
    unsynced_after(base.path(), upto + frames.len() as u64 - 3);
    for cut in (first..=last_at + last_len).step_by(3) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        for later in segments(dir.path()).iter().filter(|p| p.file_name() > sealed.file_name()) {
            std::fs::remove_file(later).unwrap();
        }
        truncate(&dir.path().join(sealed.file_name().unwrap()), cut as u64);
        let whole = surviving(&frames, cut);
        assert_recovers_to(dir.path(), upto + whole);
    }
}

#[test]
fn every_bit_of_the_last_three_records_flipped_is_detected() {
    let (dir, tail) = base_store();
    let frames = frame_offsets(&tail);
    let before = records_before(&tail);
    for (k, &(at, len)) in frames[frames.len() - 3..].iter().enumerate() {
        let is_last = k == 2;
        for byte in at..at + len {
            for bit in 0..8 {
                flip(&tail, byte as u64, bit);
                match open_ro(dir.path()) {
                    // The last record damaged: never served, and reported as durable data
                    // lost (the store was closed, so it was durable), not as a torn tail.
                    Ok(s) if is_last => {
                        assert_eq!(s.last_seq(), N - 1, "byte {byte} bit {bit}");
                        let loss = s.recovery_report().loss.clone().unwrap();
                        assert_eq!((loss.at.offset, loss.last_seq, loss.durable), (at as u64, N - 1, N));
                        assert!(!verify(dir.path()).unwrap().is_clean());
                    }
                    Err(Error::Corrupt(c)) if !is_last => {
                        assert_eq!(
                            (c.path.as_path(), c.offset),
                            (tail.as_path(), at as u64),
                            "byte {byte} bit {bit}"
                        );
                        assert_eq!(c.seq, Some(before + frames.len() as u64 - 2 + k as u64));
                        assert!(!verify(dir.path()).unwrap().is_clean());
                    }
                    other => panic!("byte {byte} bit {bit} of record {k}: {:?}", other.map(|s| s.last_seq())),
                }
                flip(&tail, byte as u64, bit);
            }
        }
    }
    assert_recovers_to(dir.path(), N);
}

#[test]
fn a_writer_cuts_a_flipped_last_record_and_zeroes_it() {
    let (dir, tail) = base_store();
    unsynced_after(dir.path(), N - 1);
    let &(at, len) = frame_offsets(&tail).last().unwrap();
    flip(&tail, at as u64 + 30, 2);
    let s = open(dir.path());
    let torn = s.recovery_report().torn_tail.clone().unwrap();
    assert_eq!((torn.offset, torn.bytes), (at as u64, len as u64));
    drop(s);
    let bytes = std::fs::read(&tail).unwrap();
    assert!(bytes[at..at + len].iter().all(|&b| b == 0));
    assert_recovers_to(dir.path(), N - 1);
}

#[test]
fn flipped_bits_in_a_sealed_segment_are_never_served() {
    let (dir, _) = base_store();
    let sealed = &data_segments(dir.path())[1];
    let frames = frame_offsets(sealed);
    let seq = frame_offsets(&data_segments(dir.path())[0]).len() as u64 + 6;
    flip(sealed, frames[5].0 as u64 + 40, 0);
    let s = open_ro(dir.path()).unwrap();
    let err = s.get(seq).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    let results: Vec<_> = s.iter(1..=N).collect();
    assert_eq!(results.len() as u64, seq, "iteration stops at the damaged record");
    assert!(results[..seq as usize - 1].iter().all(Result::is_ok));
    let v = verify(dir.path()).unwrap();
    assert_eq!(v.problems.len(), 1);
    assert_eq!((v.problems[0].path.as_path(), v.problems[0].offset), (sealed.as_path(), frames[5].0 as u64));
}

#[test]
fn hostile_length_prefixes() {
    let (base, tail) = base_store();
    let frames = frame_offsets(&tail);
    let (last_at, last_len) = *frames.last().unwrap();
    let end = (last_at + last_len) as u64;
    for len in [1u32, 1 << 20, (1 << 20) + 1, 1 << 31, u32::MAX] {
        // At the tail: a torn write, cut.
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let t = dir.path().join(tail.file_name().unwrap());
        write_at(&t, end, &len.to_le_bytes());
        assert_recovers_to(dir.path(), N);
        // In the middle: corruption.
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let t = dir.path().join(tail.file_name().unwrap());
        write_at(&t, frames[frames.len() - 2].0 as u64, &len.to_le_bytes());
        let Err(Error::Corrupt(c)) = open_ro(dir.path()) else { panic!("len {len} mid-log accepted") };
        assert_eq!((c.path, c.offset), (t, frames[frames.len() - 2].0 as u64), "len {len}");
    }
}

#[test]
fn stale_valid_records_past_the_end_are_not_resurrected() {
    let (dir, tail) = base_store();
    let frames = frame_offsets(&tail);
    let (last_at, last_len) = *frames.last().unwrap();
    let bytes = std::fs::read(&tail).unwrap();
    let stale = &bytes[frames[0].0..frames[0].0 + frames[0].1];
    let end = last_at + last_len;
    // A record the log already has, copied past the end, after a zero gap.
    write_at(&tail, end as u64 + 8, stale);
    let s = open(dir.path());
    assert_eq!(s.recovery_report().torn_tail.as_ref().map(|t| t.offset), Some(end as u64));
    drop(s);
    assert!(std::fs::read(&tail).unwrap()[end..].iter().all(|&b| b == 0), "stale bytes zeroed");
    assert_recovers_to(dir.path(), N);
}

#[test]
fn garbage_and_zero_tails() {
    let (base, tail) = base_store();
    let &(last_at, last_len) = frame_offsets(&tail).last().unwrap();
    let end = (last_at + last_len) as u64;
    let mut rng = fastrand::Rng::with_seed(11);
    for n in [1usize, 2, 23, 24, 25, 100, 1000, 4096] {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let t = dir.path().join(tail.file_name().unwrap());
        let garbage: Vec<u8> = (0..n).map(|_| rng.u8(1..)).collect();
        write_at(&t, end, &garbage);
        let s = open(dir.path());
        assert_eq!(
            s.recovery_report().torn_tail.as_ref().map(|t| (t.offset, t.bytes)),
            Some((end, n as u64))
        );
        drop(s);
        assert_recovers_to(dir.path(), N);
    }
    let dir = tempfile::tempdir().unwrap();
    copy_dir(base.path(), dir.path());
    write_at(&dir.path().join(tail.file_name().unwrap()), end, &[0u8; 4096]);
    assert_eq!(open(dir.path()).recovery_report(), &wfstore::RecoveryReport::default());
}

#[test]
fn missing_truncated_or_foreign_segments_are_corruption() {
    let (base, _) = base_store();
    let segs = data_segments(base.path());
    let name = |p: &Path| p.file_name().unwrap().to_owned();
    // A missing middle segment.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(base.path(), dir.path());
    std::fs::remove_file(dir.path().join(name(&segs[1]))).unwrap();
    let Err(Error::Corrupt(c)) = open_with(dir.path(), &wfstore::OpenOptions::default()) else {
        panic!("missing segment accepted")
    };
    assert_eq!(c.path, dir.path().join(name(&segs[1])), "{}", c.what);
    let loss = open_ro(dir.path()).unwrap().recovery_report().loss.clone().unwrap();
    assert_eq!(
        (loss.at.path, loss.last_seq),
        (dir.path().join(name(&segs[1])), frame_offsets(&segs[0]).len() as u64)
    );
    // A truncated sealed segment.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(base.path(), dir.path());
    truncate(&dir.path().join(name(&segs[0])), 5000);
    let Err(Error::Corrupt(c)) = open_ro(dir.path()) else { panic!("truncated sealed segment accepted") };
    assert_eq!(c.path, dir.path().join(name(&segs[0])));
    // A segment of another store.
    let other = tempfile::tempdir().unwrap();
    store_with(other.path(), 10, SMALL_SEGMENT);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(base.path(), dir.path());
    std::fs::copy(other.path().join(name(&segs[0])), dir.path().join(name(&segs[0]))).unwrap();
    let Err(Error::Corrupt(c)) = open_ro(dir.path()) else { panic!("foreign segment accepted") };
    assert!(c.what.contains("another store"), "{}", c.what);
}
