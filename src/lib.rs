//! wfstore: an embedded, append-only event store for real-time apps.
//!
//! Events go into segmented, preallocated, memory-mapped files as CRC-framed bincode
//! records; a sidecar index per segment finds seqs and sessions; recovery on open cuts a
//! torn tail and refuses corruption with its location. See `ARCHITECTURE.md` for the map and
//! `formats/` for every byte on disk.
//!
//! Producers on many threads use `Store::appender` (a bounded queue with group commit), a
//! render loop uses `Store::commit_frame` (never waits for the disk), async code uses
//! `Store::async_appender` and `Store::subscribe` (feature `tokio`), and `Store::metrics`
//! reports latencies.
//!
//! Exports (`export`) read a store as it is when they start and leave prompt and output text
//! out unless asked: every event as JSON Lines, one session's audit document, or the
//! relational view in SQLite (feature `sqlite`) or in a PostgreSQL database many stores
//! share (feature `postgres`, with `--follow` to keep it current).
//!
//! ```
//! use wfstore::{CreateOptions, OpenOptions, Store};
//! use wfstore::event::parse_line;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! Store::create(dir.path(), &CreateOptions::default())?;
//! let store = Store::open(dir.path(), &OpenOptions::default())?;
//!
//! let event = parse_line(
//!     r#"{"session":"s-1","user":"u-1","frame":7,"type":"energy.update",
//!         "data":{"model":"llama","tokens":3,"delta":0.125}}"#,
//!     1_790_000_000_000_000_000,
//! )?;
//! let seq = store.append(&event)?;
//! store.flush()?; // a durability barrier
//!
//! assert_eq!(store.get(seq)?.map(|r| r.event), Some(event.clone()));
//! assert_eq!(store.session("s-1").count(), 1);
//!
//! // Producer threads share one bounded queue through cloneable handles.
//! let appender = store.appender()?;
//! let producer = std::thread::spawn({
//!     let (appender, event) = (appender.clone(), event.clone());
//!     move || appender.append(event)
//! });
//! assert_eq!(producer.join().map_err(|_| "producer panicked")??, seq + 1);
//!
//! // A render loop hands over a whole frame and never waits for the disk.
//! let deadline = std::time::Instant::now() + std::time::Duration::from_millis(16);
//! let frame = store.commit_frame(8, &[event.clone(), event], deadline)?;
//! assert_eq!(frame.seqs, seq + 2..seq + 4);
//! store.flush()?;
//! assert_eq!(store.durable_frame(), Some(8));
//! assert_eq!(store.metrics().append.len(), 3); // append, the appender's, commit_frame
//! store.close()?;
//! # Ok(())
//! # }
//! ```
#![deny(unsafe_code)]

pub mod audit;
pub mod backup;
pub mod codec;
pub mod disk;
pub mod error;
pub mod event;
pub mod export;
#[cfg(feature = "faultsim")]
#[doc(hidden)]
pub mod faultsim;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod index;
pub(crate) mod io_util;
pub mod limits;
pub mod meta;
pub mod migrate;
pub mod repair;
pub mod segment;
pub mod sim;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod validate;
pub mod verify;

pub use error::{Corruption, Error, Result};
pub use store::{
    Appender, CreateOptions, Durability, FrameCommit, Metrics, OpenOptions, Pending, PurgeReport, Record,
    RecoveryReport, ReplayTarget, RetainRule, Retention, RetentionReport, SnapshotPolicy, StateRecovery,
    Stats, Store,
};
#[cfg(feature = "tokio")]
pub use store::{AsyncAppender, Subscription};
