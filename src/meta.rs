//! The `STORE` file: identity and fixed settings of a store (formats/store.md).

use std::path::Path;

use crate::error::{Error, Result};
use crate::header::{HeaderBuf, HeaderView};
use crate::io_util;

/// The store file's name inside the store directory.
pub const STORE_FILE: &str = "STORE";
const MAGIC: &[u8; 8] = b"WFSTORE\0";
const VERSION: u16 = 1;
const FLAGS_AT: usize = 10;
const STORE_ID_AT: usize = 16;
const SEGMENT_BYTES_AT: usize = 24;
const CREATED_AT: usize = 32;
const FLAG_KEEP_CONTENT: u16 = 1;

/// What the `STORE` file records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMeta {
    /// Random id, repeated in every segment header so foreign files are recognised.
    pub store_id: u64,
    /// Preallocated size of every segment.
    pub segment_bytes: u64,
    /// Whether prompt and output text is kept (`init --keep-content`).
    pub keep_content: bool,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

impl StoreMeta {
    /// Encodes the 64-byte file.
    pub fn encode(&self) -> [u8; 64] {
        let flags = if self.keep_content { FLAG_KEEP_CONTENT } else { 0 };
        let mut h = HeaderBuf::new(MAGIC, VERSION);
        h.put_u16(FLAGS_AT, flags)
            .put_u64(STORE_ID_AT, self.store_id)
            .put_u64(SEGMENT_BYTES_AT, self.segment_bytes)
            .put_u64(CREATED_AT, self.created_ns as u64);
        h.finish()
    }

    /// Decodes and checks the file's bytes.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self> {
        let not_a_store = |why: String| Error::NotAStore { path: path.to_owned(), why };
        if bytes.len() != 64 {
            return Err(not_a_store(format!("{STORE_FILE} is {} bytes, expected 64", bytes.len())));
        }
        let v = HeaderView::check(bytes, MAGIC, VERSION)
            .map_err(|e| not_a_store(format!("{STORE_FILE}: {e}")))?;
        let flags = v.u16(FLAGS_AT);
        if flags & !FLAG_KEEP_CONTENT != 0 {
            return Err(not_a_store(format!("{STORE_FILE}: unknown flags {flags:#x}")));
        }
        Ok(StoreMeta {
            store_id: v.u64(STORE_ID_AT),
            segment_bytes: v.u64(SEGMENT_BYTES_AT),
            keep_content: flags & FLAG_KEEP_CONTENT != 0,
            created_ns: v.u64(CREATED_AT) as i64,
        })
    }

    /// Reads the store file of `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(STORE_FILE);
        let bytes = match io_util::read_bounded(&path, 64) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotAStore { path: dir.to_owned(), why: format!("no {STORE_FILE} file") });
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(Error::NotAStore { path, why: format!("{STORE_FILE} is {e}") });
            }
            Err(e) => return Err(Error::io("read", path, e)),
        };
        Self::decode(&bytes, &path)
    }

    /// Writes the store file durably (temp, fsync, rename, fsync of the directory).
    pub fn save(&self, dir: &Path) -> Result<()> {
        io_util::write_atomic(dir, STORE_FILE, &self.encode())
    }
}
