//! One segment file: its header, its mapping, its frames and its index.
//!
//! - `header`: the 64-byte segment header.
//! - `map`: the memory mapping (the only `unsafe` code).
//! - `scan`: finding the end of valid data; torn tail versus corruption.

pub mod header;
pub(crate) mod map;
pub mod scan;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};

use crate::codec;
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::frame::{self, Decoded, Frame, Layout};
use crate::index::SegmentIndex;
use crate::index::file::IndexKey;
pub use header::SegmentHeader;
use map::SegmentMap;
use scan::Chain;

/// A byte offset or length inside one segment as stored on disk (u32).
#[expect(
    clippy::cast_possible_truncation,
    reason = "segments are at most SEGMENT_BYTES_MAX < 2^32 bytes, so every offset fits a u32"
)]
pub const fn offset32(x: usize) -> u32 {
    x as u32
}

/// File extension of segments.
pub const SEGMENT_EXT: &str = "seg";
/// File extension of sidecar indexes.
pub const INDEX_EXT: &str = "idx";

/// The file name of segment `no` with the given extension: ten digits, so names sort.
pub fn file_name(no: u64, ext: &str) -> String {
    format!("{no:010}.{ext}")
}

/// Parses `NNNNNNNNNN.ext` back into its number.
pub fn parse_file_name(name: &str, ext: &str) -> Option<u64> {
    let stem = name.strip_suffix(ext)?.strip_suffix('.')?;
    if stem.len() != 10 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// A segment in use: mapped, with a known header.
pub struct Segment {
    /// The segment file.
    pub path: PathBuf,
    /// Its header.
    pub header: SegmentHeader,
    /// Its mapping.
    pub(crate) map: SegmentMap,
    index: RwLock<Option<SegmentIndex>>,
    synced: AtomicUsize,
    disk: Disk,
}

impl Segment {
    /// Wraps a mapped segment; `index` is `None` until loaded (sealed segments load lazily).
    pub(crate) fn new(
        path: PathBuf,
        header: SegmentHeader,
        map: SegmentMap,
        index: Option<SegmentIndex>,
        disk: &Disk,
    ) -> Self {
        let disk = disk.clone();
        Segment { path, header, map, index: RwLock::new(index), synced: AtomicUsize::new(0), disk }
    }

    /// The segment's number.
    pub fn no(&self) -> u64 {
        self.header.segment_no
    }

    /// The frame layout of this segment's format version.
    pub fn layout(&self) -> Layout {
        self.header.layout()
    }

    /// The key an index file must carry to belong to this segment.
    pub fn index_key(&self) -> IndexKey {
        IndexKey { store_id: self.header.store_id, salt: self.header.salt, segment_no: self.no() }
    }

    /// The sidecar index path.
    pub fn index_path(&self) -> PathBuf {
        self.path.with_extension(INDEX_EXT)
    }

    /// The published bytes.
    pub fn published(&self) -> &[u8] {
        self.map.published()
    }

    /// The published end.
    pub fn end(&self) -> usize {
        self.map.end()
    }

    /// The loaded index, if any.
    pub fn index(&self) -> Option<MappedRwLockReadGuard<'_, SegmentIndex>> {
        RwLockReadGuard::try_map(self.index.read(), Option::as_ref).ok()
    }

    /// Installs an index (after loading or rebuilding it).
    pub fn set_index(&self, index: SegmentIndex) {
        *self.index.write() = Some(index);
    }

    /// Drops the loaded index (a sealed segment's, once its index file is written).
    pub fn clear_index(&self) {
        *self.index.write() = None;
    }

    /// Runs `f` on the index under its write lock: the writer's path.
    pub fn with_index_mut<R>(&self, f: impl FnOnce(&mut SegmentIndex) -> R) -> Option<R> {
        self.index.write().as_mut().map(f)
    }

    /// Makes every published byte durable (msync of what was not synced yet).
    pub fn sync_published(&self) -> Result<()> {
        self.sync_to(self.map.end())
    }

    /// Makes the published bytes below `end` durable.
    pub fn sync_to(&self, end: usize) -> Result<()> {
        let end = end.min(self.map.end());
        let from = self.synced.load(Ordering::Acquire);
        if end > from {
            self.map.sync(&self.disk, &self.path, from, end)?;
            self.synced.fetch_max(end, Ordering::AcqRel);
        }
        Ok(())
    }

    /// A read-only mapping of this segment with the same published end, for readers once
    /// the writer has left it; with a copy of its index if `with_index` (else a read loads
    /// the index file).
    pub fn reopen_read_only(&self, with_index: bool) -> Result<Segment> {
        let file = self.disk.open(&self.path)?;
        let (mut map, _) = SegmentMap::map(&self.disk, &file, &self.path, self.map.len(), false)?;
        map.set_end(self.map.end());
        let index = if with_index { self.index.read().clone() } else { None };
        Ok(Segment::new(self.path.clone(), self.header, map, index, &self.disk))
    }

    /// Makes the whole file durable through its descriptor (fdatasync): for a segment no
    /// longer mapped writable.
    pub fn sync_file(&self) -> Result<()> {
        let file = self.disk.open(&self.path)?;
        self.disk.sync_file(&file, &self.path)
    }

    /// The published frame at `at`, checked: CRC, and seq equal to `seq`.
    pub fn frame_at(&self, at: usize, seq: u64) -> Result<Frame<'_>> {
        match frame::decode(self.map.published(), at, self.header.salt, self.layout()) {
            Decoded::Frame(f) if f.seq == seq => Ok(f),
            Decoded::Frame(f) => Err(self.corrupt(at, seq, format!("found seq {} instead", f.seq))),
            Decoded::End => Err(self.corrupt(at, seq, "no frame where the index points")),
            Decoded::Bad(b) => Err(self.corrupt(at, seq, b.to_string())),
        }
    }

    /// A corruption error located in this segment.
    pub fn corrupt(&self, at: usize, seq: u64, what: impl Into<String>) -> Error {
        Error::corrupt(&self.path, at as u64, Some(seq), what)
    }

    /// Scans the published bytes along `chain`, building an index as it goes.
    pub fn scan_and_index(&self, chain: Chain, probe: bool) -> Result<(scan::Scan, SegmentIndex)> {
        scan_and_index(self.map.published(), &self.header, &self.path, chain, probe, Decode::Session)
    }

    /// As `scan_and_index`, decoding every body in full on the way (for `verify`).
    pub fn scan_and_decode(&self, chain: Chain) -> Result<(scan::Scan, SegmentIndex)> {
        scan_and_index(self.map.published(), &self.header, &self.path, chain, true, Decode::Full)
    }

    /// Reads this sealed segment's index file (size-bounded) and checks it against the
    /// segment, which holds seqs up to `next_seq - 1`; says why it cannot be used.
    pub fn load_index_file(&self, next_seq: u64) -> std::result::Result<SegmentIndex, String> {
        let bytes = self
            .disk
            .read_bounded(&self.index_path(), crate::limits::INDEX_FILE_BYTES_MAX)
            .map_err(|e| format!("cannot read: {e}"))?;
        let index = crate::index::file::decode(&bytes, self.index_key()).map_err(|r| r.0)?;
        self.check_index(&index, next_seq)?;
        Ok(index)
    }

    /// Checks that `index` describes this sealed segment, which holds seqs up to
    /// `next_seq - 1`: its bounds, its last frame, the end of data after it, and the frame
    /// at every sparse entry. Reads still check every frame; this only decides whether to
    /// trust the offsets.
    pub fn check_index(&self, index: &SegmentIndex, next_seq: u64) -> std::result::Result<(), String> {
        check_index(self.map.published(), &self.header, index, next_seq)
    }
}

/// `Segment::check_index` on a segment's bytes (formats/index.md, "Validity").
pub fn check_index(
    data: &[u8],
    header: &SegmentHeader,
    index: &SegmentIndex,
    next_seq: u64,
) -> std::result::Result<(), String> {
    if index.base_seq != header.base_seq {
        return Err(format!("base seq {} != segment's {}", index.base_seq, header.base_seq));
    }
    if index.next_seq() != next_seq {
        return Err(format!("ends at seq {} but the segment ends at {}", index.next_seq(), next_seq));
    }
    let frame = |at: u32| match frame::decode(data, at as usize, header.salt, header.layout()) {
        Decoded::Frame(f) => Some(f),
        _ => None,
    };
    if index.records > 0 {
        let at = index.last_frame_at;
        match frame(at) {
            Some(f) if f.seq + 1 == next_seq && at as usize + f.len() == index.end as usize => {}
            _ => return Err(format!("no frame of seq {} at offset {at}", next_seq - 1)),
        }
    }
    for (k, e) in index.sparse().iter().enumerate() {
        let seq = index.base_seq + k as u64 * crate::index::SPARSE_EVERY;
        if frame(e.offset).is_none_or(|f| f.seq != seq || f.ts_ns != e.ts_ns) {
            return Err(format!("sparse entry {k} points at no frame of seq {seq} (offset {})", e.offset));
        }
    }
    // Past the last frame nothing is read: the seq count above already proves the index
    // holds every frame of the segment.
    Ok(())
}

/// How much of each body a scan decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    /// Only the session id: enough to index.
    Session,
    /// The whole event: every body is proven to decode.
    Full,
}

/// Scans a segment's bytes along `chain`, decoding each body (as `decode` says) to build
/// the index. A frame whose CRC is valid but whose body does not decode is damage: the scan
/// fails with its location.
pub fn scan_and_index(
    data: &[u8],
    header: &SegmentHeader,
    path: &Path,
    chain: Chain,
    probe: bool,
    decode: Decode,
) -> Result<(scan::Scan, SegmentIndex)> {
    let mut index = SegmentIndex::new(header.base_seq, offset32(header::HEADER_BYTES));
    let mut bad = None;
    let s = scan::scan(data, header.salt, header.layout(), chain, probe, |f, at| {
        if f.purged() {
            return index.note_purged(f.ts_ns, offset32(at), offset32(f.len()));
        }
        let mut note = |session: &str| index.note(f.ts_ns, offset32(at), offset32(f.len()), session);
        let decoded = match decode {
            Decode::Session => codec::decode_session(f.body).map(&mut note),
            Decode::Full => codec::decode(f.ts_ns, f.body).map(|e| note(e.session.as_str())),
        };
        if let Err(why) = decoded {
            bad.get_or_insert((at, f.seq, why));
        }
    });
    if let Some((at, seq, why)) = bad {
        return Err(Error::corrupt(path, at as u64, Some(seq), format!("record body: {why}")));
    }
    Ok((s, index))
}
