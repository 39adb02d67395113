//! wfstore: an embedded, append-only event store for real-time apps.
#![deny(unsafe_code)]

pub mod event;
pub mod limits;
