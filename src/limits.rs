//! Every size limit wfstore enforces, in one place. Names carry their unit last.
//!
//! A decoder of bytes from disk or from a user checks a length against one of these before it
//! reads or allocates anything.

/// Largest encoded record body (the bincode bytes inside one frame).
pub const RECORD_BODY_BYTES_MAX: u32 = 1 << 20;

/// Largest identifier (session or user id), in UTF-8 bytes.
pub const ID_BYTES_MAX: usize = 128;

/// Longest line `append` accepts from a JSON Lines file.
pub const JSON_LINE_BYTES_MAX: usize = 4 << 20;

/// Smallest segment size a store may be configured with.
pub const SEGMENT_BYTES_MIN: u64 = 64 << 10;

/// Largest seq a segment may start at: far from `u64::MAX`, so `seq + records` never
/// overflows (2^62 events at 10 M/s is 14,000 years).
pub const SEQ_MAX: u64 = 1 << 62;

/// Segment sizes are whole pages of this many bytes.
pub const PAGE_BYTES: u64 = 4096;

/// Largest segment size: `u32::MAX` rounded down to a page, so that every offset inside a
/// segment, and one past its last byte, fits the u32 offsets of frames and indexes.
pub const SEGMENT_BYTES_MAX: u64 = u32::MAX as u64 & !(PAGE_BYTES - 1);

/// Whether `n` is a segment size a store may have: in range and whole pages.
pub const fn segment_bytes_ok(n: u64) -> bool {
    n >= SEGMENT_BYTES_MIN && n <= SEGMENT_BYTES_MAX && n.is_multiple_of(PAGE_BYTES)
}

/// Most frames one batch may hold (a frame's batch position is 30 bits).
pub const BATCH_EVENTS_MAX: u64 = (1 << 30) - 1;

/// Default segment size.
pub const SEGMENT_BYTES_DEFAULT: u64 = 64 << 20;

/// Largest sidecar index file accepted on open.
pub const INDEX_FILE_BYTES_MAX: u64 = 1 << 30;

/// Largest decoded energy state (the canonical bytes inside a snapshot).
pub const STATE_BYTES_MAX: usize = 256 << 20;
