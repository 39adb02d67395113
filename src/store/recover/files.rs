//! What a store directory holds, before anything is mapped: segment files and their
//! headers, index files, leftovers. Anything under a store's name that is not a regular
//! file is refused here, before it is opened.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::disk::{self, Disk};
use crate::error::{Error, IoContext, Result};
use crate::header::HeaderError;
use crate::meta::StoreFile;
use crate::segment::header::HEADER_BYTES;
use crate::segment::{self, INDEX_EXT, SEGMENT_EXT, SegmentHeader};
use crate::snapshot::SNAPSHOT_DIR;

/// Directories `migrate` leaves while it runs; a store holding one must not be opened.
pub const MIGRATE_DIRS: [&str; 2] = [".migrate.tmp", ".migrate.v1"];
/// Where `repair` moves damaged files.
pub const QUARANTINE_DIR: &str = "quarantine";

/// A segment file and what its header says.
#[derive(Debug)]
pub(crate) struct SegFile {
    /// Its number (from the name).
    pub no: u64,
    /// Its path.
    pub path: PathBuf,
    /// Its length on disk.
    pub len: u64,
    /// Its header, or why not.
    pub header: Header,
}

/// A segment header as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    /// Valid and this store's.
    Valid(SegmentHeader),
    /// All zero (or cut short and zero): prepared ahead and never used.
    Zero,
    /// Not a valid header.
    Invalid(HeaderError),
}

/// What the directory holds.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Segment files, by number.
    pub segments: Vec<SegFile>,
    /// Leftover temp files (in the store and `snapshots/`).
    pub temps: Vec<PathBuf>,
    /// Index files with no segment file of their number.
    pub orphan_indexes: Vec<PathBuf>,
}

/// Lists `dir`: segments (headers read and checked against `store`), temp files. Refuses
/// non-regular files under a store's names.
pub(crate) fn list(disk: &Disk, dir: &Path, store: &StoreFile) -> Result<Listing> {
    let mut out = Listing::default();
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        // `migrate`'s own directories (an open refuses them before listing, unless `migrate`
        // itself is checking the store).
        if MIGRATE_DIRS.contains(&name) {
            continue;
        }
        // A live writer renames and removes files while a reader lists: an entry gone by
        // the time it is looked at was a temp file being published, or a file retired.
        if disk::is_temp(name) {
            if disk::vanished(disk::check_regular(&path))?.is_some() {
                out.temps.push(path);
            }
        } else if let Some(no) = segment::parse_file_name(name, SEGMENT_EXT) {
            let header = disk::check_regular(&path).and_then(|_| read_header(disk, &path, no, store));
            if let Some((len, header)) = disk::vanished(header)? {
                out.segments.push(SegFile { no, path, len, header });
            }
        } else if segment::parse_file_name(name, INDEX_EXT).is_some()
            && disk::vanished(disk::check_regular(&path))?.is_some()
            && !path.with_extension(SEGMENT_EXT).exists()
        {
            out.orphan_indexes.push(path);
        }
    }
    out.temps.extend(snapshot_temps(dir)?);
    // A missing number is a break in the chain, weighed against the evidence like any other.
    out.segments.sort_by_key(|f| f.no);
    if out.segments.is_empty() {
        return Err(Error::corrupt(dir, 0, None, "no segment files"));
    }
    Ok(out)
}

fn snapshot_temps(dir: &Path) -> Result<Vec<PathBuf>> {
    let sdir = dir.join(SNAPSHOT_DIR);
    let Ok(entries) = fs::read_dir(&sdir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.ctx("list", &sdir)?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(disk::is_temp)
            && disk::vanished(disk::check_regular(&path))?.is_some()
        {
            out.push(path);
        }
    }
    Ok(out)
}

/// Whether `dir` holds the directories of an unfinished `migrate`.
pub(crate) fn migration_pending(dir: &Path) -> bool {
    MIGRATE_DIRS.iter().any(|d| dir.join(d).exists())
}

/// Reads and checks a segment header. A valid header of another store, segment, size,
/// flags or format version is damage (an error); anything else is reported as found.
fn read_header(disk: &Disk, path: &Path, no: u64, store: &StoreFile) -> Result<(u64, Header)> {
    let file = disk.open(path)?;
    let len = file.metadata().ctx("stat", path)?.len();
    let mut buf = Vec::with_capacity(HEADER_BYTES);
    file.take(HEADER_BYTES as u64).read_to_end(&mut buf).ctx("read", path)?;
    let h = match SegmentHeader::decode(&buf) {
        Ok(h) => h,
        Err(HeaderError::Zero | HeaderError::Short) if buf.iter().all(|&b| b == 0) => {
            return Ok((len, Header::Zero));
        }
        Err(e) => return Ok((len, Header::Invalid(e))),
    };
    let meta = &store.meta;
    let wrong = |what: String| Err(Error::corrupt(path, 0, None, what));
    if h.store_id != meta.store_id {
        return wrong(format!("segment of another store (id {:#x})", h.store_id));
    }
    if h.segment_no != no {
        return wrong(format!("header says segment {} but the file name says {no}", h.segment_no));
    }
    if h.segment_bytes != meta.segment_bytes {
        return wrong(format!("segment size {} but the store's is {}", h.segment_bytes, meta.segment_bytes));
    }
    if h.version != store.version {
        return wrong(format!("segment format version {} in a version-{} store", h.version, store.version));
    }
    if h.version >= 2 && h.flags != meta.flags() {
        return wrong(format!("segment flags {:#x} but the store's are {:#x}", h.flags, meta.flags()));
    }
    Ok((len, Header::Valid(h)))
}
