//! The power-loss recorder: a `DiskHook` that keeps, beside the real files, what a power
//! loss could not take from them — each file's content as of its last successful sync, and
//! each directory's entries as of its last fsync — and, at chosen operations, captures the
//! page-cache state next to that durable state. `crash` then builds the disk states a power
//! loss at that moment could leave.
//!
//! It watches the store through the seam only: a sync (`msync`, `fdatasync`, directory
//! `fsync`) is when bytes become durable, so that is when the recorder copies them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::disk::{DiskHook, Op};

/// A file's durable content: bytes and length as of its last sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durable {
    /// The bytes (shared between captures until a sync changes them).
    pub bytes: Arc<Vec<u8>>,
}

/// A directory change not yet made durable by an fsync of its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsOp {
    /// A name created for an inode.
    Link {
        /// The name.
        path: PathBuf,
        /// The inode.
        ino: u64,
    },
    /// A name removed.
    Unlink {
        /// The name.
        path: PathBuf,
    },
    /// A rename (atomic: done or not).
    Rename {
        /// The old name.
        from: PathBuf,
        /// The new name (replaced if it existed).
        to: PathBuf,
    },
}

/// The state of the store's files at one moment: what the page cache holds, and what is
/// durable.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The operation it was taken before (1 = the first the recorder saw).
    pub op: u64,
    /// That operation, for reports.
    pub label: String,
    /// What the store said was durable then (`Store::durable_seq`, through the probe).
    pub durable_seq: u64,
    /// Every file now: name → (inode, current bytes).
    pub current: BTreeMap<PathBuf, (u64, Arc<Vec<u8>>)>,
    /// Durable content of every inode.
    pub inodes: HashMap<u64, Durable>,
    /// Names as of the last fsync of their directory.
    pub names: BTreeMap<PathBuf, u64>,
    /// Directory changes since, in order.
    pub pending: Vec<NsOp>,
}

/// What the recorder tracks.
#[derive(Default)]
struct Model {
    inodes: HashMap<u64, Durable>,
    names: BTreeMap<PathBuf, u64>,
    pending: Vec<NsOp>,
    ops: u64,
    at: BTreeSet<u64>,
    /// Capture before each operation with this probability (and its seeded dice).
    rate: Option<(f64, fastrand::Rng)>,
    captures: Vec<Capture>,
}

/// Reads the store's durable seq when a capture is taken.
pub type Probe = Box<dyn Fn() -> u64 + Send + Sync>;

/// The recorder. Paths it sees are kept relative to the store directory it watches.
pub struct Recorder {
    root: PathBuf,
    model: Mutex<Model>,
    probe: Mutex<Option<Probe>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts watching the store in `root`, whose files as they are now are taken to be
    /// durable (the store was closed, so they are).
    pub fn new(root: &Path) -> io::Result<Recorder> {
        let mut model = Model::default();
        for path in walk(root)? {
            let ino = std::fs::symlink_metadata(&path)?.ino();
            let bytes = std::fs::read(&path)?;
            model.inodes.insert(ino, Durable { bytes: Arc::new(bytes) });
            model.names.insert(rel(root, &path), ino);
        }
        Ok(Recorder { root: root.to_owned(), model: Mutex::new(model), probe: Mutex::new(None) })
    }

    /// Captures the state before each of the operations numbered in `at` (counted from
    /// now, 1-based).
    pub fn capture_before(&self, at: impl IntoIterator<Item = u64>) {
        let mut m = self.model.lock();
        let base = m.ops;
        m.at = at.into_iter().map(|n| base + n).collect();
    }

    /// Captures before each operation with probability `rate`, drawn from `seed`.
    pub fn capture_rate(&self, rate: f64, seed: u64) {
        self.model.lock().rate = Some((rate, fastrand::Rng::with_seed(seed)));
    }

    /// Sets the function that reads the store's durable seq for captures.
    pub fn set_probe(&self, probe: Probe) {
        *self.probe.lock() = Some(probe);
    }

    /// Operations seen so far.
    pub fn ops(&self) -> u64 {
        self.model.lock().ops
    }

    /// Takes the captures made so far.
    pub fn take_captures(&self) -> Vec<Capture> {
        std::mem::take(&mut self.model.lock().captures)
    }

    /// Captures the state now (also used at the end of a workload).
    pub fn capture_now(&self, label: &str) -> io::Result<()> {
        let durable_seq = self.probe.lock().as_ref().map_or(0, |p| p());
        let mut m = self.model.lock();
        let op = m.ops;
        let capture = self.capture(&m, op, label, durable_seq)?;
        m.captures.push(capture);
        Ok(())
    }

    fn capture(&self, m: &Model, op: u64, label: &str, durable_seq: u64) -> io::Result<Capture> {
        let mut current = BTreeMap::new();
        for path in walk(&self.root)? {
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            // A file removed between listing and reading is simply not there.
            let Ok(bytes) = std::fs::read(&path) else { continue };
            current.insert(rel(&self.root, &path), (meta.ino(), Arc::new(bytes)));
        }
        Ok(Capture {
            op,
            label: label.to_owned(),
            durable_seq,
            current,
            inodes: m.inodes.clone(),
            names: m.names.clone(),
            pending: m.pending.clone(),
        })
    }

    /// Copies `[from, to)` of `path` (or all of it) into its inode's durable content.
    fn synced(&self, m: &mut Model, path: &Path, range: Option<(usize, usize)>) -> io::Result<()> {
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        let entry = m.inodes.entry(meta.ino()).or_default();
        let durable = Arc::make_mut(&mut entry.bytes);
        match range {
            Some((from, to)) => {
                let to = to.min(usize::try_from(meta.len()).unwrap_or(usize::MAX));
                if durable.len() < to {
                    durable.resize(to, 0);
                }
                if from < to {
                    file.read_exact_at(&mut durable[from..to], from as u64)?;
                }
            }
            None => *durable = std::fs::read(path)?,
        }
        Ok(())
    }

    /// A directory's fsync: its entries now are durable.
    fn dir_synced(&self, m: &mut Model, dir: &Path) -> io::Result<()> {
        let d = rel(&self.root, dir);
        m.names.retain(|p, _| p.parent() != Some(&d));
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_file() {
                m.names.insert(rel(&self.root, &path), meta.ino());
                m.inodes.entry(meta.ino()).or_default();
            }
        }
        m.pending.retain(|op| op_dir(op) != Some(d.as_path()));
        // Directories removed meanwhile took their entries with them.
        let root = &self.root;
        m.names.retain(|p, _| root.join(p).parent().is_some_and(Path::exists));
        Ok(())
    }

    fn record(&self, m: &mut Model, op: &Op<'_>) -> io::Result<()> {
        match *op {
            Op::SyncRange { path, from, to } => self.synced(m, path, Some((from, to))),
            Op::SyncFile { path } => self.synced(m, path, None),
            Op::SyncDir { path } => self.dir_synced(m, path),
            Op::Create { path } => {
                let ino = std::fs::symlink_metadata(path)?.ino();
                m.inodes.insert(ino, Durable::default());
                m.pending.push(NsOp::Link { path: rel(&self.root, path), ino });
                Ok(())
            }
            Op::Rename { from, to } => {
                m.pending.push(NsOp::Rename { from: rel(&self.root, from), to: rel(&self.root, to) });
                Ok(())
            }
            Op::Remove { path } => {
                m.pending.push(NsOp::Unlink { path: rel(&self.root, path) });
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl DiskHook for Recorder {
    fn before(&self, op: &Op<'_>) -> io::Result<()> {
        let durable_seq = self.probe.lock().as_ref().map_or(0, |p| p());
        let mut m = self.model.lock();
        m.ops += 1;
        let n = m.ops;
        let dice = m.rate.as_mut().is_some_and(|(p, rng)| rng.f64() < *p);
        if m.at.remove(&n) || dice {
            let capture =
                self.capture(&m, n, &format!("{:?} {}", op.kind(), op.path().display()), durable_seq)?;
            m.captures.push(capture);
        }
        Ok(())
    }

    fn after(&self, op: &Op<'_>) {
        if !op.path().starts_with(&self.root) {
            return;
        }
        let mut m = self.model.lock();
        // A file the store removed at once (a failed publish) may be gone: nothing to record.
        let _ = self.record(&mut m, op);
    }
}

/// The directory an entry change happens in.
fn op_dir(op: &NsOp) -> Option<&Path> {
    match op {
        NsOp::Link { path, .. } | NsOp::Unlink { path } => path.parent(),
        NsOp::Rename { to, .. } => to.parent(),
    }
}

/// `path` relative to `root`.
fn rel(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_owned()
}

/// Every regular file under `root` (`snapshots/`, `.migrate.tmp/snapshots/`, ...).
pub fn walk(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk_into(root, 3, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk_into(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // A file removed while we list is simply not there.
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_file() {
            out.push(path);
        } else if meta.is_dir() && depth > 0 {
            walk_into(&path, depth - 1, out)?;
        }
    }
    Ok(())
}
