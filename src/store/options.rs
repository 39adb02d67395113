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

/// When the background snapshotter publishes a snapshot of the energy state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// After this many new durable events (0: never by count).
    pub every_events: u64,
    /// After this much time with new durable events (`None`: never by time).
    pub every: Option<Duration>,
    /// The newest snapshots kept.
    pub keep: usize,
    /// Before the newest `keep`, one snapshot is kept at least every `history` events (0:
    /// none), so time travel to any seq replays at most about that many events. Retention
    /// removes those its segments took with them.
    pub history: u64,
}

impl Default for SnapshotPolicy {
    fn default() -> Self {
        SnapshotPolicy {
            every_events: 100_000,
            every: Some(Duration::from_secs(10)),
            keep: 3,
            history: 100_000,
        }
    }
}

/// Options for opening an existing store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Durability policy for appends.
    pub durability: Durability,
    /// Open without the writer lock and without changing any byte: appends fail, a torn
    /// tail is reported but not cut.
    pub read_only: bool,
    /// Automatic snapshots of the energy state while open for writing (`None`: off;
    /// `Store::snapshot_now` still works).
    pub snapshots: Option<SnapshotPolicy>,
    /// Retention (`None`, the default: keep everything): applied after every automatic
    /// snapshot, so it needs `snapshots`. `Store::retain` works either way.
    pub retention: Option<super::Retention>,
    /// Submissions the appender queue holds before `Appender::append` waits and
    /// `Appender::try_append` fails with `Error::QueueFull`.
    pub queue_capacity: usize,
    /// The file-system seam (fault injection in tests). Not for applications.
    #[doc(hidden)]
    pub disk: crate::disk::Disk,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            durability: Durability::default(),
            read_only: false,
            snapshots: Some(SnapshotPolicy::default()),
            retention: None,
            queue_capacity: 4096,
            disk: crate::disk::Disk::default(),
        }
    }
}

impl OpenOptions {
    /// Read-only, no snapshots: for tools that only look.
    pub fn read_only() -> Self {
        OpenOptions { read_only: true, snapshots: None, ..OpenOptions::default() }
    }
}

/// Options for creating a store (`init`).
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Preallocated size of each segment file.
    pub segment_bytes: u64,
    /// Keep prompt and output text (`content` fields); otherwise only their hashes are kept.
    pub keep_content: bool,
    /// The file-system seam (fault injection in tests). Not for applications.
    #[doc(hidden)]
    pub disk: crate::disk::Disk,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            segment_bytes: crate::limits::SEGMENT_BYTES_DEFAULT,
            keep_content: false,
            disk: crate::disk::Disk::default(),
        }
    }
}
