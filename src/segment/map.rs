//! The memory mapping of one segment file: the only `unsafe` code in wfstore.
//!
//! Invariant: bytes below `end` are published and never written again while mapped; bytes
//! at and above `end` are written only by the holder of the map's one `TailToken`, and read
//! by nobody until `publish` moves `end` past them. The token is not `Clone`, and writing or
//! publishing borrows it mutably, so the borrow checker enforces the single writer.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::disk::{Disk, Op};
use crate::error::{IoContext, Result};

/// A mapped segment with a published end.
pub struct SegmentMap {
    raw: MmapRaw,
    end: AtomicUsize,
    id: u64,
    writable: bool,
}

/// The right to write a map's unpublished bytes: one per writable map, never cloned.
#[derive(Debug)]
pub struct TailToken {
    map_id: u64,
}

static NEXT_MAP_ID: AtomicU64 = AtomicU64::new(1);

impl SegmentMap {
    /// Maps the first `len` bytes of the file (never past `segment_bytes`, so bytes a
    /// damaged file has beyond it are never read or written). A writable map is shared, so
    /// writes reach the page cache (and survive a process crash) as soon as they are made;
    /// it also returns its tail token. `len` must be non-zero and within the file.
    pub fn map(
        disk: &Disk,
        file: &File,
        path: &Path,
        len: usize,
        writable: bool,
    ) -> Result<(Self, Option<TailToken>)> {
        let raw = disk
            .run(Op::Map { path, len, write: writable }, || {
                let mut opts = MmapOptions::new();
                opts.len(len);
                if writable { opts.map_raw(file) } else { opts.map_raw_read_only(file) }
            })
            .ctx("mmap", path)?;
        let id = NEXT_MAP_ID.fetch_add(1, Ordering::Relaxed);
        let token = writable.then_some(TailToken { map_id: id });
        Ok((SegmentMap { raw, end: AtomicUsize::new(0), id, writable }, token))
    }

    /// Mapped length.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// The published end.
    pub fn end(&self) -> usize {
        self.end.load(Ordering::Acquire)
    }

    /// The published bytes, `[0, end)`.
    pub fn published(&self) -> &[u8] {
        let end = self.end();
        // SAFETY: `end <= len` (enforced by `publish`), the mapping lives as long as `self`,
        // and by the module invariant nothing writes below `end` while the map is shared.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr(), end) }
    }

    /// Every mapped byte, for recovery before the segment is shared with any reader.
    /// Takes `&mut self` so no published slice can be alive at the same time.
    pub fn all_mut(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: `&mut self` proves no other borrow of the mapping exists; the mapping is
        // writable and `len` bytes long.
        Some(unsafe { std::slice::from_raw_parts_mut(self.raw.as_mut_ptr(), self.raw.len()) })
    }

    /// The unpublished bytes `[end, end + len)` for the token holder to fill, or `None` if
    /// fewer remain or the token is not this map's.
    pub fn unpublished_mut<'a>(&'a self, token: &'a mut TailToken, len: usize) -> Option<&'a mut [u8]> {
        let end = self.end();
        if token.map_id != self.id || self.raw.len().checked_sub(end)? < len {
            return None;
        }
        // SAFETY: `[end, end + len)` is inside the mapping (checked above) and the mapping is
        // writable (only writable maps have tokens). Readers never look at or above `end`,
        // and `end` only moves through `publish`, which needs the token this slice borrows:
        // nobody else can read or write these bytes while the slice lives.
        Some(unsafe { std::slice::from_raw_parts_mut(self.raw.as_mut_ptr().add(end), len) })
    }

    /// Moves the published end forward to `new_end` (the token holder filled the bytes
    /// before it). Ignored with another map's token.
    pub fn publish(&self, token: &mut TailToken, new_end: usize) {
        if token.map_id == self.id && new_end >= self.end() {
            self.end.store(new_end.min(self.raw.len()), Ordering::Release);
        }
    }

    /// Sets the published end during recovery, before the map is shared.
    pub fn set_end(&mut self, end: usize) {
        *self.end.get_mut() = end.min(self.raw.len());
    }

    /// Faults `[from, len)` in writable ahead of the writer, so appends take no page fault.
    /// Changes no byte, so it may run on another thread while the writer writes. Best
    /// effort: kernels before 5.14 lack `MADV_POPULATE_WRITE`, and then appends fault.
    pub fn prefault(&self, from: usize) {
        if self.writable && from < self.raw.len() {
            let _ = self.raw.advise_range(memmap2::Advice::PopulateWrite, from, self.raw.len() - from);
        }
    }

    /// Writes `[from, to)` to disk and waits (msync).
    pub fn sync(&self, disk: &Disk, path: &Path, from: usize, to: usize) -> Result<()> {
        if to <= from || !self.writable {
            return Ok(());
        }
        disk.run(Op::SyncRange { path, from, to }, || self.raw.flush_range(from, to - from))
            .ctx("msync", path)
    }
}
