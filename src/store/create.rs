//! Creating a store: its files, `STORE` last, and a fresh first segment for a store none
//! of whose segments survived.

use std::fs;
use std::path::Path;

use super::{Store, prepare};
use crate::disk::Disk;
use crate::error::{Error, IoContext, Result};
use crate::io_util;
use crate::limits::{SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN, segment_bytes_ok};
use crate::meta::{Marks, STORE_FILE, StoreFile, StoreMeta};
use crate::store::{CreateOptions, LOCK_FILE};

impl Store {
    /// Creates a store in `dir`, which must be missing or empty. A failure removes what it
    /// made, so it can be run again.
    pub fn create(dir: impl AsRef<Path>, opts: &CreateOptions) -> Result<()> {
        let dir = dir.as_ref();
        if !segment_bytes_ok(opts.segment_bytes) {
            return Err(Error::InvalidOption(format!(
                "segment size {} is not a multiple of 4096 in {SEGMENT_BYTES_MIN}..={SEGMENT_BYTES_MAX} bytes",
                opts.segment_bytes
            )));
        }
        let made_dir = !dir.exists();
        fs::create_dir_all(dir).ctx("create directory", dir)?;
        clear_interrupted_init(dir)?;
        if fs::read_dir(dir).ctx("list", dir)?.next().is_some() {
            let why = if dir.join(STORE_FILE).exists() {
                "a store already exists here"
            } else {
                "directory is not empty"
            };
            return Err(Error::NotAStore { path: dir.to_owned(), why: why.into() });
        }
        let meta = StoreMeta {
            store_id: io_util::random_u64(),
            segment_bytes: opts.segment_bytes,
            keep_content: opts.keep_content,
            created_ns: io_util::now_ns(),
        };
        let made = create_files(&opts.disk, dir, &meta);
        if made.is_err() {
            // The directory was empty: everything in it now is ours.
            if let Ok(entries) = fs::read_dir(dir) {
                for e in entries.flatten() {
                    let _ = fs::remove_file(e.path());
                }
            }
            if made_dir {
                let _ = fs::remove_dir(dir);
            }
        }
        made
    }
}

/// An `init` killed before it wrote `STORE` leaves `LOCK`, an empty first segment and temp
/// files: that is no store yet, so a new `init` removes them and starts again. Anything
/// else in the directory is left alone (and the caller refuses it).
fn clear_interrupted_init(dir: &Path) -> Result<()> {
    if dir.join(STORE_FILE).exists() {
        return Ok(());
    }
    let first = crate::segment::file_name(1, crate::segment::SEGMENT_EXT);
    let mut ours = Vec::new();
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name == LOCK_FILE || name == first || crate::disk::is_temp(&name)) || !entry.path().is_file() {
            return Ok(());
        }
        ours.push(entry.path());
    }
    let seg = dir.join(&first);
    if seg.exists() {
        let bytes = fs::read(&seg).ctx("read", &seg)?;
        // A segment with any frame is somebody's data, not an interrupted init.
        if bytes.get(crate::segment::header::HEADER_BYTES..).is_some_and(|b| b.iter().any(|&x| x != 0)) {
            return Ok(());
        }
    }
    for p in ours {
        fs::remove_file(&p).ctx("remove", &p)?;
    }
    Ok(())
}

/// Writes a new store's files: `LOCK`, the first segment (header synced), then `STORE` last,
/// so a directory without `STORE` is not a store.
fn create_files(disk: &Disk, dir: &Path, meta: &StoreMeta) -> Result<()> {
    let lock = dir.join(LOCK_FILE);
    disk.create_new(&lock)?;
    prepare::create_segment(disk, dir, meta, 1, 1)?;
    StoreFile::publish(disk, dir, meta, Marks::default(), 1)
}

/// Creates segment `no` starting at `base_seq`, header synced: a store none of whose
/// segments survived starts again.
pub(crate) fn fresh_first_segment(
    disk: &Disk,
    dir: &Path,
    meta: &StoreMeta,
    no: u64,
    base_seq: u64,
) -> Result<()> {
    let path = dir.join(crate::segment::file_name(no, crate::segment::SEGMENT_EXT));
    if path.exists() {
        disk.remove(&path)?;
    }
    prepare::create_segment(disk, dir, meta, no, base_seq).map(drop)
}
