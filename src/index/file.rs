//! `NNNNNNNNNN.idx`: a segment's sidecar index on disk (formats/index.md). Decoding treats
//! the bytes as hostile: every count is checked against the bytes left before any allocation.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::{Postings, SPARSE_EVERY, SegmentIndex, SparseEntry};
use crate::disk::Disk;
use crate::header::{HEADER_BYTES, HeaderBuf, HeaderView};
use crate::limits::ID_BYTES_MAX;

const MAGIC: &[u8; 8] = b"WFINDEX\0";
/// Index format version this build writes and reads.
pub const VERSION: u16 = 1;
const END_AT: usize = 12;
const STORE_ID_AT: usize = 16;
const SALT_AT: usize = 24;
const SEGMENT_NO_AT: usize = 32;
const BASE_SEQ_AT: usize = 40;
const RECORDS_AT: usize = 48;
const LAST_FRAME_AT: usize = 56;

/// Which segment an index belongs to: all must match for the index to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexKey {
    /// The store's id.
    pub store_id: u64,
    /// The segment's salt.
    pub salt: u64,
    /// The segment's number.
    pub segment_no: u64,
}

/// Encodes an index file into one buffer (tests and fuzzing; the store streams its index
/// files to disk as it encodes them).
pub fn encode(key: IndexKey, index: &SegmentIndex) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(index));
    // Writing into a Vec cannot fail.
    let _ = encode_to(key, index, &mut out);
    out
}

/// Publishes `index` as `dir/name` atomically, streamed to the file: an index is megabytes,
/// and a writer that encoded it into one buffer first held it twice and left the freed
/// buffer in the allocator, in a process that must stay small.
pub(crate) fn publish(
    disk: &Disk,
    dir: &Path,
    name: &str,
    key: IndexKey,
    index: &SegmentIndex,
) -> crate::Result<()> {
    disk.write_atomic_with(dir, name, |out| encode_to(key, index, out))
}

/// The encoded size of `index`, in bytes.
fn encoded_len(index: &SegmentIndex) -> usize {
    let postings: usize = index.sessions.iter().map(|(id, p)| 1 + id.len() + 4 + 4 * p.len()).sum();
    HEADER_BYTES + 4 + 12 * index.sparse.len() + 4 + postings + 4
}

/// Writes an index file to `out`: its header, then its body through a buffer that the
/// body's CRC is computed over, then the CRC.
#[expect(
    clippy::cast_possible_truncation,
    reason = "counts are bounded by the records of one segment (< 2^32 bytes) and ids by 128 bytes"
)]
fn encode_to(key: IndexKey, index: &SegmentIndex, out: &mut dyn Write) -> io::Result<()> {
    let mut h = HeaderBuf::new(MAGIC, VERSION);
    h.put_u32(END_AT, index.end)
        .put_u64(STORE_ID_AT, key.store_id)
        .put_u64(SALT_AT, key.salt)
        .put_u64(SEGMENT_NO_AT, key.segment_no)
        .put_u64(BASE_SEQ_AT, index.base_seq)
        .put_u64(RECORDS_AT, index.records)
        .put_u32(LAST_FRAME_AT, index.last_frame_at);
    out.write_all(&h.finish())?;
    let mut body = BufWriter::with_capacity(WRITE_CHUNK, Summed { crc: crc32fast::Hasher::new(), out });
    body.write_all(&(index.sparse.len() as u32).to_le_bytes())?;
    for e in &index.sparse {
        body.write_all(&e.offset.to_le_bytes())?;
        body.write_all(&e.ts_ns.to_le_bytes())?;
    }
    let ids = index.sessions();
    body.write_all(&(ids.len() as u32).to_le_bytes())?;
    for id in ids {
        let Some(postings) = index.postings(id) else { continue };
        body.write_all(&[id.len() as u8])?;
        body.write_all(id.as_bytes())?;
        body.write_all(&(postings.len() as u32).to_le_bytes())?;
        for o in postings.iter() {
            body.write_all(&o.to_le_bytes())?;
        }
    }
    let Summed { crc, out } = body.into_inner().map_err(io::IntoInnerError::into_error)?;
    out.write_all(&crc.finalize().to_le_bytes())
}

/// Bytes handed to the file at a time.
const WRITE_CHUNK: usize = 64 * 1024;

/// A writer that sums what passes through it.
struct Summed<'a> {
    crc: crc32fast::Hasher,
    out: &'a mut dyn Write,
}

impl Write for Summed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An index file's header: what it says about its segment without reading its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    /// The store it belongs to.
    pub store_id: u64,
    /// Its segment's salt.
    pub salt: u64,
    /// Its segment's number.
    pub segment_no: u64,
    /// Its segment's base seq.
    pub base_seq: u64,
    /// Frames in the segment.
    pub records: u64,
    /// Offset one past the last frame.
    pub end: u32,
    /// Offset of the last frame (0 if none).
    pub last_frame_at: u32,
}

impl IndexHeader {
    /// The segment's last seq (its base minus one when it holds no frame).
    pub fn last_seq(&self) -> u64 {
        (self.base_seq + self.records).saturating_sub(1)
    }
}

/// Decodes only the 64-byte header (magic, version, CRC): recovery's evidence that the
/// segment was sealed ([formats/index.md]). The body is not read or trusted.
pub fn decode_header(bytes: &[u8]) -> Result<IndexHeader, Rejected> {
    let h = HeaderView::check(bytes, MAGIC, VERSION).map_err(|e| Rejected(e.to_string()))?;
    let header = IndexHeader {
        store_id: h.u64(STORE_ID_AT),
        salt: h.u64(SALT_AT),
        segment_no: h.u64(SEGMENT_NO_AT),
        base_seq: h.u64(BASE_SEQ_AT),
        records: h.u64(RECORDS_AT),
        end: h.u32(END_AT),
        last_frame_at: h.u32(LAST_FRAME_AT),
    };
    if !(1..=crate::limits::SEQ_MAX).contains(&header.base_seq) || header.records > crate::limits::SEQ_MAX {
        return Err(Rejected("base seq or record count out of range".into()));
    }
    Ok(header)
}

/// Why an index file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

/// Decodes an index file and checks it belongs to the segment `key` names. Checking it
/// against the segment's frames is the caller's job (`segment` module).
pub fn decode(bytes: &[u8], key: IndexKey) -> Result<SegmentIndex, Rejected> {
    let reject = |s: &str| Rejected(s.to_owned());
    let h = HeaderView::check(bytes, MAGIC, VERSION).map_err(|e| Rejected(e.to_string()))?;
    if h.u64(STORE_ID_AT) != key.store_id {
        return Err(reject("index of another store"));
    }
    if h.u64(SALT_AT) != key.salt || h.u64(SEGMENT_NO_AT) != key.segment_no {
        return Err(reject("index of another segment"));
    }
    let body = &bytes[HEADER_BYTES..];
    let (content, crc) = body.split_last_chunk::<4>().ok_or_else(|| reject("body cut short"))?;
    if u32::from_le_bytes(*crc) != crc32fast::hash(content) {
        return Err(reject("body checksum mismatch"));
    }
    let mut index = SegmentIndex::new(h.u64(BASE_SEQ_AT), h.u32(END_AT));
    index.records = h.u64(RECORDS_AT);
    index.last_frame_at = h.u32(LAST_FRAME_AT);
    let mut c = Cursor(content);
    index.sparse = decode_sparse(&mut c, index.records)?;
    index.sessions = decode_sessions(&mut c, &index)?;
    if !c.0.is_empty() {
        return Err(reject("trailing bytes after the sessions"));
    }
    Ok(index)
}

fn decode_sparse(c: &mut Cursor<'_>, records: u64) -> Result<Vec<SparseEntry>, Rejected> {
    let n = c.u32()? as usize;
    if n as u64 != records.div_ceil(SPARSE_EVERY) {
        return Err(Rejected(format!("{n} sparse entries for {records} records")));
    }
    c.need(n.saturating_mul(12))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = c.u32()?;
        let ts_ns = i64::from_le_bytes(c.take(8)?.try_into().map_err(|_| Rejected("ts".into()))?);
        out.push(SparseEntry { offset, ts_ns });
    }
    Ok(out)
}

fn decode_sessions(c: &mut Cursor<'_>, index: &SegmentIndex) -> Result<super::SessionMap, Rejected> {
    let n = c.u32()? as usize;
    // Each session takes at least 1 + 1 + 4 + 4 bytes: bounds the map before it grows.
    c.need(n.saturating_mul(10))?;
    let mut sessions = super::SessionMap::with_capacity_and_hasher(n, Default::default());
    let mut postings = 0u64;
    let mut prev: Option<&str> = None;
    for _ in 0..n {
        let len = c.take(1)?[0] as usize;
        if len == 0 || len > ID_BYTES_MAX {
            return Err(Rejected(format!("session id of {len} bytes")));
        }
        let id = std::str::from_utf8(c.take(len)?).map_err(|_| Rejected("session id not UTF-8".into()))?;
        if prev.is_some_and(|p| p >= id) {
            return Err(Rejected("session ids not sorted".into()));
        }
        prev = Some(id);
        let offsets = decode_offsets(c, index)?;
        postings += offsets.len() as u64;
        sessions.insert(Box::from(id), offsets);
    }
    // Tombstones belong to no session: fewer postings than records is a purged segment.
    if postings > index.records {
        return Err(Rejected(format!("{postings} session postings for {} records", index.records)));
    }
    Ok(sessions)
}

fn decode_offsets(c: &mut Cursor<'_>, index: &SegmentIndex) -> Result<Postings, Rejected> {
    let n = c.u32()? as usize;
    if n == 0 || n as u64 > index.records {
        return Err(Rejected(format!("session with {n} postings")));
    }
    c.need(n.saturating_mul(4))?;
    let mut out = Postings::default();
    for _ in 0..n {
        let o = c.u32()?;
        if o < crate::segment::offset32(HEADER_BYTES) || o >= index.end || out.last().is_some_and(|p| p >= o)
        {
            return Err(Rejected(format!("posting offset {o} out of order or range")));
        }
        out.push(o);
    }
    Ok(out)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn need(&self, n: usize) -> Result<(), Rejected> {
        if self.0.len() < n {
            return Err(Rejected("body cut short".into()));
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Rejected> {
        self.need(n)?;
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, Rejected> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: IndexKey = IndexKey { store_id: 1, salt: 2, segment_no: 3 };

    fn sample() -> SegmentIndex {
        let mut ix = SegmentIndex::new(100, 64);
        for i in 0..200u32 {
            let session = if i % 3 == 0 { "alpha" } else { "beta" };
            ix.note(i64::from(i), 64 + i * 40, 40, session);
        }
        ix
    }

    #[test]
    fn round_trip() {
        let ix = sample();
        assert_eq!(decode(&encode(KEY, &ix), KEY), Ok(ix));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_rejected() {
        let bytes = encode(KEY, &sample());
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], KEY).is_err(), "truncated at {n}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&b, KEY).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn foreign_index_is_rejected() {
        let bytes = encode(KEY, &sample());
        let other = IndexKey { segment_no: 4, ..KEY };
        assert_eq!(decode(&bytes, other), Err(Rejected("index of another segment".into())));
    }
}
