//! The async API (feature `tokio`): appends that resolve when their events are as durable as
//! the policy promises, and subscriptions that catch up from disk and then follow live
//! appends.
//!
//! A subscription never buffers events of its own: it reads the log (the same mapped
//! segments the writer fills), so catch-up and live reading are one path and the handover
//! between them can neither skip nor repeat a seq. A subscriber that falls more than
//! `max_lag` events behind the head once it has caught up gets `Error::Lagged`, naming the
//! seq to resume from, and the stream ends: it is too slow to be live, and the caller
//! chooses between catching up again from that seq and skipping ahead.

use std::collections::VecDeque;
use std::ops::Range;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::task::{Context, Poll};

use futures_core::Stream;

use super::appender::{Appender, Job};
use super::{Record, Shared, Store, read};
use crate::error::{Error, Result};
use crate::event::Event;

/// Records a subscription reads from the log at a time.
const READ_BATCH: u64 = 256;

/// Default `max_lag` of `Store::subscribe`: about a second of a busy app's events.
pub const MAX_LAG_DEFAULT: u64 = 1 << 16;

/// An appender whose calls are futures. Cheap to clone; `Send`.
#[derive(Clone)]
pub struct AsyncAppender {
    inner: Appender,
}

impl Store {
    /// A handle for appending from async tasks (see `AsyncAppender`).
    pub fn async_appender(&self) -> Result<AsyncAppender> {
        self.appender().map(|inner| AsyncAppender { inner })
    }

    /// Records from `from_seq` on: those already stored, then each new one as it is
    /// appended. Lags of more than `MAX_LAG_DEFAULT` events end it with `Error::Lagged`.
    pub fn subscribe(&self, from_seq: u64) -> Subscription {
        self.subscribe_with_max_lag(from_seq, MAX_LAG_DEFAULT)
    }

    /// Like `subscribe`, with the lag (in events behind the head, once caught up) beyond
    /// which the subscription ends with `Error::Lagged`.
    pub fn subscribe_with_max_lag(&self, from_seq: u64, max_lag: u64) -> Subscription {
        let state = Follow {
            shared: Arc::clone(&self.shared),
            next: from_seq.max(1),
            buf: VecDeque::new(),
            live: false,
            max_lag,
            done: false,
        };
        let stream = futures_util::stream::unfold(state, Follow::next_item);
        Subscription { inner: Box::pin(stream) }
    }
}

impl AsyncAppender {
    /// Appends one event; resolves to its seq once it is as durable as the policy promises.
    /// Waits (asynchronously) for room when the queue is full. Dropping the future after
    /// it was queued does not take the event back.
    pub async fn append(&self, event: Event) -> Result<u64> {
        self.append_batch(vec![event]).await.map(|r| r.start)
    }

    /// Appends events with consecutive seqs; resolves once they are as durable as the
    /// policy promises.
    pub async fn append_batch(&self, events: Vec<Event>) -> Result<Range<u64>> {
        self.send(events, false).await
    }

    /// A durability barrier: resolves once everything submitted before it is on disk.
    pub async fn flush(&self) -> Result<()> {
        self.send(Vec::new(), true).await.map(drop)
    }

    /// The blocking handle behind this one.
    pub fn blocking(&self) -> &Appender {
        &self.inner
    }

    async fn send(&self, events: Vec<Event>, sync: bool) -> Result<Range<u64>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pipeline = self.inner.pipeline();
        let mut job = Job::new_async(events, sync, tx);
        loop {
            // Registered before trying, so that room made after a failed try wakes us.
            let mut room = pin!(pipeline.room.notified());
            room.as_mut().enable();
            match pipeline.try_enqueue_or_return(job)? {
                None => break,
                Some(back) => job = back,
            }
            room.await;
        }
        rx.await.unwrap_or(Err(Error::Closed))
    }
}

/// A live stream of records (see `Store::subscribe`). Ends when the store closes, after
/// the last record appended before that.
pub struct Subscription {
    inner: Pin<Box<dyn Stream<Item = Result<Record>> + Send>>,
}

impl Stream for Subscription {
    type Item = Result<Record>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct Follow {
    shared: Arc<Shared>,
    next: u64,
    buf: VecDeque<Record>,
    /// Caught up with the head at least once.
    live: bool,
    max_lag: u64,
    done: bool,
}

impl Follow {
    async fn next_item(mut self) -> Option<(Result<Record>, Follow)> {
        loop {
            if let Some(r) = self.buf.pop_front() {
                return Some((Ok(r), self));
            }
            if self.done {
                return None;
            }
            let head = self.shared.last_seq();
            if self.next <= head {
                if let Err(e) = self.read_up_to(head) {
                    self.done = true;
                    return Some((Err(e), self));
                }
                continue;
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return None;
            }
            wait_for_append(&self.shared, self.next).await;
        }
    }

    fn read_up_to(&mut self, head: u64) -> Result<()> {
        if self.live && head - self.next >= self.max_lag {
            return Err(Error::Lagged { resume_from: self.next });
        }
        let end = head.min(self.next + READ_BATCH - 1);
        for rec in read::iter(&self.shared, self.next..=end) {
            let rec = rec?;
            self.next = rec.seq + 1;
            self.buf.push_back(rec);
        }
        self.live |= self.next > head;
        Ok(())
    }
}

/// Returns once the log holds `seq` or the store is closing.
async fn wait_for_append(shared: &Shared, seq: u64) {
    let mut published = pin!(shared.published.notified());
    published.as_mut().enable();
    // Dekker with `Shared::set_last_seq`: either the writer sees us listening, or we see
    // its new seq.
    shared.listeners.fetch_add(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    if shared.last_seq() < seq && !shared.closed.load(Ordering::Acquire) {
        published.await;
    }
    shared.listeners.fetch_sub(1, Ordering::SeqCst);
}
