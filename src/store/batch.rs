//! A batch streamed into the log: events pushed in chunks, committed whole or not at all.
//! An import far larger than memory is one atomic batch this way.

use std::ops::Range;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

use super::writer::Writer;
use super::{Durability, Store};
use crate::error::Result;
use crate::event::Event;

/// An open batch: it holds the writer until it is committed or dropped, so every other
/// append waits. Dropping it without `commit` abandons it: nothing of it is stored.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # wfstore::Store::create(dir.path(), &wfstore::CreateOptions::default())?;
/// # let store = wfstore::Store::open(dir.path(), &wfstore::OpenOptions::default())?;
/// # let events = vec![wfstore::sim::synthetic(1, 1), wfstore::sim::synthetic(1, 2)];
/// let mut batch = store.batch()?;
/// for chunk in events.chunks(1) {
///     batch.push(chunk)?; // a failed push abandons the whole batch
/// }
/// let seqs = batch.commit()?; // visible, and durable as the policy promises, all at once
/// assert_eq!(seqs, 1..3);
/// # Ok(()) }
/// ```
pub struct Batch<'a> {
    store: &'a Store,
    writer: Option<MutexGuard<'a, Writer>>,
}

impl Store {
    /// Starts a batch that is streamed in with `Batch::push` and committed with
    /// `Batch::commit`: recovered whole or not at all, however many segments it spans.
    pub fn batch(&self) -> Result<Batch<'_>> {
        let writer: &Arc<Mutex<Writer>> = self.writer()?;
        let mut guard = writer.lock();
        guard.begin()?;
        Ok(Batch { store: self, writer: Some(guard) })
    }
}

impl Batch<'_> {
    /// Writes `events` as the next frames of the batch (not visible until the commit). An
    /// error abandons the batch: later pushes and the commit fail too.
    pub fn push(&mut self, events: &[Event]) -> Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.push(events, false),
            None => Err(crate::Error::Closed),
        }
    }

    /// Commits the batch: every event becomes visible at once; under `Durability::Always`
    /// it returns once the batch is on disk. Returns the batch's seqs.
    pub fn commit(mut self) -> Result<Range<u64>> {
        let Some(mut w) = self.writer.take() else { return Err(crate::Error::Closed) };
        let range = w.commit()?;
        drop(w);
        if self.store.shared.durable.policy() == Durability::Always && !range.is_empty() {
            self.store.shared.sync_through(range.end - 1)?;
        }
        Ok(range)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if let Some(mut w) = self.writer.take() {
            w.abort();
        }
    }
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("open", &self.writer.is_some()).finish()
    }
}
