//! Media faults: what a failing disk does to files at rest. One seeded fault per case, in
//! every file kind (sealed and active segments, indexes, snapshots, `STORE`), at every
//! offset class (headers, frame headers, bodies, checksums, unused space): a flipped bit, a
//! zeroed 4 KiB block, a 4 KiB block copied from elsewhere, a truncation, a stale copy of
//! the whole file, a lost file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One fault, applied to a file of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Bit `bit` of byte `at` flipped.
    Flip {
        /// The file.
        file: PathBuf,
        /// Byte offset.
        at: u64,
        /// Bit 0..8.
        bit: u8,
    },
    /// The 4 KiB block at `at` zeroed.
    Zero {
        /// The file.
        file: PathBuf,
        /// Block offset.
        at: u64,
    },
    /// The 4 KiB block at `from` copied over the one at `to` (a misdirected write).
    Copy {
        /// The file.
        file: PathBuf,
        /// Source block.
        from: u64,
        /// Target block.
        to: u64,
    },
    /// The file cut at `len`.
    Truncate {
        /// The file.
        file: PathBuf,
        /// New length.
        len: u64,
    },
    /// The file replaced by an older copy of itself.
    Stale {
        /// The file.
        file: PathBuf,
    },
    /// The file gone.
    Lose {
        /// The file.
        file: PathBuf,
    },
}

/// The kinds of file a fault is aimed at, so that every kind is hit evenly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A segment before the last.
    SealedSegment,
    /// The last segment holding data.
    ActiveSegment,
    /// An index file.
    Index,
    /// A snapshot file.
    Snapshot,
    /// `STORE`.
    Store,
}

impl Fault {
    /// The file it damages.
    pub fn file(&self) -> &Path {
        match self {
            Fault::Flip { file, .. }
            | Fault::Zero { file, .. }
            | Fault::Copy { file, .. }
            | Fault::Truncate { file, .. }
            | Fault::Stale { file }
            | Fault::Lose { file } => file,
        }
    }
}

/// Draws a fault for the store whose files (name → bytes) are `files`; `older` holds earlier
/// versions of some of them (for stale copies). `None` when no file of the drawn kind exists.
pub fn draw(
    files: &BTreeMap<PathBuf, Vec<u8>>,
    older: &BTreeMap<PathBuf, Vec<u8>>,
    rng: &mut fastrand::Rng,
) -> Option<(Target, Fault)> {
    let target =
        [Target::SealedSegment, Target::ActiveSegment, Target::Index, Target::Snapshot, Target::Store]
            [rng.usize(..5)];
    let file = pick(files, target, rng)?;
    let len = files.get(&file).map_or(0, Vec::len) as u64;
    let data_end = data_end(files.get(&file).map_or(&[][..], Vec::as_slice));
    let at = offset(rng, len, data_end);
    let fault = match rng.u8(..12) {
        0..5 => Fault::Flip { file, at, bit: rng.u8(..8) },
        5..7 => Fault::Zero { file, at: at & !4095 },
        7 => Fault::Copy { file, from: rng.u64(..len.max(1)) & !4095, to: at & !4095 },
        8 => Fault::Truncate { file, len: at },
        9 | 10 if older.contains_key(&file) => Fault::Stale { file },
        _ => Fault::Lose { file },
    };
    Some((target, fault))
}

/// A file of the target kind.
fn pick(files: &BTreeMap<PathBuf, Vec<u8>>, target: Target, rng: &mut fastrand::Rng) -> Option<PathBuf> {
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let segments: Vec<&PathBuf> = files
        .iter()
        .filter(|(p, b)| name(p).ends_with(".seg") && b.get(..8) == Some(b"WFSEGMT\0"))
        .map(|(p, _)| p)
        .collect();
    let candidates: Vec<&PathBuf> = match target {
        Target::SealedSegment => segments.iter().take(segments.len().saturating_sub(1)).copied().collect(),
        Target::ActiveSegment => segments.last().copied().into_iter().collect(),
        Target::Index => files.keys().filter(|p| name(p).ends_with(".idx")).collect(),
        Target::Snapshot => files.keys().filter(|p| name(p).ends_with(".wfsnap")).collect(),
        Target::Store => files.keys().filter(|p| name(p) == crate::meta::STORE_FILE).collect(),
    };
    (!candidates.is_empty()).then(|| candidates[rng.usize(..candidates.len())].clone())
}

/// One past the last non-zero byte: where a file's data ends and unused space begins.
fn data_end(bytes: &[u8]) -> u64 {
    crate::segment::scan::last_nonzero(bytes).map_or(0, |i| i as u64 + 1)
}

/// An offset, biased toward the classes that matter: the header, the data, its last 4 KiB,
/// the unused space after it.
fn offset(rng: &mut fastrand::Rng, len: u64, data_end: u64) -> u64 {
    let len = len.max(1);
    match rng.u8(..5) {
        0 => rng.u64(..64.min(len)),
        1 => rng.u64(..data_end.max(1)),
        2 => data_end.saturating_sub(rng.u64(..4096)),
        3 => rng.u64(data_end.min(len - 1)..len),
        _ => rng.u64(..len),
    }
}

/// Applies `fault` to a store's files (name → bytes), in memory.
pub fn apply_to(files: &mut BTreeMap<PathBuf, Vec<u8>>, fault: &Fault, older: &BTreeMap<PathBuf, Vec<u8>>) {
    let name = fault.file().to_owned();
    if let Fault::Lose { .. } = fault {
        files.remove(&name);
        return;
    }
    let Some(bytes) = files.get_mut(&name) else { return };
    let at = |x: u64| usize::try_from(x).unwrap_or(usize::MAX);
    let block = |x: u64, len: usize| at(x).min(len)..at(x).saturating_add(4096).min(len);
    match fault {
        Fault::Flip { at: x, bit, .. } => {
            if let Some(b) = bytes.get_mut(at(*x)) {
                *b ^= 1 << bit;
            }
        }
        Fault::Zero { at: x, .. } => {
            let r = block(*x, bytes.len());
            bytes[r].fill(0);
        }
        Fault::Copy { from, to, .. } => {
            let (src, dst) = (block(*from, bytes.len()), block(*to, bytes.len()));
            let n = src.len().min(dst.len());
            let copy = bytes[src.start..src.start + n].to_vec();
            bytes[dst.start..dst.start + n].copy_from_slice(&copy);
        }
        Fault::Truncate { len, .. } => bytes.truncate(at(*len)),
        Fault::Stale { file } => {
            if let Some(old) = older.get(file) {
                bytes.clone_from(old);
            }
        }
        Fault::Lose { .. } => {}
    }
}
