//! The 64-byte fixed header that opens the store file and every segment (formats/).
//!
//! Shared layout: magic (8 bytes) at 0, format version (u16) at 8, a file-kind specific body
//! in 10..60, and a CRC-32 of bytes 0..60 at 60. All integers little-endian.

/// Header size in bytes.
pub const HEADER_BYTES: usize = 64;
const VERSION_AT: usize = 8;
const CRC_AT: usize = 60;

/// Why a header was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 64 bytes.
    Short,
    /// Every byte is zero: never written.
    Zero,
    /// The magic is not this file kind's.
    Magic,
    /// The CRC does not match.
    Checksum,
    /// A format version this build does not read.
    Version(u16),
    /// A field's value is out of its range.
    Field(&'static str),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Short => write!(f, "header cut short"),
            HeaderError::Zero => write!(f, "header never written (all zero)"),
            HeaderError::Magic => write!(f, "wrong magic"),
            HeaderError::Checksum => write!(f, "header checksum mismatch"),
            HeaderError::Version(v) => write!(f, "unsupported format version {v}"),
            HeaderError::Field(what) => write!(f, "{what} out of range"),
        }
    }
}

/// A header being built: magic and version set, fields written with `put_*`.
pub struct HeaderBuf(pub [u8; HEADER_BYTES]);

impl HeaderBuf {
    /// Starts a header of the given kind and version; reserved bytes are zero.
    pub fn new(magic: &[u8; 8], version: u16) -> Self {
        let mut b = [0u8; HEADER_BYTES];
        b[..8].copy_from_slice(magic);
        b[VERSION_AT..VERSION_AT + 2].copy_from_slice(&version.to_le_bytes());
        HeaderBuf(b)
    }

    /// Writes a u64 field.
    pub fn put_u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.0[at..at + 8].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Writes a u32 field.
    pub fn put_u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.0[at..at + 4].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Writes a u16 field.
    pub fn put_u16(&mut self, at: usize, v: u16) -> &mut Self {
        self.0[at..at + 2].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Computes the CRC and returns the finished bytes.
    pub fn finish(mut self) -> [u8; HEADER_BYTES] {
        let crc = crc32fast::hash(&self.0[..CRC_AT]);
        self.0[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        self.0
    }
}

/// A header that passed magic, CRC and version checks.
pub struct HeaderView<'a>(&'a [u8]);

impl<'a> HeaderView<'a> {
    /// Checks `bytes` (at least 64) as a header of the given kind and version.
    pub fn check(bytes: &'a [u8], magic: &[u8; 8], version: u16) -> Result<Self, HeaderError> {
        let b = bytes.get(..HEADER_BYTES).ok_or(HeaderError::Short)?;
        if b.iter().all(|&x| x == 0) {
            return Err(HeaderError::Zero);
        }
        if &b[..8] != magic {
            return Err(HeaderError::Magic);
        }
        let view = HeaderView(b);
        if view.u32(CRC_AT) != crc32fast::hash(&b[..CRC_AT]) {
            return Err(HeaderError::Checksum);
        }
        match view.u16(VERSION_AT) {
            v if v == version => Ok(view),
            v => Err(HeaderError::Version(v)),
        }
    }

    /// Reads a u64 field.
    pub fn u64(&self, at: usize) -> u64 {
        let mut x = [0u8; 8];
        x.copy_from_slice(&self.0[at..at + 8]);
        u64::from_le_bytes(x)
    }

    /// Reads a u32 field.
    pub fn u32(&self, at: usize) -> u32 {
        let mut x = [0u8; 4];
        x.copy_from_slice(&self.0[at..at + 4]);
        u32::from_le_bytes(x)
    }

    /// Reads a u16 field.
    pub fn u16(&self, at: usize) -> u16 {
        let mut x = [0u8; 2];
        x.copy_from_slice(&self.0[at..at + 2]);
        u16::from_le_bytes(x)
    }
}
