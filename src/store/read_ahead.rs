//! Replay on two threads. Checking a frame (its CRC, its seq, its place in the chain)
//! needs nothing of the state, and it is about a third of replay's time: one thread walks
//! the log and checks frames ahead, in batches, and the caller's thread decodes the bodies
//! it is handed and applies them, in seq order. What is applied, and the first error, are
//! exactly what `read::for_each_ref` on one thread gives (the tests below compare them).

use std::ops::RangeInclusive;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::Shared;
use super::read::{self, Checked, RecordIter};
use crate::error::{Error, Result};
use crate::event::EventRef;
use crate::segment::Segment;

/// Frames handed over at a time: the channel costs less than a nanosecond a frame.
const BATCH: usize = 4096;
/// Batches checked ahead of the one being applied.
const AHEAD: usize = 4;
/// Below this many events a second thread costs more than it saves.
const MIN_EVENTS: u64 = 100_000;

/// `read::for_each_ref`, with the frames checked on a second thread when the range is long
/// and the machine has a second core.
pub(super) fn for_each_ref(
    shared: &Arc<Shared>,
    range: RangeInclusive<u64>,
    apply: impl FnMut(u64, &EventRef<'_>),
) -> Result<u64> {
    let mut it = read::iter(shared, range.clone());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if it.remaining() < MIN_EVENTS || cores < 2 {
        return read::follow(&mut it, apply);
    }
    two_threads(shared, range, it, apply)
}

/// The checker runs ahead on a scoped thread with `it` (an iterator over `range`); this
/// thread applies. When no thread can be started, one thread does both.
fn two_threads(
    shared: &Arc<Shared>,
    range: RangeInclusive<u64>,
    it: RecordIter,
    mut apply: impl FnMut(u64, &EventRef<'_>),
) -> Result<u64> {
    let segments = it.segments();
    let (checked_tx, checked_rx) = bounded::<Result<Vec<Checked>>>(AHEAD);
    let (spare_tx, spare_rx) = bounded::<Vec<Checked>>(AHEAD + 2);
    let applied = std::thread::scope(|s| {
        let checker = std::thread::Builder::new()
            .name("wfstore-replay".into())
            .spawn_scoped(s, move || check_ahead(it, &checked_tx, &spare_rx));
        checker.ok()?;
        let mut n = 0;
        // Leaving early drops `checked_rx`: the checker's next send fails and it stops.
        for batch in checked_rx {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            for c in &batch {
                if let Err(e) = apply_checked(&segments, c, &mut apply) {
                    return Some(Err(e));
                }
            }
            n += batch.len() as u64;
            let _ = spare_tx.try_send(batch);
        }
        Some(Ok(n))
    });
    // The iterator went with the closure that was never started: begin again on this thread.
    applied.unwrap_or_else(|| read::for_each_ref(shared, range, apply))
}

/// Checks frames in order and sends them in batches; an error is sent after the batches
/// before it, and ends the walk.
fn check_ahead(mut it: RecordIter, out: &Sender<Result<Vec<Checked>>>, spare: &Receiver<Vec<Checked>>) {
    loop {
        let mut batch = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
        batch.clear();
        let mut failed = None;
        while batch.len() < BATCH && !it.is_done() {
            match it.step_checked() {
                Ok(Some(c)) => batch.push(c),
                Ok(None) => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let done = it.is_done() || failed.is_some();
        if !batch.is_empty() && out.send(Ok(batch)).is_err() {
            return;
        }
        if let Some(e) = failed {
            let _ = out.send(Err(e));
        }
        if done {
            return;
        }
    }
}

/// Decodes one checked frame's body and applies it.
fn apply_checked(
    segments: &[Arc<Segment>],
    c: &Checked,
    apply: &mut impl FnMut(u64, &EventRef<'_>),
) -> Result<()> {
    // The checker read these bytes from these very segments: they are there.
    let body = segments
        .get(c.segment)
        .and_then(|s| s.published().get(c.body.clone()))
        .ok_or_else(|| Error::Decode { seq: c.seq, why: "checked frame out of its segment".into() })?;
    read::apply_body(c.seq, c.ts_ns, body, apply)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sim;
    use crate::store::{CreateOptions, OpenOptions, Store};

    fn store_of(events: u64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        Store::create(dir.path(), &CreateOptions { segment_bytes: 256 << 10, ..CreateOptions::default() })
            .unwrap();
        let store = Store::open(dir.path(), &OpenOptions::default()).unwrap();
        let batch: Vec<_> = (0..events).map(|i| sim::synthetic(3, i)).collect();
        for chunk in batch.chunks(1000) {
            store.append_batch(chunk).unwrap();
        }
        store.flush().unwrap();
        (dir, store)
    }

    fn seen(
        shared: &Arc<Shared>,
        range: RangeInclusive<u64>,
        two: bool,
    ) -> (Result<u64>, Vec<(u64, String)>) {
        let mut out = Vec::new();
        let f =
            |seq: u64, e: &EventRef<'_>| out.push((seq, format!("{} {} {:?}", e.session, e.ts_ns, e.body)));
        let n = if two {
            two_threads(shared, range.clone(), read::iter(shared, range), f)
        } else {
            read::for_each_ref(shared, range, f)
        };
        (n, out)
    }

    #[test]
    fn two_threads_apply_what_one_applies_across_segments_and_batch_edges() {
        let (_dir, store) = store_of(3 * BATCH as u64 + 17);
        assert!(store.shared.segments.read().len() > 1, "spans segments");
        let last = store.last_seq();
        // The last: a range past the end, which is empty.
        for (range, events) in
            [(1..=last, last), (5..=BATCH as u64 + 1, BATCH as u64 - 3), (7..=7, 1), (last + 1..=last + 5, 0)]
        {
            let (n1, one) = seen(&store.shared, range.clone(), false);
            let (n2, two) = seen(&store.shared, range.clone(), true);
            assert_eq!((n1.unwrap(), n2.unwrap()), (events, events), "{range:?}");
            assert_eq!(one, two);
            let seqs: Vec<u64> = range.filter(|&s| s <= last).collect();
            assert_eq!(one.iter().map(|e| e.0).collect::<Vec<_>>(), seqs);
        }
    }

    #[test]
    fn two_threads_stop_at_the_same_first_damage_as_one() {
        let (dir, store) = store_of(2 * BATCH as u64);
        let last = store.last_seq();
        drop(store);
        // Flip a byte in the middle of a sealed segment, which an open does not scan: a CRC
        // mismatch that only a read finds.
        let seg = dir.path().join(crate::segment::file_name(2, "seg"));
        let mut bytes = std::fs::read(&seg).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x55;
        std::fs::write(&seg, &bytes).unwrap();
        let store = Store::open(dir.path(), &OpenOptions::read_only()).unwrap();
        let (n1, one) = seen(&store.shared, 1..=last, false);
        let (n2, two) = seen(&store.shared, 1..=last, true);
        let why = n1.unwrap_err().to_string();
        assert_eq!(why, n2.unwrap_err().to_string());
        assert!(why.contains("0000000002.seg") && why.ends_with("checksum mismatch"), "{why}");
        assert_eq!(one, two);
        // Every event before the damaged frame, in order, and none after it.
        let damaged: u64 =
            why.split("expected seq ").nth(1).unwrap().split(')').next().unwrap().parse().unwrap();
        assert_eq!(one.iter().map(|e| e.0).collect::<Vec<_>>(), (1..damaged).collect::<Vec<_>>());
    }
}
