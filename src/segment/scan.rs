//! Walking a segment's frames: where the valid data ends, and whether what follows is a torn
//! tail (cut it) or corruption (refuse). Pure: works on a byte slice, does no I/O.

use crate::frame::{self, BadFrame, Decoded, FRAME_HEADER_BYTES, Frame};
use crate::segment::header::HEADER_BYTES;

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A zero length with only zero bytes after it.
    Clean,
    /// Invalid bytes with no valid frame after them: a write cut short by a crash.
    Torn {
        /// Why the first invalid frame was rejected.
        why: Why,
        /// Offset one past the last non-zero byte: `[end, garbage_end)` is what a repair zeroes.
        garbage_end: usize,
    },
    /// Invalid bytes followed by a valid frame: damage that must not be cut silently.
    Corrupt {
        /// Why the frame at the scan's end was rejected.
        why: Why,
        /// Offset of the next valid frame found.
        next_valid_at: usize,
        /// Its seq.
        next_valid_seq: u64,
    },
}

/// Why the frame at the end of the valid data was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Zero length (end of data) followed by non-zero bytes.
    ZeroLength,
    /// The frame itself is bad.
    Frame(BadFrame),
    /// A valid frame whose seq breaks continuity (a stale or copied record).
    Seq {
        /// The seq found.
        found: u64,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::ZeroLength => write!(f, "zero length followed by non-zero bytes"),
            Why::Frame(b) => write!(f, "{b}"),
            Why::Seq { found } => write!(f, "frame with out-of-order seq {found}"),
        }
    }
}

/// The result of scanning one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Valid records found.
    pub records: u64,
    /// Offset one past the last valid frame (the header's end when there are none).
    pub end: usize,
    /// Offset of the last valid frame, if any.
    pub last_frame_at: Option<usize>,
    /// How the scan ended.
    pub stop: Stop,
}

impl Scan {
    /// The seq the next record would have.
    pub fn next_seq(&self, base_seq: u64) -> u64 {
        base_seq + self.records
    }
}

/// Scans `data` (a whole segment, header included) from the first frame, calling `visit`
/// with each valid frame and its offset, in order.
pub fn scan(data: &[u8], salt: u64, base_seq: u64, mut visit: impl FnMut(&Frame<'_>, usize)) -> Scan {
    let mut at = HEADER_BYTES;
    let mut seq = base_seq;
    let mut last_frame_at = None;
    let why = loop {
        match frame::decode(data, at, salt) {
            Decoded::Frame(f) if f.seq == seq => {
                visit(&f, at);
                last_frame_at = Some(at);
                at += f.len();
                seq += 1;
            }
            Decoded::Frame(f) => break Why::Seq { found: f.seq },
            Decoded::End => break Why::ZeroLength,
            Decoded::Bad(b) => break Why::Frame(b),
        }
    };
    let records = seq - base_seq;
    let stop = classify(data, at, salt, seq, why);
    Scan { records, end: at, last_frame_at, stop }
}

/// Decides what the bytes from `at` on are: nothing, a torn tail, or a bad frame with valid
/// frames after it.
fn classify(data: &[u8], at: usize, salt: u64, seq: u64, why: Why) -> Stop {
    let tail = data.get(at..).unwrap_or(&[]);
    let Some(garbage) = last_nonzero(tail) else {
        return Stop::Clean;
    };
    let garbage_end = at + garbage + 1;
    match probe(data, at + 1, garbage_end, salt, seq) {
        Some((next_valid_at, next_valid_seq)) => Stop::Corrupt { why, next_valid_at, next_valid_seq },
        None => Stop::Torn { why, garbage_end },
    }
}

/// Looks for a valid frame starting in `[from, to)` whose seq is one this segment could
/// still hold (`>= seq`). Frames start at any byte, so every offset is tried; the seq filter
/// keeps the CRC work to candidates.
fn probe(data: &[u8], from: usize, to: usize, salt: u64, seq: u64) -> Option<(usize, u64)> {
    let window = (data.len() / (FRAME_HEADER_BYTES + 1)) as u64 + 1;
    (from..to).find_map(|at| {
        let s = frame::peek_seq(data, at)?;
        if s.wrapping_sub(seq) >= window {
            return None;
        }
        match frame::decode(data, at, salt) {
            Decoded::Frame(f) => Some((at, f.seq)),
            _ => None,
        }
    })
}

/// Index of the last non-zero byte, fast over long zero runs.
fn last_nonzero(b: &[u8]) -> Option<usize> {
    const CHUNK: usize = 256;
    let mut end = b.len();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &b[start..end];
        if chunk.iter().fold(0u8, |acc, &x| acc | x) != 0 {
            return chunk.iter().rposition(|&x| x != 0).map(|i| start + i);
        }
        end = start;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: u64 = 99;

    fn segment(records: &[&[u8]], base: u64, len: usize) -> (Vec<u8>, Vec<usize>) {
        let mut data = vec![0u8; len];
        let mut at = HEADER_BYTES;
        let mut offsets = vec![];
        for (i, body) in records.iter().enumerate() {
            let n = FRAME_HEADER_BYTES + body.len();
            data[at + FRAME_HEADER_BYTES..at + n].copy_from_slice(body);
            frame::seal(&mut data[at..at + n], base + i as u64, 0, SALT);
            offsets.push(at);
            at += n;
        }
        (data, offsets)
    }

    #[test]
    fn clean_end() {
        let (data, offs) = segment(&[b"a", b"bb", b"ccc"], 10, 512);
        let mut seen = vec![];
        let s = scan(&data, SALT, 10, |f, at| seen.push((f.seq, at)));
        assert_eq!(s.records, 3);
        assert_eq!(s.stop, Stop::Clean);
        assert_eq!(seen, vec![(10, offs[0]), (11, offs[1]), (12, offs[2])]);
        assert_eq!(s.end, offs[2] + FRAME_HEADER_BYTES + 3);
    }

    #[test]
    fn torn_last_frame_is_cut() {
        let (mut data, offs) = segment(&[b"a", b"bb", b"ccc"], 1, 512);
        data[offs[2] + FRAME_HEADER_BYTES] ^= 0xff;
        let s = scan(&data, SALT, 1, |_, _| {});
        assert_eq!(s.records, 2);
        assert_eq!(s.end, offs[2]);
        assert!(matches!(s.stop, Stop::Torn { why: Why::Frame(BadFrame::Checksum), .. }));
    }

    #[test]
    fn damaged_middle_frame_is_corruption() {
        let (mut data, offs) = segment(&[b"a", b"bb", b"ccc"], 1, 512);
        data[offs[1] + FRAME_HEADER_BYTES] ^= 0x01;
        let s = scan(&data, SALT, 1, |_, _| {});
        assert_eq!(s.records, 1);
        assert_eq!(
            s.stop,
            Stop::Corrupt { why: Why::Frame(BadFrame::Checksum), next_valid_at: offs[2], next_valid_seq: 3 }
        );
    }

    #[test]
    fn stale_record_past_the_end_is_not_resurrected() {
        let (mut data, offs) = segment(&[b"a", b"bb"], 1, 512);
        let first = data[offs[0]..offs[1]].to_vec();
        let end = offs[1] + FRAME_HEADER_BYTES + 2;
        data[end..end + first.len()].copy_from_slice(&first);
        let s = scan(&data, SALT, 1, |_, _| {});
        assert_eq!(s.records, 2);
        assert_eq!(s.stop, Stop::Torn { why: Why::Seq { found: 1 }, garbage_end: end + first.len() });
    }
}
