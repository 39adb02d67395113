//! The record frame: the only code that knows a frame's byte layout (formats/segment.md).
//!
//! ```text
//! offset size field (version 2)
//!      0    4 body_len     u32, 1..=RECORD_BODY_BYTES_MAX; 0 marks the end of data
//!      4    4 crc          CRC-32 of salt (8 bytes LE) ++ bytes 0..4 ++ bytes 8..32+body_len
//!      8    8 seq          u64
//!     16    8 ts_ns        i64
//!     24    4 durable_lag  u32: seq - (last durable seq when written); u32::MAX claims nothing
//!     28    4 batch        bits 0..29 position in the batch, bit 30 purged, bit 31 continues
//!     32    n body         the record body (formats/record.md)
//! ```
//!
//! Version 1 frames (read for `migrate`) stop at ts_ns: a 24-byte header, no lag, no batch.

use crate::limits::RECORD_BODY_BYTES_MAX;

/// Bytes before the body in the frames this build writes.
pub const FRAME_HEADER_BYTES: usize = 32;

const LEN_AT: usize = 0;
const CRC_AT: usize = 4;
const SEQ_AT: usize = 8;
const TS_AT: usize = 16;
const LAG_AT: usize = 24;
const BATCH_AT: usize = 28;

/// The batch word's bit saying more frames of the same batch follow.
pub const BATCH_CONTINUES: u32 = 1 << 31;
/// The batch word's *purged* bit: the frame is a tombstone, its body all zero
/// (formats/purge.md). Bits 0..29 are the position.
const BATCH_PURGED: u32 = 1 << 30;
/// The durable lag that claims nothing.
pub const LAG_NO_CLAIM: u32 = u32::MAX;

/// Which frame layout a segment holds (its format version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Version 1: a 24-byte header, every frame a batch of one, no durable lag.
    V1,
    /// Version 2: a 32-byte header with the durable lag and the batch word.
    V2,
}

impl Layout {
    /// Bytes before the body.
    pub const fn header_bytes(self) -> usize {
        match self {
            Layout::V1 => 24,
            Layout::V2 => FRAME_HEADER_BYTES,
        }
    }
}

/// A frame that passed every check: length in bounds and CRC matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record's seq.
    pub seq: u64,
    /// The record's wall-clock timestamp.
    pub ts_ns: i64,
    /// `seq` minus the last durable seq when the frame was written (`LAG_NO_CLAIM`: none).
    pub durable_lag: u32,
    /// The batch word: position in the batch, and whether more frames follow.
    pub batch: u32,
    /// The encoded record body.
    pub body: &'a [u8],
    /// Bytes before the body (per layout).
    header_bytes: usize,
    /// The frame's CRC field: what a snapshot binds to.
    pub crc: u32,
}

impl Frame<'_> {
    /// Bytes the frame occupies, header included.
    pub fn len(&self) -> usize {
        self.header_bytes + self.body.len()
    }

    /// A frame is never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The frame's position in its batch (0 = first).
    pub fn position(&self) -> u32 {
        self.batch & (BATCH_PURGED - 1)
    }

    /// True when more frames of the same batch follow this one.
    pub fn continues(&self) -> bool {
        self.batch & BATCH_CONTINUES != 0
    }

    /// True for a tombstone: the event was purged, only its seq, time and place in its
    /// batch remain.
    pub fn purged(&self) -> bool {
        self.batch & BATCH_PURGED != 0
    }

    /// The seq this frame says was durable when it was written, if it says any.
    pub fn durable_claim(&self) -> Option<u64> {
        match self.durable_lag {
            LAG_NO_CLAIM => None,
            lag => self.seq.checked_sub(u64::from(lag)).filter(|&d| d > 0),
        }
    }
}

/// The batch word of the frame at `position` in its batch.
pub fn batch_word(position: u32, continues: bool) -> u32 {
    (position & (BATCH_PURGED - 1)) | if continues { BATCH_CONTINUES } else { 0 }
}

/// The durable lag of a frame of seq `seq` written when `durable` was the last durable seq.
pub fn durable_lag(seq: u64, durable: u64) -> u32 {
    seq.checked_sub(durable)
        .and_then(|lag| u32::try_from(lag).ok())
        .filter(|&l| l != LAG_NO_CLAIM)
        .unwrap_or(LAG_NO_CLAIM)
}

/// What lies at an offset of a segment's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid frame.
    Frame(Frame<'a>),
    /// A zero length: the end of the data written so far.
    End,
    /// Not a valid frame, for the reason given.
    Bad(BadFrame),
}

/// Why the bytes at an offset are not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadFrame {
    /// Fewer than a header's bytes remain and they are not all zero.
    HeaderCut,
    /// The length is over the record limit.
    LengthOverLimit(u32),
    /// The length runs past the end of the segment.
    LengthPastEnd(u32),
    /// The checksum does not match.
    Checksum,
    /// The checksum matches but the frame is marked purged and its body is not all zero.
    PurgedWithBody,
}

impl std::fmt::Display for BadFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadFrame::HeaderCut => write!(f, "frame header cut short"),
            BadFrame::LengthOverLimit(n) => {
                write!(f, "length {n} over the {RECORD_BODY_BYTES_MAX}-byte limit")
            }
            BadFrame::LengthPastEnd(n) => write!(f, "length {n} runs past the segment end"),
            BadFrame::Checksum => write!(f, "checksum mismatch"),
            BadFrame::PurgedWithBody => write!(f, "tombstone with a non-zero body"),
        }
    }
}

/// Decodes the frame at `at` in `data`, the bytes of one segment. Never panics, never
/// allocates; every length is checked against the limit and the bytes left first.
pub fn decode(data: &[u8], at: usize, salt: u64, layout: Layout) -> Decoded<'_> {
    let header_bytes = layout.header_bytes();
    let Some(rest) = data.get(at..) else {
        return Decoded::End;
    };
    if rest.len() < header_bytes {
        return if rest.iter().all(|&b| b == 0) { Decoded::End } else { Decoded::Bad(BadFrame::HeaderCut) };
    }
    let body_len = read_u32(rest, LEN_AT);
    if body_len == 0 {
        return Decoded::End;
    }
    if body_len > RECORD_BODY_BYTES_MAX {
        return Decoded::Bad(BadFrame::LengthOverLimit(body_len));
    }
    let Some(frame) = rest.get(..header_bytes + body_len as usize) else {
        return Decoded::Bad(BadFrame::LengthPastEnd(body_len));
    };
    let crc = read_u32(frame, CRC_AT);
    if crc != checksum(SaltKey::new(salt), frame) {
        return Decoded::Bad(BadFrame::Checksum);
    }
    let (durable_lag, batch) = match layout {
        Layout::V1 => (LAG_NO_CLAIM, 0),
        Layout::V2 => (read_u32(frame, LAG_AT), read_u32(frame, BATCH_AT)),
    };
    if batch & BATCH_PURGED != 0 && frame[header_bytes..].iter().any(|&b| b != 0) {
        return Decoded::Bad(BadFrame::PurgedWithBody);
    }
    Decoded::Frame(Frame {
        seq: read_u64(frame, SEQ_AT),
        ts_ns: read_u64(frame, TS_AT) as i64,
        durable_lag,
        batch,
        body: &frame[header_bytes..],
        header_bytes,
        crc,
    })
}

/// A frame header's fields other than the length and CRC (version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The record's seq.
    pub seq: u64,
    /// Its timestamp.
    pub ts_ns: i64,
    /// `durable_lag(seq, durable)`.
    pub durable_lag: u32,
    /// `batch_word(position, continues)`.
    pub batch: u32,
}

/// Fills in the header of a version-2 frame whose body is already at
/// `dst[FRAME_HEADER_BYTES..]`. `dst` must be exactly the frame's bytes. Returns the CRC.
pub fn seal(dst: &mut [u8], stamp: Stamp, key: SaltKey) -> u32 {
    let body_len = crate::segment::offset32(dst.len() - FRAME_HEADER_BYTES);
    dst[LEN_AT..LEN_AT + 4].copy_from_slice(&body_len.to_le_bytes());
    dst[SEQ_AT..SEQ_AT + 8].copy_from_slice(&stamp.seq.to_le_bytes());
    dst[TS_AT..TS_AT + 8].copy_from_slice(&stamp.ts_ns.to_le_bytes());
    dst[LAG_AT..LAG_AT + 4].copy_from_slice(&stamp.durable_lag.to_le_bytes());
    dst[BATCH_AT..BATCH_AT + 4].copy_from_slice(&stamp.batch.to_le_bytes());
    let crc = checksum(key, dst);
    dst[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    crc
}

/// Makes a sealed version-2 frame (`dst` is exactly its bytes) the last of its batch:
/// clears its *continues* bit and recomputes its CRC. A streamed batch learns which frame
/// is its last only when it commits.
pub fn end_batch(dst: &mut [u8], key: SaltKey) {
    let batch = read_u32(dst, BATCH_AT);
    if batch & BATCH_CONTINUES == 0 {
        return;
    }
    dst[BATCH_AT..BATCH_AT + 4].copy_from_slice(&(batch & !BATCH_CONTINUES).to_le_bytes());
    let crc = checksum(key, dst);
    dst[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

/// Turns a valid version-2 frame (`dst` is exactly its bytes) into its tombstone: the
/// body zeroed, the *purged* bit set, the CRC recomputed; seq, time, durable lag and batch
/// position kept, so the chain and every offset stay as they were (formats/purge.md).
pub fn tombstone(dst: &mut [u8], key: SaltKey) {
    dst[FRAME_HEADER_BYTES..].fill(0);
    let batch = read_u32(dst, BATCH_AT) | BATCH_PURGED;
    dst[BATCH_AT..BATCH_AT + 4].copy_from_slice(&batch.to_le_bytes());
    let crc = checksum(key, dst);
    dst[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The segment salt that keys every frame checksum in the segment, so that a valid frame
/// copied from another segment or store never validates there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaltKey(u64);

impl SaltKey {
    /// The key of `salt`.
    pub fn new(salt: u64) -> SaltKey {
        SaltKey(salt)
    }
}

/// The CRC of a whole frame's bytes (its own CRC field excluded), keyed by the segment salt:
/// CRC-32(salt ‖ length ‖ everything after the CRC field). Salt and length go in one
/// update, so one hasher is set up per frame.
fn checksum(key: SaltKey, frame: &[u8]) -> u32 {
    let mut head = [0u8; 12];
    head[..8].copy_from_slice(&key.0.to_le_bytes());
    head[8..].copy_from_slice(&frame[LEN_AT..LEN_AT + 4]);
    let mut h = crc32fast::Hasher::new();
    h.update(&head);
    h.update(&frame[SEQ_AT..]);
    h.finalize()
}

/// Reads the seq field of a would-be frame without validating it; used to probe for frames
/// past a bad one. `None` when too few bytes remain.
pub fn peek_seq(data: &[u8], at: usize) -> Option<u64> {
    let field = data.get(at + SEQ_AT..at + SEQ_AT + 8)?;
    Some(u64::from_le_bytes(field.try_into().ok()?))
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: Layout = Layout::V2;

    fn frame_bytes(body: &[u8], seq: u64, ts: i64, salt: u64) -> Vec<u8> {
        let mut v = vec![0u8; FRAME_HEADER_BYTES + body.len()];
        v[FRAME_HEADER_BYTES..].copy_from_slice(body);
        let stamp = Stamp { seq, ts_ns: ts, durable_lag: 3, batch: batch_word(2, true) };
        seal(&mut v, stamp, SaltKey::new(salt));
        v
    }

    #[test]
    fn round_trip() {
        let v = frame_bytes(b"hello", 7, -3, 42);
        let Decoded::Frame(f) = decode(&v, 0, 42, V2) else { panic!("not a frame") };
        assert_eq!((f.seq, f.ts_ns, f.body, f.len()), (7, -3, &b"hello"[..], 37));
        assert_eq!((f.position(), f.continues(), f.durable_claim()), (2, true, Some(4)));
    }

    #[test]
    fn the_crc_is_crc32_of_salt_length_and_the_rest() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926, "CRC-32/ISO-HDLC check value");
        let salt = 0x0123_4567_89ab_cdef_u64;
        let v = frame_bytes(b"body bytes", 42, -7, salt);
        let mut spec = salt.to_le_bytes().to_vec();
        spec.extend_from_slice(&v[LEN_AT..LEN_AT + 4]);
        spec.extend_from_slice(&v[SEQ_AT..]);
        assert_eq!(read_u32(&v, CRC_AT), crc32fast::hash(&spec));
    }

    #[test]
    fn wrong_salt_fails_checksum() {
        let v = frame_bytes(b"hello", 7, 0, 42);
        assert_eq!(decode(&v, 0, 43, V2), Decoded::Bad(BadFrame::Checksum));
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let v = frame_bytes(b"some body bytes", 9, 123, 5);
        for bit in 0..v.len() * 8 {
            let mut w = v.clone();
            w[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(decode(&w, 0, 5, V2), Decoded::Frame(_)), "bit {bit} undetected");
        }
    }

    #[test]
    fn ending_the_batch_keeps_the_frame_valid() {
        let mut v = frame_bytes(b"x", 1, 0, 5);
        end_batch(&mut v, SaltKey::new(5));
        let Decoded::Frame(f) = decode(&v, 0, 5, V2) else { panic!("not a frame") };
        assert_eq!((f.position(), f.continues()), (2, false));
    }

    #[test]
    fn a_tombstone_keeps_seq_time_and_batch_and_nothing_else() {
        let mut v = frame_bytes(b"secret", 9, 123, 5);
        tombstone(&mut v, SaltKey::new(5));
        let Decoded::Frame(f) = decode(&v, 0, 5, V2) else { panic!("not a frame") };
        assert_eq!((f.seq, f.ts_ns, f.position(), f.continues(), f.purged()), (9, 123, 2, true, true));
        assert_eq!(f.body, &[0u8; 6][..]);
        // Marked purged but with a body: not a frame this build wrote.
        let mut w = v.clone();
        w[FRAME_HEADER_BYTES] = 1;
        let crc = checksum(SaltKey::new(5), &w);
        w[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode(&w, 0, 5, V2), Decoded::Bad(BadFrame::PurgedWithBody));
    }

    #[test]
    fn durable_lag_saturates_to_no_claim() {
        assert_eq!(durable_lag(10, 4), 6);
        assert_eq!(durable_lag(10, 0), 10);
        assert_eq!(durable_lag(1 << 40, 0), LAG_NO_CLAIM);
        assert_eq!(durable_lag(u64::from(u32::MAX), 0), LAG_NO_CLAIM);
    }

    #[test]
    fn hostile_lengths() {
        for len in [RECORD_BODY_BYTES_MAX + 1, 1 << 31, u32::MAX] {
            let mut v = vec![0u8; 64];
            v[..4].copy_from_slice(&len.to_le_bytes());
            assert_eq!(decode(&v, 0, 0, V2), Decoded::Bad(BadFrame::LengthOverLimit(len)));
        }
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(decode(&v, 0, 0, V2), Decoded::Bad(BadFrame::LengthPastEnd(100)));
        assert_eq!(decode(&[0u8; 64], 0, 0, V2), Decoded::End);
        assert_eq!(decode(&[0, 0, 1], 0, 0, V2), Decoded::Bad(BadFrame::HeaderCut));
        assert_eq!(decode(&[0u8; 3], 0, 0, V2), Decoded::End);
        assert_eq!(decode(&[0u8; 3], 99, 0, V2), Decoded::End);
    }
}
