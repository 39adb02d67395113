//! How a store is opened.

use std::time::Duration;

/// When appended events reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The OS writes pages back when it likes: survives a process crash, not a power loss.
    None,
    /// A background thread syncs every interval: a power loss loses at most about that much.
    Periodic(Duration),
    /// An append returns only once it is on disk.
    Always,
}

impl Default for Durability {
    fn default() -> Self {
        Durability::Periodic(Duration::from_millis(100))
    }
}

/// Options for opening an existing store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Durability policy for appends.
    pub durability: Durability,
    /// Open without the writer lock and without changing any byte: appends fail, a torn
    /// tail is reported but not cut.
    pub read_only: bool,
}

/// Options for creating a store (`init`).
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Preallocated size of each segment file.
    pub segment_bytes: u64,
    /// Keep prompt and output text (`content` fields); otherwise only their hashes are kept.
    pub keep_content: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions { segment_bytes: crate::limits::SEGMENT_BYTES_DEFAULT, keep_content: false }
    }
}
