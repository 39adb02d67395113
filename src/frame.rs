//! The record frame: the only code that knows a frame's byte layout (formats/segment.md).
//!
//! ```text
//! offset size field
//!      0    4 body_len  u32, 1..=RECORD_BODY_BYTES_MAX; 0 marks the end of data
//!      4    4 crc       CRC-32 (IEEE) of salt (8 bytes LE) ++ bytes 0..4 ++ bytes 8..24+body_len
//!      8    8 seq       u64
//!     16    8 ts_ns     i64
//!     24    n body      the record body (formats/record.md)
//! ```

use crate::limits::RECORD_BODY_BYTES_MAX;

/// Bytes before the body.
pub const FRAME_HEADER_BYTES: usize = 24;

const LEN_AT: usize = 0;
const CRC_AT: usize = 4;
const SEQ_AT: usize = 8;
const TS_AT: usize = 16;

/// A frame that passed every check: length in bounds and CRC matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The record's seq.
    pub seq: u64,
    /// The record's wall-clock timestamp.
    pub ts_ns: i64,
    /// The encoded record body.
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// Bytes the frame occupies, header included.
    pub fn len(&self) -> usize {
        FRAME_HEADER_BYTES + self.body.len()
    }

    /// A frame is never empty; present for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
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
        }
    }
}

/// Decodes the frame at `at` in `data`, the bytes of one segment. Never panics, never
/// allocates; every length is checked against the limit and the bytes left first.
pub fn decode(data: &[u8], at: usize, salt: u64) -> Decoded<'_> {
    let Some(rest) = data.get(at..) else {
        return Decoded::End;
    };
    if rest.len() < FRAME_HEADER_BYTES {
        return if rest.iter().all(|&b| b == 0) { Decoded::End } else { Decoded::Bad(BadFrame::HeaderCut) };
    }
    let body_len = read_u32(rest, LEN_AT);
    if body_len == 0 {
        return Decoded::End;
    }
    if body_len > RECORD_BODY_BYTES_MAX {
        return Decoded::Bad(BadFrame::LengthOverLimit(body_len));
    }
    let total = FRAME_HEADER_BYTES + body_len as usize;
    let Some(frame) = rest.get(..total) else {
        return Decoded::Bad(BadFrame::LengthPastEnd(body_len));
    };
    if read_u32(frame, CRC_AT) != checksum(SaltKey::new(salt), frame) {
        return Decoded::Bad(BadFrame::Checksum);
    }
    Decoded::Frame(Frame {
        seq: read_u64(frame, SEQ_AT),
        ts_ns: read_u64(frame, TS_AT) as i64,
        body: &frame[FRAME_HEADER_BYTES..],
    })
}

/// Fills in the header of a frame whose body is already at `dst[FRAME_HEADER_BYTES..]`.
/// `dst` must be exactly the frame's bytes.
pub fn seal(dst: &mut [u8], seq: u64, ts_ns: i64, salt: u64) {
    seal_keyed(dst, seq, ts_ns, SaltKey::new(salt));
}

/// `seal` with the salt's CRC prefix computed once per segment (the append path).
pub fn seal_keyed(dst: &mut [u8], seq: u64, ts_ns: i64, key: SaltKey) {
    let body_len = crate::segment::offset32(dst.len() - FRAME_HEADER_BYTES);
    dst[LEN_AT..LEN_AT + 4].copy_from_slice(&body_len.to_le_bytes());
    dst[SEQ_AT..SEQ_AT + 8].copy_from_slice(&seq.to_le_bytes());
    dst[TS_AT..TS_AT + 8].copy_from_slice(&ts_ns.to_le_bytes());
    let crc = checksum(key, dst);
    dst[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The CRC of a segment's salt bytes: every frame checksum in the segment starts with them,
/// so the CRC can resume from this value instead of hashing them again (same result).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaltKey(u32);

impl SaltKey {
    /// The key of `salt`.
    pub fn new(salt: u64) -> SaltKey {
        SaltKey(crc32fast::hash(&salt.to_le_bytes()))
    }
}

/// The CRC of a whole frame's bytes (its own CRC field excluded), keyed by the segment salt
/// so a valid frame copied from another segment or store never validates here:
/// CRC-32(salt ‖ length ‖ seq ‖ ts ‖ body), resumed after the salt.
fn checksum(key: SaltKey, frame: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(key.0);
    h.update(&frame[LEN_AT..LEN_AT + 4]);
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

    fn frame_bytes(body: &[u8], seq: u64, ts: i64, salt: u64) -> Vec<u8> {
        let mut v = vec![0u8; FRAME_HEADER_BYTES + body.len()];
        v[FRAME_HEADER_BYTES..].copy_from_slice(body);
        seal(&mut v, seq, ts, salt);
        v
    }

    #[test]
    fn round_trip() {
        let v = frame_bytes(b"hello", 7, -3, 42);
        let Decoded::Frame(f) = decode(&v, 0, 42) else { panic!("not a frame") };
        assert_eq!((f.seq, f.ts_ns, f.body, f.len()), (7, -3, &b"hello"[..], 29));
    }

    #[test]
    fn the_crc_is_crc32_of_salt_length_and_the_rest() {
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
        assert_eq!(decode(&v, 0, 43), Decoded::Bad(BadFrame::Checksum));
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let v = frame_bytes(b"some body bytes", 9, 123, 5);
        for bit in 0..v.len() * 8 {
            let mut w = v.clone();
            w[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(decode(&w, 0, 5), Decoded::Frame(_)), "bit {bit} undetected");
        }
    }

    #[test]
    fn hostile_lengths() {
        for len in [RECORD_BODY_BYTES_MAX + 1, 1 << 31, u32::MAX] {
            let mut v = vec![0u8; 64];
            v[..4].copy_from_slice(&len.to_le_bytes());
            assert_eq!(decode(&v, 0, 0), Decoded::Bad(BadFrame::LengthOverLimit(len)));
        }
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(decode(&v, 0, 0), Decoded::Bad(BadFrame::LengthPastEnd(100)));
        assert_eq!(decode(&[0u8; 64], 0, 0), Decoded::End);
        assert_eq!(decode(&[0, 0, 1], 0, 0), Decoded::Bad(BadFrame::HeaderCut));
        assert_eq!(decode(&[0u8; 3], 0, 0), Decoded::End);
        assert_eq!(decode(&[0u8; 3], 99, 0), Decoded::End);
    }
}
