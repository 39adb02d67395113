//! Power-loss crash states: from a `Capture`, the disk states a power loss at that moment
//! could leave (formats/README.md, "Assumptions about the media"):
//!
//! - each file holds its content as of its last sync, plus any subset of the pages written
//!   since, each page possibly torn at 512-byte sectors; pages past the last synced size may
//!   read as zeros, and the file may have its old or its new size;
//! - each directory change since the last fsync of its directory may or may not be there,
//!   a rename done or not (never half).
//!
//! Everything is drawn from a seed, and a state is described in words so that a failing
//! case can be read and rerun.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::recorder::{Capture, NsOp};

/// Page size of the model.
const PAGE: usize = 4096;
/// Sector size: the unit a torn page write is made of.
const SECTOR: usize = 512;

/// One crash state, ready to be written out.
#[derive(Debug, Clone)]
pub struct CrashState {
    /// File name (relative to the store) → bytes.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    /// What was chosen, in words.
    pub description: String,
}

/// How the unsynced pages of every file fare in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mood {
    /// Nothing unsynced survives: the durable image alone.
    Nothing,
    /// Everything written survives (what a process crash leaves).
    Everything,
    /// Each page independently: lost, kept, torn or zero-filled.
    Mixed,
}

/// Draws a crash state of `cap` from `rng`.
pub fn crash_state(cap: &Capture, rng: &mut fastrand::Rng) -> CrashState {
    let mood = match rng.u8(..10) {
        0 => Mood::Nothing,
        1 => Mood::Everything,
        _ => Mood::Mixed,
    };
    let mut description =
        format!("crash before op {} ({}), durable seq {}, {mood:?}\n", cap.op, cap.label, cap.durable_seq);
    let names = namespace(cap, mood, rng, &mut description);
    let mut files = BTreeMap::new();
    for (name, ino) in names {
        let durable = cap.inodes.get(&ino).map(|d| d.bytes.as_slice()).unwrap_or_default();
        let current = cap.current.values().find(|(i, _)| *i == ino).map(|(_, b)| b.as_slice());
        let bytes = match current {
            Some(cur) => content(durable, cur, mood, rng, &name, &mut description),
            // Removed since (its name lingers in the durable namespace): the durable bytes.
            None => durable.to_vec(),
        };
        files.insert(name, bytes);
    }
    CrashState { files, description }
}

/// The names that survive: the durable ones, then each pending change kept or not (in
/// order; a change whose source did not survive cannot happen).
fn namespace(
    cap: &Capture,
    mood: Mood,
    rng: &mut fastrand::Rng,
    desc: &mut String,
) -> BTreeMap<PathBuf, u64> {
    let mut names = cap.names.clone();
    for op in &cap.pending {
        let keep = match mood {
            Mood::Nothing => false,
            Mood::Everything => true,
            Mood::Mixed => rng.bool(),
        };
        let applied = keep && apply(&mut names, cap, op);
        let _ = writeln!(desc, "  dir: {op:?} {}", if applied { "kept" } else { "lost" });
    }
    names
}

fn apply(names: &mut BTreeMap<PathBuf, u64>, cap: &Capture, op: &NsOp) -> bool {
    match op {
        NsOp::Link { path, ino } => {
            names.insert(path.clone(), *ino);
            true
        }
        NsOp::Unlink { path } => names.remove(path).is_some(),
        NsOp::Rename { from, to } => match names.remove(from) {
            Some(ino) => {
                names.insert(to.clone(), ino);
                true
            }
            None => {
                let _ = cap;
                false
            }
        },
    }
}

/// A file's bytes after the crash: durable pages, plus unsynced ones as `mood` says.
fn content(
    durable: &[u8],
    current: &[u8],
    mood: Mood,
    rng: &mut fastrand::Rng,
    name: &Path,
    desc: &mut String,
) -> Vec<u8> {
    let len = match mood {
        Mood::Nothing => durable.len(),
        Mood::Everything => current.len(),
        Mood::Mixed if durable.len() == current.len() => current.len(),
        Mood::Mixed => [durable.len(), current.len()][rng.usize(..2)],
    };
    let mut out = vec![0u8; len];
    let keep = durable.len().min(len);
    out[..keep].copy_from_slice(&durable[..keep]);
    let mut changed = Vec::new();
    for page in (0..len.div_ceil(PAGE)).map(|p| p * PAGE) {
        let end = (page + PAGE).min(len);
        let old = |i: usize| durable.get(i).copied().unwrap_or(0);
        let new = |i: usize| current.get(i).copied().unwrap_or(0);
        if (page..end).all(|i| old(i) == new(i)) {
            continue;
        }
        let fate = match mood {
            Mood::Nothing => Fate::Lost,
            Mood::Everything => Fate::Kept,
            Mood::Mixed => [Fate::Lost, Fate::Kept, Fate::Torn, Fate::Zero][rng.usize(..4)],
        };
        // Zeros only where nothing was durable (an append persisted before its data).
        let fate = if fate == Fate::Zero && page < durable.len() { Fate::Lost } else { fate };
        for sector in (page..end).step_by(SECTOR) {
            let s_end = (sector + SECTOR).min(end);
            let take_new = match fate {
                Fate::Lost | Fate::Zero => false,
                Fate::Kept => true,
                Fate::Torn => rng.bool(),
            };
            for (i, byte) in out.iter_mut().enumerate().take(s_end).skip(sector) {
                *byte = match fate {
                    Fate::Zero => 0,
                    _ if take_new => new(i),
                    _ => old(i),
                };
            }
        }
        changed.push(format!("{}:{fate:?}", page / PAGE));
    }
    if !changed.is_empty() || durable.len() != current.len() {
        let _ = writeln!(
            desc,
            "  {}: {} bytes (durable {}, current {}); pages {}",
            name.display(),
            len,
            durable.len(),
            current.len(),
            changed.join(" ")
        );
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Lost,
    Kept,
    Torn,
    Zero,
}

/// Writes a state into `dir` (which must be empty): every file, with its directories.
pub fn materialize(state: &CrashState, dir: &Path) -> io::Result<()> {
    for (name, bytes) in &state.files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
    }
    std::fs::write(dir.join("LOCK"), b"")?;
    Ok(())
}
