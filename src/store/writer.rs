//! The append path: encode into the mapped tail, seal the frame, index it, publish it; roll
//! to the prepared segment when the active one is full.

use std::ops::Range;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use hdrhistogram::Histogram;

use super::Shared;
use super::housekeeper::{PrepareJob, SyncJob};
use super::metrics::record;
use super::open::{self, Prepared};
use crate::codec::{self, EncodeError};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::frame::{self, FRAME_HEADER_BYTES, SaltKey};
use crate::limits::RECORD_BODY_BYTES_MAX;
use crate::segment::header::HEADER_BYTES;
use crate::segment::map::TailToken;
use crate::segment::{Segment, offset32};

const FRAME_BYTES_MAX: usize = FRAME_HEADER_BYTES + RECORD_BODY_BYTES_MAX as usize;

pub(super) struct Writer {
    shared: Arc<Shared>,
    active: Arc<Segment>,
    token: TailToken,
    next_seq: u64,
    prepare_jobs: Sender<PrepareJob>,
    sync_jobs: Sender<SyncJob>,
    prepared: Receiver<Result<Prepared>>,
    prepare_pending: bool,
    /// Frames written but not yet indexed and published: (ts, offset, length, event index).
    pending: Vec<(i64, u32, u32, usize)>,
    /// Latency of each append call (`Metrics::append`); the writer lock guards it.
    pub latency: Histogram<u64>,
    /// The active segment's salt, as its frames' CRCs start from it.
    salt_key: SaltKey,
}

impl Writer {
    pub fn new(
        shared: Arc<Shared>,
        token: TailToken,
        next_seq: u64,
        prepare_jobs: Sender<PrepareJob>,
        sync_jobs: Sender<SyncJob>,
        prepared: Receiver<Result<Prepared>>,
        latency: Histogram<u64>,
    ) -> Self {
        let active = shared.active();
        let _ = prepare_jobs.send(PrepareJob::Prefault(Arc::clone(&active)));
        let salt_key = SaltKey::new(active.header.salt);
        let mut w = Writer {
            shared,
            active,
            token,
            next_seq,
            prepare_jobs,
            sync_jobs,
            prepared,
            prepare_pending: false,
            pending: Vec::new(),
            latency,
            salt_key,
        };
        w.request_prepare();
        w
    }

    /// Appends a batch; seqs are consecutive. Frames are published once per segment, so
    /// readers never see part of a batch that fits one segment.
    pub fn append_batch(&mut self, events: &[Event]) -> Result<Range<u64>> {
        self.shared.check_writable()?;
        let first = self.next_seq;
        let mut at = self.active.map.end();
        for (i, event) in events.iter().enumerate() {
            let stripped;
            let event = if self.shared.meta.keep_content || !event.body.has_content() {
                event
            } else {
                stripped = strip(event);
                &stripped
            };
            let len = loop {
                match self.write_frame(at, event) {
                    Ok(len) => break len,
                    Err(WriteError::Full) => {
                        self.publish(at, events);
                        self.roll()?;
                        at = self.active.map.end();
                    }
                    Err(WriteError::Fatal(e)) => {
                        self.abandon(at);
                        return Err(e);
                    }
                }
            };
            self.pending.push((event.ts_ns, offset32(at), offset32(len), i));
            at += len;
            self.next_seq += 1;
        }
        self.publish(at, events);
        Ok(first..self.next_seq)
    }

    /// Records the latency of an append call that started at `start` (a
    /// `Shared::clock` reading).
    pub fn record_append(&mut self, start: u64) {
        let ns = self.shared.clock.ns_since(start);
        record(&mut self.latency, ns);
    }

    /// Writes one frame at `at` (unpublished); returns its length.
    fn write_frame(&mut self, at: usize, event: &Event) -> Result<usize, WriteError> {
        let room = self.active.map.len().saturating_sub(at).min(FRAME_BYTES_MAX);
        if room <= FRAME_HEADER_BYTES {
            return Err(WriteError::Full);
        }
        let seg = &self.active;
        let end = seg.map.end();
        let Some(tail) = seg.map.unpublished_mut(&mut self.token, at - end + room) else {
            return Err(WriteError::Full);
        };
        let dst = &mut tail[at - end..];
        match codec::encode_into(event, &mut dst[FRAME_HEADER_BYTES..]) {
            Ok(n) => {
                let len = FRAME_HEADER_BYTES + n;
                frame::seal_keyed(&mut dst[..len], self.next_seq, event.ts_ns, self.salt_key);
                Ok(len)
            }
            Err(e) => {
                // A failed encode may have written part of a body: never leave it behind.
                dst.fill(0);
                match e {
                    EncodeError::NoRoom if room == FRAME_BYTES_MAX || at == HEADER_BYTES => {
                        Err(WriteError::Fatal(Error::RecordTooLarge {
                            len: room,
                            max: RECORD_BODY_BYTES_MAX as usize,
                        }))
                    }
                    EncodeError::NoRoom => Err(WriteError::Full),
                    EncodeError::Other(why) => Err(WriteError::Fatal(Error::InvalidOption(why))),
                }
            }
        }
    }

    /// Indexes and publishes the frames written up to `at`.
    fn publish(&mut self, at: usize, events: &[Event]) {
        if self.pending.is_empty() {
            return;
        }
        let pending = &mut self.pending;
        self.active.with_index_mut(|ix| {
            for &(ts, off, len, i) in pending.iter() {
                ix.note(ts, off, len, events[i].session.as_str());
            }
        });
        pending.clear();
        self.active.map.publish(&mut self.token, at);
        self.shared.set_last_seq(self.next_seq - 1);
    }

    /// Drops unpublished frames of a failed batch.
    fn abandon(&mut self, at: usize) {
        self.pending.clear();
        let end = self.active.map.end();
        self.next_seq = self.active.index().map_or(self.next_seq, |ix| ix.next_seq());
        if let Some(tail) = self.active.map.unpublished_mut(&mut self.token, at - end) {
            tail.fill(0);
        }
    }

    /// Moves to the next segment: the prepared one if ready, else one made now.
    fn roll(&mut self) -> Result<()> {
        let next_no = self.active.no() + 1;
        let prepared = self.take_prepared(next_no)?;
        let seg =
            Arc::new(open::activate(prepared.path, prepared.map, &self.shared.meta, next_no, self.next_seq)?);
        self.token = prepared.token;
        self.salt_key = SaltKey::new(seg.header.salt);
        let old = std::mem::replace(&mut self.active, Arc::clone(&seg));
        Arc::make_mut(&mut self.shared.segments.write()).push(seg);
        // Preparing the next segment comes first: sealing waits on the disk.
        self.request_prepare();
        let _ = self.sync_jobs.send(SyncJob::Seal(old));
        Ok(())
    }

    fn take_prepared(&mut self, no: u64) -> Result<Prepared> {
        if self.prepare_pending {
            self.prepare_pending = false;
            let got = match self.prepared.try_recv() {
                Ok(p) => Some(p),
                // The housekeeper is still preparing it: waiting beats racing it.
                Err(TryRecvError::Empty) => self.prepared.recv().ok(),
                Err(TryRecvError::Disconnected) => None,
            };
            // If preparing failed (a full disk, say), try once more here and report that error.
            if let Some(Ok(p)) = got
                && p.no == no
            {
                return Ok(p);
            }
        }
        open::prepare(&self.shared.dir, &self.shared.meta, no, false)
    }

    fn request_prepare(&mut self) {
        if !self.prepare_pending && self.prepare_jobs.send(PrepareJob::Segment(self.active.no() + 1)).is_ok()
        {
            self.prepare_pending = true;
        }
    }
}

enum WriteError {
    Full,
    Fatal(Error),
}

fn strip(event: &Event) -> Event {
    let mut e = event.clone();
    e.body.strip_content();
    e
}
