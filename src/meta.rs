//! The `STORE` file: identity, fixed settings and durable evidence, kept twice
//! (formats/store.md). An update writes the copy that is not current, so a torn write
//! always leaves one valid copy.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::header::{HEADER_BYTES, HeaderBuf, HeaderError, HeaderView};
use crate::limits::{SEQ_MAX, segment_bytes_ok};

/// The store file's name inside the store directory.
pub const STORE_FILE: &str = "STORE";
/// Bytes of a version-2 `STORE` file: two 4 KiB pages, one copy at the start of each.
pub const STORE_FILE_BYTES: usize = 8192;
/// Offset of copy B.
const COPY_B_AT: usize = 4096;
const MAGIC: &[u8; 8] = b"WFSTORE\0";
/// `STORE` format version this build writes.
pub const VERSION: u16 = 2;
const FLAGS_AT: usize = 10;
const SEGMENT_BYTES_AT: usize = 12;
const STORE_ID_AT: usize = 16;
const CREATED_AT: usize = 24;
const GENERATION_AT: usize = 32;
const HIGH_WATER_AT: usize = 40;
const LOG_START_AT: usize = 48;
/// Flag bit: prompt and output text is kept.
pub const FLAG_KEEP_CONTENT: u16 = 1;

/// The store's identity and fixed settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMeta {
    /// Random id, repeated in every segment header so foreign files are recognised.
    pub store_id: u64,
    /// Preallocated size of every segment.
    pub segment_bytes: u64,
    /// Whether prompt and output text is kept (`init --keep-content`).
    pub keep_content: bool,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

impl StoreMeta {
    /// The flags word segments and `STORE` carry.
    pub fn flags(&self) -> u16 {
        if self.keep_content { FLAG_KEEP_CONTENT } else { 0 }
    }
}

/// The durable evidence `STORE` records (formats/recovery.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    /// Every seq up to this was durable and committed when it was written (0: none).
    pub high_water: u64,
    /// The first seq the log holds.
    pub log_start: u64,
}

impl Default for Marks {
    fn default() -> Self {
        Marks { high_water: 0, log_start: 1 }
    }
}

/// A decoded `STORE` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFile {
    /// Identity and settings.
    pub meta: StoreMeta,
    /// The format version of the whole store (`STORE`'s).
    pub version: u16,
    /// The evidence of the current copy.
    pub marks: Marks,
    /// The current copy's generation.
    pub generation: u64,
    /// The slot (0 = A, 1 = B) holding the current copy.
    pub current: usize,
    /// A copy that did not decode, and why: reported, and rewritten by a writer.
    pub damaged: Option<(usize, String)>,
}

/// One decoded copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    meta: StoreMeta,
    generation: u64,
    marks: Marks,
}

impl StoreFile {
    /// Decodes a `STORE` file's bytes (version 2, or version 1 for `migrate`). `path` is
    /// the file, for errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<StoreFile> {
        if bytes.len() == HEADER_BYTES {
            return decode_v1(bytes, path);
        }
        if bytes.len() != STORE_FILE_BYTES {
            let why = format!("{STORE_FILE} is {} bytes, expected {STORE_FILE_BYTES}", bytes.len());
            return Err(Error::corrupt(path, 0, None, why));
        }
        let a = decode_copy(&bytes[..HEADER_BYTES]);
        let b = decode_copy(&bytes[COPY_B_AT..COPY_B_AT + HEADER_BYTES]);
        match (a, b) {
            (Ok(a), Ok(b)) => pick(a, b, path),
            (Ok(a), Err(why)) => Ok(current(a, 0, Some((1, why)))),
            (Err(why), Ok(b)) => Ok(current(b, 1, Some((0, why)))),
            (Err(wa), Err(wb)) => {
                Err(Error::corrupt(path, 0, None, format!("both copies are damaged (A: {wa}; B: {wb})")))
            }
        }
    }

    /// Reads the store file of `dir`.
    pub fn load(disk: &Disk, dir: &Path) -> Result<StoreFile> {
        let path = dir.join(STORE_FILE);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(dir)),
            Err(e) => return Err(Error::io("stat", path, e)),
            Ok(_) => {}
        }
        let bytes = disk.read_bounded(&path, STORE_FILE_BYTES as u64).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
                Error::corrupt(&path, STORE_FILE_BYTES as u64, None, format!("{STORE_FILE} is too long"))
            }
            other => other,
        })?;
        Self::decode(&bytes, &path)
    }

    /// Writes a new `STORE` file with both copies at generation `generation` (`init`,
    /// `repair`, `migrate`): temp file, fsync, rename, fsync of the directory.
    pub fn publish(disk: &Disk, dir: &Path, meta: &StoreMeta, marks: Marks, generation: u64) -> Result<()> {
        disk.write_atomic(dir, STORE_FILE, &encode_file(meta, marks, generation))
    }
}

/// No `STORE`: not a store, unless segment files say one was here (then `STORE` was lost:
/// damage, which `repair` mends from the segment headers).
fn missing(dir: &Path) -> Error {
    let segments = std::fs::read_dir(dir).map_or(0, |entries| {
        let seg = |n: &str| crate::segment::parse_file_name(n, crate::segment::SEGMENT_EXT).is_some();
        entries.flatten().filter(|e| e.file_name().to_str().is_some_and(seg)).count()
    });
    if segments == 0 {
        return Error::NotAStore { path: dir.to_owned(), why: format!("no {STORE_FILE} file") };
    }
    let why = format!(
        "{STORE_FILE} is missing, yet {segments} segment files are here (`wfstore repair` rebuilds it)"
    );
    Error::corrupt(dir.join(STORE_FILE), 0, None, why)
}

/// The `STORE` file a writer keeps open to record new evidence.
pub struct StoreWriter {
    file: File,
    path: PathBuf,
    meta: StoreMeta,
    /// Slot of the current copy: updates go to the other one.
    current: usize,
    generation: u64,
    marks: Marks,
}

impl StoreWriter {
    /// Opens `dir`'s `STORE` (decoded as `store`) for updates, rewriting a damaged copy
    /// first. Refuses a version-1 file: that store must be migrated.
    pub fn open(disk: &Disk, dir: &Path, store: &StoreFile) -> Result<StoreWriter> {
        if store.version != VERSION {
            return Err(Error::NeedsMigration { path: dir.to_owned(), version: store.version });
        }
        let path = dir.join(STORE_FILE);
        let file = disk.open_rw(&path)?;
        let mut w = StoreWriter {
            file,
            path,
            meta: store.meta,
            current: store.current,
            generation: store.generation,
            marks: store.marks,
        };
        if store.damaged.is_some() {
            w.update(disk, store.marks)?;
        }
        Ok(w)
    }

    /// The evidence as last written.
    pub fn marks(&self) -> Marks {
        self.marks
    }

    /// Durably records `marks` (generation + 1, in the slot not holding the current copy).
    pub fn update(&mut self, disk: &Disk, marks: Marks) -> Result<()> {
        let slot = 1 - self.current;
        let bytes = encode_copy(&self.meta, marks, self.generation + 1);
        disk.write_at(&self.file, &self.path, (slot * COPY_B_AT) as u64, &bytes)?;
        disk.sync_file(&self.file, &self.path)?;
        self.current = slot;
        self.generation += 1;
        self.marks = marks;
        Ok(())
    }
}

/// One 64-byte copy.
pub fn encode_copy(meta: &StoreMeta, marks: Marks, generation: u64) -> [u8; HEADER_BYTES] {
    let mut h = HeaderBuf::new(MAGIC, VERSION);
    h.put_u16(FLAGS_AT, meta.flags())
        .put_u32(SEGMENT_BYTES_AT, u32::try_from(meta.segment_bytes).unwrap_or(0))
        .put_u64(STORE_ID_AT, meta.store_id)
        .put_u64(CREATED_AT, meta.created_ns as u64)
        .put_u64(GENERATION_AT, generation)
        .put_u64(HIGH_WATER_AT, marks.high_water)
        .put_u64(LOG_START_AT, marks.log_start);
    h.finish()
}

/// The whole 8 KiB file, both copies equal.
pub fn encode_file(meta: &StoreMeta, marks: Marks, generation: u64) -> Vec<u8> {
    let copy = encode_copy(meta, marks, generation);
    let mut out = vec![0u8; STORE_FILE_BYTES];
    out[..HEADER_BYTES].copy_from_slice(&copy);
    out[COPY_B_AT..COPY_B_AT + HEADER_BYTES].copy_from_slice(&copy);
    out
}

fn decode_copy(bytes: &[u8]) -> std::result::Result<Slot, String> {
    let v = HeaderView::check(bytes, MAGIC, VERSION).map_err(|e| e.to_string())?;
    let flags = v.u16(FLAGS_AT);
    let segment_bytes = u64::from(v.u32(SEGMENT_BYTES_AT));
    let store_id = v.u64(STORE_ID_AT);
    let generation = v.u64(GENERATION_AT);
    let marks = Marks { high_water: v.u64(HIGH_WATER_AT), log_start: v.u64(LOG_START_AT) };
    check_fields(flags, segment_bytes, store_id).map_err(|e| e.to_string())?;
    if generation == 0 {
        return Err("generation 0".into());
    }
    if marks.high_water > SEQ_MAX || marks.log_start == 0 || marks.log_start > marks.high_water + 1 {
        return Err(format!(
            "high water {} and log start {} out of range",
            marks.high_water, marks.log_start
        ));
    }
    let meta = StoreMeta {
        store_id,
        segment_bytes,
        keep_content: flags & FLAG_KEEP_CONTENT != 0,
        created_ns: v.u64(CREATED_AT) as i64,
    };
    Ok(Slot { meta, generation, marks })
}

fn check_fields(flags: u16, segment_bytes: u64, store_id: u64) -> std::result::Result<(), HeaderError> {
    if flags & !FLAG_KEEP_CONTENT != 0 {
        return Err(HeaderError::Field("flags"));
    }
    if !segment_bytes_ok(segment_bytes) {
        return Err(HeaderError::Field("segment size"));
    }
    if store_id == 0 {
        return Err(HeaderError::Field("store id"));
    }
    Ok(())
}

fn pick(a: Slot, b: Slot, path: &Path) -> Result<StoreFile> {
    if a.meta != b.meta || (a.generation == b.generation && a != b) {
        let why = format!("the two copies disagree (generations {} and {})", a.generation, b.generation);
        return Err(Error::corrupt(path, 0, None, why));
    }
    Ok(if b.generation > a.generation { current(b, 1, None) } else { current(a, 0, None) })
}

fn current(c: Slot, slot: usize, damaged: Option<(usize, String)>) -> StoreFile {
    StoreFile {
        meta: c.meta,
        version: VERSION,
        marks: c.marks,
        generation: c.generation,
        current: slot,
        damaged,
    }
}

/// Version 1: one 64-byte copy, no evidence (formats/store.md, "Version 1").
fn decode_v1(bytes: &[u8], path: &Path) -> Result<StoreFile> {
    let v = HeaderView::check(bytes, MAGIC, 1).map_err(|e| Error::corrupt(path, 0, None, format!("{e}")))?;
    let flags = v.u16(10);
    let segment_bytes = v.u64(24);
    let store_id = v.u64(16);
    check_fields(flags, segment_bytes, store_id).map_err(|e| Error::corrupt(path, 0, None, e.to_string()))?;
    let meta = StoreMeta {
        store_id,
        segment_bytes,
        keep_content: flags & FLAG_KEEP_CONTENT != 0,
        created_ns: v.u64(32) as i64,
    };
    Ok(StoreFile { meta, version: 1, marks: Marks::default(), generation: 1, current: 0, damaged: None })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn meta() -> StoreMeta {
        StoreMeta { store_id: 42, segment_bytes: 1 << 16, keep_content: true, created_ns: 7 }
    }

    #[test]
    fn round_trip_and_newest_copy_wins() {
        let marks = Marks { high_water: 10, log_start: 1 };
        let mut bytes = encode_file(&meta(), marks, 3);
        let f = StoreFile::decode(&bytes, Path::new("STORE")).unwrap();
        assert_eq!((f.meta, f.marks, f.generation, f.damaged), (meta(), marks, 3, None));
        let newer = Marks { high_water: 20, log_start: 1 };
        bytes[COPY_B_AT..COPY_B_AT + 64].copy_from_slice(&encode_copy(&meta(), newer, 4));
        let f = StoreFile::decode(&bytes, Path::new("STORE")).unwrap();
        assert_eq!((f.marks, f.generation, f.current), (newer, 4, 1));
    }

    #[test]
    fn every_single_bit_flip_leaves_a_readable_store() {
        let bytes = encode_file(&meta(), Marks { high_water: 9, log_start: 1 }, 1);
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let f = StoreFile::decode(&b, Path::new("STORE")).unwrap();
            assert_eq!(f.meta, meta(), "bit {bit}");
            let in_copy = (bit / 8) % COPY_B_AT < HEADER_BYTES;
            assert_eq!(f.damaged.is_some(), in_copy, "bit {bit}");
        }
    }

    #[test]
    fn out_of_range_fields_are_refused() {
        for segment_bytes in [0, 4096, (1 << 16) + 1, 1 << 33] {
            let m = StoreMeta { segment_bytes, ..meta() };
            let e = StoreFile::decode(&encode_file(&m, Marks::default(), 1), Path::new("STORE")).unwrap_err();
            assert!(e.is_corruption(), "{segment_bytes}: {e}");
        }
    }
}
