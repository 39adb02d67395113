//! The 64-byte segment header (formats/segment.md).

use crate::frame::Layout;
use crate::header::{HeaderBuf, HeaderError, HeaderView};

pub use crate::header::HEADER_BYTES;

const MAGIC: &[u8; 8] = b"WFSEGMT\0";
/// Segment format version this build writes.
pub const VERSION: u16 = 2;
const FLAGS_AT: usize = 10;
const STORE_ID_AT: usize = 16;
const SALT_AT: usize = 24;
const SEGMENT_NO_AT: usize = 32;
const BASE_SEQ_AT: usize = 40;
const SEGMENT_BYTES_AT: usize = 48;

/// A segment's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The format version (1 only in stores awaiting `migrate`).
    pub version: u16,
    /// A copy of the store's flags (0 in version 1).
    pub flags: u16,
    /// The owning store's id.
    pub store_id: u64,
    /// Random per segment; keys every frame CRC.
    pub salt: u64,
    /// The segment's number, equal to the number in its file name.
    pub segment_no: u64,
    /// Seq of the segment's first record.
    pub base_seq: u64,
    /// The file's preallocated length.
    pub segment_bytes: u64,
}

impl SegmentHeader {
    /// Encodes the header (always in the current version).
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut h = HeaderBuf::new(MAGIC, VERSION);
        h.put_u16(FLAGS_AT, self.flags)
            .put_u64(STORE_ID_AT, self.store_id)
            .put_u64(SALT_AT, self.salt)
            .put_u64(SEGMENT_NO_AT, self.segment_no)
            .put_u64(BASE_SEQ_AT, self.base_seq)
            .put_u64(SEGMENT_BYTES_AT, self.segment_bytes);
        h.finish()
    }

    /// Decodes and checks a header of version 2, or of version 1 (no flags).
    pub fn decode(bytes: &[u8]) -> Result<Self, HeaderError> {
        let (v, version) = match HeaderView::check(bytes, MAGIC, VERSION) {
            Ok(v) => (v, VERSION),
            Err(HeaderError::Version(1)) => (HeaderView::check(bytes, MAGIC, 1)?, 1),
            Err(e) => return Err(e),
        };
        // Seqs start at 1 and stay far from overflow, so seq arithmetic never wraps.
        if !(1..=crate::limits::SEQ_MAX).contains(&v.u64(BASE_SEQ_AT)) {
            return Err(HeaderError::Field("base seq"));
        }
        if v.u64(SALT_AT) == 0 {
            return Err(HeaderError::Field("salt"));
        }
        Ok(SegmentHeader {
            version,
            flags: if version == 1 { 0 } else { v.u16(FLAGS_AT) },
            store_id: v.u64(STORE_ID_AT),
            salt: v.u64(SALT_AT),
            segment_no: v.u64(SEGMENT_NO_AT),
            base_seq: v.u64(BASE_SEQ_AT),
            segment_bytes: v.u64(SEGMENT_BYTES_AT),
        })
    }

    /// The frame layout of this segment's version.
    pub fn layout(&self) -> Layout {
        if self.version == 1 { Layout::V1 } else { Layout::V2 }
    }
}
