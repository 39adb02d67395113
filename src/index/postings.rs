//! One session's frame offsets in a segment, kept in fixed-size blocks.
//!
//! A writer's index holds a posting per event of its open segment: hundreds of thousands
//! for one busy session. Grown as one array, each doubling copies it and frees the old
//! block, and the allocator keeps those freed megabytes (glibc raises its mmap threshold
//! after each large free, so later ones stay in the heap), which made a writer's memory
//! grow with its log. Blocks of `BLOCK` offsets (4 KiB) are allocated once, never moved,
//! and reused from the allocator's free lists by the next segment.

/// Bytes per block: a 4 KiB allocation.
const BLOCK: usize = 4096;

/// The longest LEB128 encoding of a `u32`.
const VARINT_MAX: usize = 5;

/// Frame offsets in ascending order, each stored as its LEB128-encoded distance from the
/// one before (frames are tens to hundreds of bytes apart: one or two bytes a posting
/// instead of four). A block takes postings while one more of any size fits, so two equal
/// sequences of offsets are laid out alike (equality is derived).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Postings {
    blocks: Vec<Vec<u8>>,
    len: u32,
    last: u32,
}

impl Postings {
    /// Postings holding one offset.
    pub fn one(at: u32) -> Self {
        let mut p = Postings::default();
        p.push(at);
        p
    }

    /// Appends an offset; callers append in ascending order (a smaller one is stored as a
    /// distance that wraps, and reads back as what was pushed).
    pub fn push(&mut self, at: u32) {
        let delta = at.wrapping_sub(self.last);
        match self.blocks.last_mut() {
            Some(last) if last.len() + VARINT_MAX <= BLOCK => put_varint(last, delta),
            // The next block is allocated at its final size. The first grows from a few
            // bytes, so a session with few events here costs few bytes.
            _ => {
                let mut block = Vec::with_capacity(if self.blocks.is_empty() { VARINT_MAX } else { BLOCK });
                put_varint(&mut block, delta);
                self.blocks.push(block);
            }
        }
        self.len += 1;
        self.last = at;
    }

    /// How many offsets.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The offsets in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let mut at = 0u32;
        self.blocks.iter().flat_map(|b| Varints(b)).map(move |delta| {
            at = at.wrapping_add(delta);
            at
        })
    }

    /// The last offset.
    pub fn last(&self) -> Option<u32> {
        (self.len > 0).then_some(self.last)
    }

    /// Keeps the offsets `keep` accepts (a purge or an abandoned batch: rare, so rebuilt).
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        let mut kept = Postings::default();
        for at in self.iter().filter(|&at| keep(at)) {
            kept.push(at);
        }
        *self = kept;
    }
}

#[expect(clippy::cast_possible_truncation, reason = "a byte takes the low seven bits")]
fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varints of one block. Blocks are only ever written by `put_varint`, so each ends
/// on a whole varint.
struct Varints<'a>(&'a [u8]);

impl Iterator for Varints<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for (k, &b) in self.0.iter().enumerate() {
            v |= u32::from(b & 0x7f) << (7 * k);
            if b < 0x80 {
                self.0 = &self.0[k + 1..];
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(offsets: impl IntoIterator<Item = u32>) -> Postings {
        let mut p = Postings::default();
        offsets.into_iter().for_each(|at| p.push(at));
        p
    }

    #[test]
    fn offsets_read_back_in_order_across_blocks_and_every_varint_length() {
        // Distances of 1 to 5 varint bytes, the largest offset, and enough to fill blocks.
        let mut want = vec![0, 1, 200, 20_000, 3_000_000, 600_000_000, u32::MAX];
        let mut p = of(want.iter().copied());
        let mut at = 0;
        for k in 0..10_000u32 {
            at += 40 + k % 300;
            want.push(at);
        }
        let mut p2 = of(want.iter().copied());
        assert!(p.iter().eq(want[..7].iter().copied()));
        assert!(p2.iter().eq(want.iter().copied()), "wrapping distances read back as pushed");
        assert_eq!((p2.len(), p2.last()), (want.len(), want.last().copied()));
        assert!(p2.blocks.len() > 2);
        assert!(
            p2.blocks[..p2.blocks.len() - 1].iter().all(|b| b.len() > BLOCK - VARINT_MAX && b.len() <= BLOCK)
        );
        assert!(p2.blocks[1..].iter().all(|b| b.capacity() == BLOCK), "full-size blocks never regrow");
        p.retain(|_| true);
        p2.retain(|_| true);
        assert_eq!(p2, of(want.iter().copied()));
    }

    #[test]
    fn frames_apart_cost_one_or_two_bytes_a_posting() {
        let p = of((0..100_000u32).map(|k| 64 + k * 150));
        let bytes: usize = p.blocks.iter().map(Vec::len).sum();
        assert_eq!(bytes, 1 + 2 * 99_999, "the first at 64, then 150 apart");
    }

    #[test]
    fn retain_keeps_the_layout_canonical() {
        let mut p = of((0..9000u32).map(|k| k * 100));
        p.retain(|at| at % 200 == 0);
        assert_eq!(p, of((0..4500u32).map(|k| k * 200)));
        p.retain(|_| false);
        assert!(p.is_empty());
        assert_eq!((p.len(), p.last()), (0, None));
        assert_eq!(p, Postings::default());
    }
}
