//! One session's frame offsets in a segment, kept in fixed-size blocks.
//!
//! A writer's index holds a posting per event of its open segment: hundreds of thousands
//! for one busy session. Grown as one array, each doubling copies it and frees the old
//! block, and the allocator keeps those freed megabytes (glibc raises its mmap threshold
//! after each large free, so later ones stay in the heap), which made a writer's memory
//! grow with its log. Blocks of `BLOCK` offsets (4 KiB) are allocated once, never moved,
//! and reused from the allocator's free lists by the next segment.

/// Offsets per block: a 4 KiB allocation.
const BLOCK: usize = 1024;

/// Frame offsets in ascending order. Every block but the last is full, so two equal
/// sequences of offsets are laid out alike (equality is derived).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Postings {
    blocks: Vec<Vec<u32>>,
}

impl Postings {
    /// Postings holding one offset.
    pub fn one(at: u32) -> Self {
        Postings { blocks: vec![vec![at]] }
    }

    /// Appends an offset (callers append in ascending order).
    pub fn push(&mut self, at: u32) {
        match self.blocks.last_mut() {
            Some(last) if last.len() < BLOCK => last.push(at),
            // A full block: the next is allocated at its final size. The first grows from
            // one, so a session with few events here costs few bytes.
            _ => {
                let mut block = Vec::with_capacity(BLOCK);
                block.push(at);
                self.blocks.push(block);
            }
        }
    }

    /// How many offsets.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The offsets in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.blocks.iter().flatten().copied()
    }

    /// The last offset.
    pub fn last(&self) -> Option<u32> {
        self.blocks.last().and_then(|b| b.last()).copied()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `BLOCK` as an offset.
    #[expect(clippy::cast_possible_truncation, reason = "1024 fits")]
    const B: u32 = BLOCK as u32;

    fn of(n: u32) -> Postings {
        let mut p = Postings::one(0);
        for at in 1..n {
            p.push(at);
        }
        p
    }

    #[test]
    fn blocks_fill_before_the_next_and_keep_their_size() {
        let p = of(2 * B + 1);
        let lens: Vec<usize> = p.blocks.iter().map(Vec::len).collect();
        assert_eq!(lens, [BLOCK, BLOCK, 1]);
        assert!(p.blocks[1..].iter().all(|b| b.capacity() == BLOCK), "full-size blocks never regrow");
        assert_eq!(p.len(), 2 * BLOCK + 1);
        assert_eq!(p.last(), Some(2 * B));
        assert!(p.iter().eq(0..2 * B + 1));
    }

    #[test]
    fn retain_keeps_the_layout_canonical() {
        let mut p = of(3 * B);
        p.retain(|at| at % 2 == 0);
        assert_eq!(p, {
            let mut q = Postings::one(0);
            (1..3 * B / 2).for_each(|k| q.push(2 * k));
            q
        });
        p.retain(|_| false);
        assert!(p.is_empty());
        assert_eq!(p.len(), 0);
    }
}
