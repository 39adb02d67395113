//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use wfstore::sim::synthetic;
use wfstore::{CreateOptions, Durability, OpenOptions, Store};

pub const SEED: u64 = 7;
/// The smallest segment size: rolls come every few hundred records.
pub const SMALL_SEGMENT: u64 = 64 << 10;

pub fn create(dir: &Path, segment_bytes: u64) {
    Store::create(dir, &CreateOptions { segment_bytes, ..CreateOptions::default() }).unwrap();
}

/// Opens for writing, without snapshots, syncing only on demand.
pub fn open(dir: &Path) -> Store {
    let opts = OpenOptions {
        durability: Durability::None,
        read_only: false,
        snapshots: None,
        ..OpenOptions::default()
    };
    open_with(dir, &opts).unwrap()
}

/// Opens with `opts`. While another test thread spawns a child process, the child holds a
/// copy of every open descriptor (a just-closed store's lock too) until it execs: a
/// `Locked` from our own process is waited out (for at most 2 s); one naming another
/// process's pid is returned.
pub fn open_with(dir: &Path, opts: &OpenOptions) -> wfstore::Result<Store> {
    let me = format!("pid {}", std::process::id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match Store::open(dir, opts) {
            Err(wfstore::Error::Locked { holder, .. })
                if holder == me && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Opens for writing with the background snapshotter on `policy`, syncing only on demand:
/// a flush makes events durable, and so due for a snapshot.
pub fn open_snapshotting(dir: &Path, policy: wfstore::SnapshotPolicy) -> Store {
    let opts =
        OpenOptions { snapshots: Some(policy), durability: Durability::None, ..OpenOptions::default() };
    open_with(dir, &opts).unwrap()
}

/// Waits (at most 10 s) until `done`, for work the store does in the background.
pub fn wait_until(store: &Store, what: &str, done: impl Fn() -> bool) {
    let t = std::time::Instant::now();
    while !done() {
        assert!(t.elapsed().as_secs() < 10, "no {what} within 10 s: {:?}", store.warnings());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

pub fn open_ro(dir: &Path) -> wfstore::Result<Store> {
    Store::open(dir, &OpenOptions::read_only())
}

/// A store holding synthetic events 1..=n.
pub fn store_with(dir: &Path, n: u64, segment_bytes: u64) {
    create(dir, segment_bytes);
    let s = open(dir);
    for i in 1..=n {
        assert_eq!(s.append(&synthetic(SEED, i)).unwrap(), i);
    }
    s.close().unwrap();
}

/// Asserts the store holds exactly synthetic events 1..=n, in order, intact.
pub fn assert_prefix(store: &Store, n: u64) {
    assert_eq!(store.last_seq(), n, "last seq");
    let mut count = 0;
    for (i, rec) in store.iter(1..=u64::MAX).enumerate() {
        let rec = rec.unwrap();
        assert_eq!(rec.seq, i as u64 + 1);
        assert_eq!(rec.event, synthetic(SEED, rec.seq), "seq {}", rec.seq);
        count += 1;
    }
    assert_eq!(count, n);
}

/// The files of `dir` with extension `ext`, sorted by name.
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    files_with_ext(dir, "seg")
}

/// Offsets of the frames of a segment file (the frame header's length field is at each).
pub fn frame_offsets(seg: &Path) -> Vec<(usize, usize)> {
    let data = std::fs::read(seg).unwrap();
    let mut at = 64;
    let mut out = vec![];
    while at + 32 <= data.len() {
        let len = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            return out;
        }
        out.push((at, 32 + len));
        at += 32 + len;
    }
    out
}

/// Copies the directory `from` (and its subdirectories) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The segment files that hold data (an unused prepared segment has no header).
pub fn data_segments(dir: &Path) -> Vec<PathBuf> {
    segments(dir).into_iter().filter(|p| std::fs::read(p).unwrap()[..8] == *b"WFSEGMT\0").collect()
}

/// Makes the store look as if its writer died when only seqs up to `durable` had been synced:
/// `STORE`'s high-water mark lowered to `durable`, and the index files of segments holding
/// later seqs removed (their seals never ran). That is what a crash leaves, so recovery must
/// treat anything past `durable` as a torn tail.
pub fn unsynced_after(dir: &Path, durable: u64) {
    use wfstore::meta::{Marks, StoreFile};
    let disk = wfstore::disk::Disk::default();
    let file = StoreFile::load(&disk, dir).unwrap();
    let marks = Marks { high_water: durable, ..file.marks };
    StoreFile::publish(&disk, dir, &file.meta, marks, file.generation + 1).unwrap();
    for seg in data_segments(dir) {
        let h = wfstore::segment::SegmentHeader::decode(&std::fs::read(&seg).unwrap()[..64]).unwrap();
        let last = h.base_seq + frame_offsets(&seg).len() as u64 - 1;
        if last > durable {
            let _ = std::fs::remove_file(seg.with_extension("idx"));
        }
    }
}

/// A disk hook that holds the syncer's index write of the first segment it seals until a
/// file whose name ends with `release` has been removed (a lifecycle operation finished),
/// or 2 s passed: what a seal racing a purge or a retention would do on a slow machine.
pub struct PausedSeal {
    release: &'static str,
    armed: std::sync::atomic::AtomicBool,
    paused: std::sync::atomic::AtomicBool,
    released: std::sync::atomic::AtomicBool,
}

impl PausedSeal {
    pub fn until_removed(release: &'static str) -> PausedSeal {
        PausedSeal { release, armed: true.into(), paused: false.into(), released: false.into() }
    }

    /// Whether a seal is (or was) held.
    pub fn paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl wfstore::disk::DiskHook for PausedSeal {
    fn before(&self, op: &wfstore::disk::Op<'_>) -> std::io::Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if let wfstore::disk::Op::Create { path } = op
            && path.to_string_lossy().contains(".idx.")
            && std::thread::current().name() == Some("wfstore-sync")
            && self.armed.swap(false, SeqCst)
        {
            self.paused.store(true, SeqCst);
            let t = std::time::Instant::now();
            while !self.released.load(SeqCst) && t.elapsed() < std::time::Duration::from_secs(2) {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        Ok(())
    }

    fn after(&self, op: &wfstore::disk::Op<'_>) {
        if let wfstore::disk::Op::Remove { path } = op
            && path.to_string_lossy().ends_with(self.release)
        {
            self.released.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
