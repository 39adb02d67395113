//! An export's second thread: it reads and decodes the records and writes their JSON
//! bodies while the database thread inserts the previous chunk. Chunks never straddle a
//! transaction, so a transaction holds exactly `batch_events` events (the last one fewer).

use std::ops::RangeInclusive;
use std::thread::Scope;

use crossbeam_channel::Receiver;

use crate::error::Result;
use crate::event::{Event, data_json};
use crate::export::privacy::{self, ContentPolicy};
use crate::store::{Record, Store};

/// Records with their `events.body` text.
pub struct Chunk {
    pub records: Vec<Record>,
    pub bodies: Vec<String>,
    /// The last chunk of a transaction.
    pub ends_batch: bool,
}

/// Starts the reader, handing over `per_chunk` records at a time; the database thread drops the
/// receiver to stop it early.
pub fn spawn<'scope>(
    scope: &'scope Scope<'scope, '_>,
    store: &'scope Store,
    seqs: RangeInclusive<u64>,
    (per_chunk, batch_events): (u64, u64),
    include_content: bool,
) -> Receiver<Result<Chunk>> {
    // Two chunks in flight: one being inserted, one ready.
    let (tx, rx) = crossbeam_channel::bounded(2);
    scope.spawn(move || {
        let mut records = store.iter(seqs);
        let mut in_batch = 0;
        loop {
            let want = per_chunk.min(batch_events - in_batch);
            let chunk = read_chunk(&mut records, want, include_content).map(|(records, bodies)| {
                in_batch = (in_batch + records.len() as u64) % batch_events;
                Chunk { records, bodies, ends_batch: in_batch == 0 }
            });
            let done = chunk.as_ref().map_or(true, |c| (c.records.len() as u64) < want);
            if tx.send(chunk).is_err() || done {
                return;
            }
        }
    });
    rx
}

fn read_chunk(
    records: &mut impl Iterator<Item = Result<Record>>,
    want: u64,
    include_content: bool,
) -> Result<(Vec<Record>, Vec<String>)> {
    let records = records.take(usize::try_from(want).unwrap_or(usize::MAX)).collect::<Result<Vec<_>>>()?;
    let policy = ContentPolicy::from_include(include_content);
    let bodies = records.iter().map(|r| body_json(&r.event, policy)).collect();
    Ok((records, bodies))
}

/// The body as JSON, through the privacy filter.
fn body_json(event: &Event, policy: ContentPolicy) -> String {
    if policy == ContentPolicy::Include || !event.body.has_content() {
        return data_json(&event.body);
    }
    let mut event = event.clone();
    privacy::filter(&mut event, policy);
    data_json(&event.body)
}
