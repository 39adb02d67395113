//! wfstore: an embedded, append-only event store for real-time apps.
#![deny(unsafe_code)]

pub mod codec;
pub mod error;
pub mod event;
pub mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub mod header;
pub mod index;
pub(crate) mod io_util;
pub mod limits;
pub mod meta;
pub mod segment;
pub mod sim;
pub mod store;
pub mod verify;

pub use error::{Corruption, Error, Result};
pub use store::{CreateOptions, Durability, OpenOptions, Record, RecoveryReport, Stats, Store};
