//! Walking a segment's frames: where the chain of valid frames ends, and what lies after
//! it. Pure: works on a byte slice, does no I/O. It reports facts; whether a break is a torn
//! tail or damage is recovery's call, made against the durable evidence
//! (formats/recovery.md).

use crate::frame::{self, BadFrame, Decoded, Frame, Layout};
use crate::segment::header::HEADER_BYTES;

/// What the next frame of the chain must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// Its seq.
    pub seq: u64,
    /// Its position in its batch: 0 after a frame that ended its batch; `None` when the
    /// frame before is not known (the first frame read of a segment whose predecessor was
    /// not scanned).
    pub position: Option<u32>,
}

impl Chain {
    /// The chain at the start of a segment whose predecessor is unknown.
    pub fn start(base_seq: u64) -> Chain {
        Chain { seq: base_seq, position: None }
    }

    /// True when `f` is the frame this chain expects.
    pub fn accepts(&self, f: &Frame<'_>) -> bool {
        f.seq == self.seq && self.position.is_none_or(|p| p == f.position())
    }

    /// The chain after `f`.
    pub fn after(f: &Frame<'_>) -> Chain {
        Chain { seq: f.seq + 1, position: Some(if f.continues() { f.position() + 1 } else { 0 }) }
    }
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A zero length with only zero bytes after it.
    Clean,
    /// The chain breaks at the scan's end and non-zero bytes follow.
    Break(Break),
}

/// What follows a break in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    /// Why the bytes at the scan's end are not the next frame.
    pub why: Why,
    /// Offset one past the last non-zero byte: `[end, garbage_end)` is what a cut zeroes.
    pub garbage_end: usize,
    /// The first valid frame found after the break, if the scan looked: offset and seq.
    pub valid_after: Option<(usize, u64)>,
    /// The largest durable claim of the valid frames found after the break (0: none).
    pub claim_after: u64,
}

/// Why the frame at the end of the chain was rejected.
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
    /// A valid frame with the right seq whose batch position breaks the batch chain.
    Batch {
        /// The position found.
        found: u32,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::ZeroLength => write!(f, "zero length followed by non-zero bytes"),
            Why::Frame(b) => write!(f, "{b}"),
            Why::Seq { found } => write!(f, "frame with out-of-order seq {found}"),
            Why::Batch { found } => write!(f, "frame at batch position {found} breaks its batch"),
        }
    }
}

/// The last frame of the chain in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Last {
    /// Its offset.
    pub at: usize,
    /// Its seq.
    pub seq: u64,
    /// Its position in its batch.
    pub position: u32,
    /// Whether its batch continues after it.
    pub continues: bool,
}

/// The result of scanning one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Valid chained records found.
    pub records: u64,
    /// Offset one past the last chained frame (the header's end when there are none).
    pub end: usize,
    /// The last chained frame, if any.
    pub last: Option<Last>,
    /// The chain after the last frame: what the next one (here or in the next segment)
    /// must be.
    pub chain: Chain,
    /// The largest durable claim of the chained frames (0: none).
    pub claim: u64,
    /// How the scan ended.
    pub stop: Stop,
}

impl Scan {
    /// The seq the next record would have.
    pub fn next_seq(&self) -> u64 {
        self.chain.seq
    }

    /// Offset of the last chained frame, if any.
    pub fn last_frame_at(&self) -> Option<usize> {
        self.last.map(|l| l.at)
    }
}

/// Scans `data` (a segment, header included) from the first frame, following `chain`,
/// calling `visit` with each chained frame and its offset, in order. With `probe`, the
/// bytes after a break are searched for valid frames (their durable claims are evidence).
pub fn scan(
    data: &[u8],
    salt: u64,
    layout: Layout,
    mut chain: Chain,
    probe: bool,
    mut visit: impl FnMut(&Frame<'_>, usize),
) -> Scan {
    let mut at = HEADER_BYTES;
    let (mut records, mut last, mut claim) = (0, None, 0);
    let why = loop {
        match frame::decode(data, at, salt, layout) {
            Decoded::Frame(f) if chain.accepts(&f) => {
                visit(&f, at);
                last = Some(Last { at, seq: f.seq, position: f.position(), continues: f.continues() });
                claim = claim.max(f.durable_claim().unwrap_or(0));
                chain = Chain::after(&f);
                records += 1;
                at += f.len();
            }
            Decoded::Frame(f) if f.seq != chain.seq => break Why::Seq { found: f.seq },
            Decoded::Frame(f) => break Why::Batch { found: f.position() },
            Decoded::End => break Why::ZeroLength,
            Decoded::Bad(b) => break Why::Frame(b),
        }
    };
    let stop = classify(data, at, salt, layout, chain.seq, why, probe);
    Scan { records, end: at, last, chain, claim, stop }
}

/// What the bytes from `at` on are: nothing, or a break with what follows it.
fn classify(data: &[u8], at: usize, salt: u64, layout: Layout, seq: u64, why: Why, probe: bool) -> Stop {
    let tail = data.get(at..).unwrap_or(&[]);
    let Some(garbage) = last_nonzero(tail) else {
        return Stop::Clean;
    };
    let garbage_end = at + garbage + 1;
    let (valid_after, claim_after) =
        if probe { probe_after(data, at + 1, garbage_end, salt, layout, seq) } else { (None, 0) };
    Stop::Break(Break { why, garbage_end, valid_after, claim_after })
}

/// Searches `[from, to)` for valid frames whose seq this segment could still hold (`>=
/// seq`): the first one found, and the largest durable claim among all of them. Frames
/// start at any byte, so every offset is tried; the seq filter keeps the CRC work to
/// candidates, and after a valid frame the search jumps over it.
fn probe_after(
    data: &[u8],
    from: usize,
    to: usize,
    salt: u64,
    layout: Layout,
    seq: u64,
) -> (Option<(usize, u64)>, u64) {
    let window = (data.len() / (layout.header_bytes() + 1)) as u64 + 1;
    let (mut first, mut claim) = (None, 0);
    let mut at = from;
    while at < to {
        let candidate = frame::peek_seq(data, at).is_some_and(|s| s.wrapping_sub(seq) < window);
        match candidate.then(|| frame::decode(data, at, salt, layout)) {
            Some(Decoded::Frame(f)) => {
                first.get_or_insert((at, f.seq));
                claim = claim.max(f.durable_claim().unwrap_or(0));
                at += f.len();
            }
            _ => at += 1,
        }
    }
    (first, claim)
}

/// Index of the last non-zero byte, fast over long zero runs.
pub fn last_nonzero(b: &[u8]) -> Option<usize> {
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
    use crate::frame::{FRAME_HEADER_BYTES, SaltKey, Stamp, batch_word};

    const SALT: u64 = 99;
    const V2: Layout = Layout::V2;

    /// A segment of `records` (body, continues) starting at `base`, every frame claiming
    /// `durable` was durable.
    fn segment(records: &[(&[u8], bool)], base: u64, len: usize, durable: u64) -> (Vec<u8>, Vec<usize>) {
        let mut data = vec![0u8; len];
        let mut at = HEADER_BYTES;
        let mut offsets = vec![];
        let mut position = 0;
        for (i, (body, continues)) in records.iter().enumerate() {
            let n = FRAME_HEADER_BYTES + body.len();
            data[at + FRAME_HEADER_BYTES..at + n].copy_from_slice(body);
            let seq = base + i as u64;
            let stamp = Stamp {
                seq,
                ts_ns: 0,
                durable_lag: crate::frame::durable_lag(seq, durable),
                batch: batch_word(position, *continues),
            };
            frame::seal(&mut data[at..at + n], stamp, SaltKey::new(SALT));
            position = if *continues { position + 1 } else { 0 };
            offsets.push(at);
            at += n;
        }
        (data, offsets)
    }

    fn run(data: &[u8], base: u64) -> Scan {
        scan(data, SALT, V2, Chain::start(base), true, |_, _| {})
    }

    #[test]
    fn clean_end() {
        let (data, offs) = segment(&[(b"a", false), (b"bb", false), (b"ccc", false)], 10, 512, 0);
        let mut seen = vec![];
        let s = scan(&data, SALT, V2, Chain::start(10), true, |f, at| seen.push((f.seq, at)));
        assert_eq!((s.records, s.stop, s.next_seq()), (3, Stop::Clean, 13));
        assert_eq!(seen, vec![(10, offs[0]), (11, offs[1]), (12, offs[2])]);
        assert_eq!(s.end, offs[2] + FRAME_HEADER_BYTES + 3);
    }

    #[test]
    fn a_bad_last_frame_breaks_the_chain_with_nothing_after() {
        let (mut data, offs) = segment(&[(b"a", false), (b"bb", false), (b"ccc", false)], 1, 512, 0);
        data[offs[2] + FRAME_HEADER_BYTES] ^= 0xff;
        let s = run(&data, 1);
        assert_eq!((s.records, s.end), (2, offs[2]));
        let Stop::Break(b) = s.stop else { panic!("{:?}", s.stop) };
        assert_eq!((b.why, b.valid_after), (Why::Frame(BadFrame::Checksum), None));
    }

    #[test]
    fn a_bad_middle_frame_is_followed_by_valid_ones_and_their_claims() {
        let (mut data, offs) = segment(&[(b"a", false), (b"bb", false), (b"ccc", false)], 1, 512, 2);
        data[offs[1] + FRAME_HEADER_BYTES] ^= 0x01;
        let s = run(&data, 1);
        assert_eq!(s.records, 1);
        let Stop::Break(b) = s.stop else { panic!("{:?}", s.stop) };
        assert_eq!((b.valid_after, b.claim_after), (Some((offs[2], 3)), 2));
    }

    #[test]
    fn a_batch_that_does_not_chain_breaks_it() {
        // Frame 2 says it continues, frame 3 claims to start a new batch: not chained.
        let (data, _) = segment(&[(b"a", false), (b"bb", true)], 1, 512, 0);
        let (other, _) = segment(&[(b"ccc", false)], 3, 512, 0);
        let mut data = data;
        let end = run(&data, 1).end;
        data[end..end + FRAME_HEADER_BYTES + 3].copy_from_slice(&other[HEADER_BYTES..HEADER_BYTES + 35]);
        let s = run(&data, 1);
        assert_eq!(s.records, 2);
        assert!(matches!(s.stop, Stop::Break(Break { why: Why::Batch { found: 0 }, .. })));
        assert_eq!(s.last.map(|l| (l.seq, l.continues)), Some((2, true)));
    }

    #[test]
    fn stale_record_past_the_end_is_not_resurrected() {
        let (mut data, offs) = segment(&[(b"a", false), (b"bb", false)], 1, 512, 0);
        let first = data[offs[0]..offs[1]].to_vec();
        let end = offs[1] + FRAME_HEADER_BYTES + 2;
        data[end..end + first.len()].copy_from_slice(&first);
        let s = run(&data, 1);
        assert_eq!(s.records, 2);
        let Stop::Break(b) = s.stop else { panic!("{:?}", s.stop) };
        assert_eq!((b.why, b.garbage_end), (Why::Seq { found: 1 }, end + first.len()));
    }
}
