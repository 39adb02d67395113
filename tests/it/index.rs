//! Sidecar indexes are never trusted: deleted, truncated, foreign, bit-flipped, stale or
//! ahead of the log, they are rebuilt, rewritten, and reads stay correct.

use std::path::{Path, PathBuf};

use wfstore::index::file::{self, IndexKey};

use crate::util::*;

const N: u64 = 3000;

fn idx_files(dir: &Path) -> Vec<PathBuf> {
    files_with_ext(dir, "idx")
}

/// Damages the store with `damage`, then checks reads, the rebuild warning and the rewrite.
fn check(damage: impl Fn(&Path, &[PathBuf])) {
    let base = tempfile::tempdir().unwrap();
    store_with(base.path(), N, SMALL_SEGMENT);
    let good = idx_files(base.path());
    assert!(good.len() >= 3);
    let good_bytes: Vec<Vec<u8>> = good.iter().map(|p| std::fs::read(p).unwrap()).collect();
    damage(base.path(), &good);
    let s = open(base.path());
    let session = wfstore::sim::synthetic(SEED, 5).session;
    let got: Vec<u64> = s.session(session.as_str()).map(|r| r.unwrap().seq).collect();
    let want: Vec<u64> = (1..=N).filter(|&i| wfstore::sim::synthetic(SEED, i).session == session).collect();
    assert_eq!(got, want);
    assert_prefix(&s, N);
    assert!(s.warnings().iter().any(|w| w.contains("rebuilt index")), "{:?}", s.warnings());
    drop(s);
    let rewritten: Vec<Vec<u8>> = good.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(rewritten, good_bytes, "rebuilt indexes are byte-identical to the originals");
    assert!(wfstore::verify::verify(base.path()).unwrap().notes.is_empty());
}

#[test]
fn deleted() {
    check(|_, idx| std::fs::remove_file(&idx[1]).unwrap());
}

#[test]
fn truncated() {
    check(|_, idx| {
        let len = std::fs::metadata(&idx[1]).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&idx[1]).unwrap().set_len(len / 2).unwrap();
    });
}

#[test]
fn from_another_segment() {
    check(|_, idx| {
        std::fs::copy(&idx[0], &idx[1]).unwrap();
    });
}

#[test]
fn bit_flipped() {
    check(|_, idx| {
        let mut b = std::fs::read(&idx[1]).unwrap();
        let k = b.len() / 2;
        b[k] ^= 0x10;
        std::fs::write(&idx[1], b).unwrap();
    });
}

/// Re-encodes a valid index with its counts shifted: checksums right, content wrong.
fn shifted(idx: &Path, seg: &Path, records: i64) {
    let seg_bytes = std::fs::read(seg).unwrap();
    let header = wfstore::segment::SegmentHeader::decode(&seg_bytes).unwrap();
    let key = IndexKey { store_id: header.store_id, salt: header.salt, segment_no: header.segment_no };
    let mut ix = file::decode(&std::fs::read(idx).unwrap(), key).unwrap();
    ix.records = ix.records.checked_add_signed(records).unwrap();
    std::fs::write(idx, file::encode(key, &ix)).unwrap();
}

#[test]
fn ahead_of_the_log() {
    check(|dir, idx| shifted(&idx[1], &data_segments(dir)[1], 5));
}

#[test]
fn behind_the_log() {
    check(|dir, idx| shifted(&idx[1], &data_segments(dir)[1], -1));
}

/// Records the length of every write to an index file's temp file.
#[derive(Default)]
struct IndexWrites(std::sync::Mutex<Vec<usize>>);

impl wfstore::disk::DiskHook for IndexWrites {
    fn before(&self, _: &wfstore::disk::Op<'_>) -> std::io::Result<()> {
        Ok(())
    }

    fn after(&self, op: &wfstore::disk::Op<'_>) {
        if let wfstore::disk::Op::Write { path, len, .. } = op
            && path.to_string_lossy().contains(".idx.")
        {
            self.0.lock().unwrap().push(*len);
        }
    }
}

/// A writer's memory must not hold an index twice: a sealed segment's index goes to disk in
/// chunks as it is encoded, never from one buffer of the whole file.
#[test]
fn a_sealed_index_is_streamed_to_disk_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    create(dir.path(), 4 << 20);
    let hook = std::sync::Arc::new(IndexWrites::default());
    let opts = wfstore::OpenOptions {
        snapshots: None,
        disk: wfstore::disk::Disk::hooked(hook.clone()),
        ..wfstore::OpenOptions::default()
    };
    let s = open_with(dir.path(), &opts).unwrap();
    let events: Vec<_> = (1..=60_000).map(|i| wfstore::sim::synthetic(SEED, i)).collect();
    for frame in events.chunks(1000) {
        s.append_batch(frame).unwrap();
    }
    s.close().unwrap();
    let written: u64 = idx_files(dir.path()).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let biggest = idx_files(dir.path()).iter().map(|p| std::fs::metadata(p).unwrap().len()).max().unwrap();
    assert!(biggest > 128 << 10, "an index of {biggest} bytes is too small to show chunking");
    let writes = hook.0.lock().unwrap().clone();
    assert_eq!(writes.iter().sum::<usize>() as u64, written, "every byte of every index file, once");
    assert!(writes.iter().all(|&len| len <= 64 << 10), "writes of at most 64 KiB: {writes:?}");
    // Streamed, the file is byte for byte what the one-buffer encoder (golden.rs pins it)
    // makes of the index it holds.
    for (idx, seg) in idx_files(dir.path()).iter().zip(data_segments(dir.path())) {
        let header = wfstore::segment::SegmentHeader::decode(&std::fs::read(seg).unwrap()).unwrap();
        let key = IndexKey { store_id: header.store_id, salt: header.salt, segment_no: header.segment_no };
        let bytes = std::fs::read(idx).unwrap();
        assert_eq!(file::encode(key, &file::decode(&bytes, key).unwrap()), bytes, "{}", idx.display());
    }
    assert_prefix(&open(dir.path()), 60_000);
}
