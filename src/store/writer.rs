//! The append path: a batch's frames are encoded into the mapped tail (and, when it fills,
//! into segments rolled onto for the batch), sealed, indexed, and made visible all at once
//! when the batch commits. Nothing of a batch is published before its commit, so an
//! abandoned batch is wiped without touching a byte any reader may look at, and a crash
//! leaves frames whose batch never ended, which recovery cuts (formats/segment.md).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use hdrhistogram::Histogram;

use super::Shared;
use super::housekeeper::{PrepareJob, SyncJob};
use super::metrics::record;
use super::prepare::{self, Prepared};
use crate::codec::{self, EncodeError};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::frame::{self, FRAME_HEADER_BYTES, SaltKey, Stamp};
use crate::limits::{BATCH_EVENTS_MAX, RECORD_BODY_BYTES_MAX};
use crate::segment::header::HEADER_BYTES;
use crate::segment::map::TailToken;
use crate::segment::{Segment, offset32};

/// Segments the writer has left that may wait for their seal before a new batch waits.
const UNSEALED_MAX: u64 = 2;

const FRAME_BYTES_MAX: usize = FRAME_HEADER_BYTES + RECORD_BODY_BYTES_MAX as usize;

pub(super) struct Writer {
    shared: Arc<Shared>,
    active: Arc<Segment>,
    token: TailToken,
    /// The active segment's salt, as its frames' CRCs start from it.
    salt_key: SaltKey,
    /// One past the last committed seq.
    next_seq: u64,
    prepare_jobs: Sender<PrepareJob>,
    sync_jobs: Sender<SyncJob>,
    prepared: Receiver<Result<Prepared>>,
    /// The segment number the preparer is working on, if any.
    preparing: Option<u64>,
    /// Prepared segments not in use yet (from the preparer, or handed back by an
    /// abandoned batch), by number.
    spare: Vec<Prepared>,
    /// The batch being written.
    open: Option<Open>,
    /// Frames written into the current segment but not yet indexed: (ts, offset, length,
    /// event index in the current `push`).
    notes: Vec<(i64, u32, u32, usize)>,
    /// Latency of each append call (`Metrics::append`); the writer lock guards it.
    pub latency: Histogram<u64>,
}

/// A batch being written.
struct Open {
    first: u64,
    next: u64,
    /// Where the next frame goes in the current segment (the last staged one, or `active`).
    at: usize,
    /// Where the batch's part in `active` ends, once it rolled.
    active_end: usize,
    /// Segments rolled onto during the batch: not shared with readers until the commit.
    staged: Vec<Staged>,
    /// The durable seq when the batch began: the frames' durable points.
    durable: u64,
    /// Offset and length of the last frame written (in the current segment).
    last_frame: Option<(usize, usize)>,
    /// The active segment's index before the batch: (records, end, last frame).
    active_index: (u64, u32, u32),
    /// A push failed: the batch is abandoned.
    failed: bool,
}

struct Staged {
    seg: Segment,
    token: TailToken,
    key: SaltKey,
    end: usize,
}

impl Writer {
    #[expect(clippy::too_many_arguments, reason = "the writer is built once, from every part it owns")]
    pub fn new(
        shared: Arc<Shared>,
        token: TailToken,
        next_seq: u64,
        spare: Vec<Prepared>,
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
            salt_key,
            next_seq,
            prepare_jobs,
            sync_jobs,
            prepared,
            preparing: None,
            spare,
            open: None,
            notes: Vec::new(),
            latency,
        };
        w.request_prepare(w.active.no() + 1);
        w
    }

    /// Appends a batch; seqs are consecutive, and the batch is visible, durable and
    /// recovered whole or not at all. On error nothing of it is stored.
    pub fn append_batch(&mut self, events: &[Event]) -> Result<Range<u64>> {
        if events.is_empty() {
            self.shared.check_writable()?;
            return Ok(self.next_seq..self.next_seq);
        }
        self.begin()?;
        match self.push(events, true) {
            Ok(()) => self.commit(),
            Err(e) => {
                self.abort();
                Err(e)
            }
        }
    }

    /// Records the latency of an append call that started at `start` (a
    /// `Shared::clock` reading).
    pub fn record_append(&mut self, start: u64) {
        let ns = self.shared.clock.ns_since(start);
        record(&mut self.latency, ns);
    }

    /// Starts a batch.
    pub fn begin(&mut self) -> Result<()> {
        self.shared.check_writable()?;
        self.wait_for_seals()?;
        if self.open.is_some() {
            self.abort();
        }
        let active_index = self
            .active
            .index()
            .map_or((0, offset32(HEADER_BYTES), 0), |ix| (ix.records, ix.end, ix.last_frame_at));
        self.open = Some(Open {
            first: self.next_seq,
            next: self.next_seq,
            at: self.active.end(),
            active_end: 0,
            staged: Vec::new(),
            durable: self.shared.durable.durable(),
            last_frame: None,
            active_index,
            failed: false,
        });
        Ok(())
    }

    /// Writes `events` as the next frames of the open batch. With `ends`, the last of them
    /// ends the batch; otherwise every frame says the batch continues (a streamed batch is
    /// told which frame was last at its commit). A failure abandons the batch.
    pub fn push(&mut self, events: &[Event], ends: bool) -> Result<()> {
        let result = self.push_inner(events, ends);
        self.index_notes(events);
        if result.is_err()
            && let Some(open) = self.open.as_mut()
        {
            open.failed = true;
        }
        result
    }

    fn push_inner(&mut self, events: &[Event], ends: bool) -> Result<()> {
        let open = self.open.as_ref().ok_or(Error::Closed)?;
        if open.failed {
            return Err(Error::InvalidOption("the batch was abandoned after an earlier error".into()));
        }
        if open.next - open.first + events.len() as u64 > BATCH_EVENTS_MAX {
            return Err(Error::InvalidOption(format!("a batch holds at most {BATCH_EVENTS_MAX} events")));
        }
        for (i, event) in events.iter().enumerate() {
            let stripped;
            let event = if self.shared.meta.keep_content || !event.body.has_content() {
                event
            } else {
                stripped = strip(event);
                &stripped
            };
            let last = ends && i + 1 == events.len();
            while !self.push_one(event, i, last)? {
                // Never roll for an event no segment can hold: that would leave a trace.
                self.check_fits(event)?;
                // The frames written so far belong to the segment they are in.
                self.index_notes(events);
                self.roll_in_batch()?;
            }
        }
        Ok(())
    }

    /// Writes one frame; false when the current segment is full.
    fn push_one(&mut self, event: &Event, i: usize, last: bool) -> Result<bool> {
        let open = self.open.as_ref().ok_or(Error::Closed)?;
        let position = u32::try_from(open.next - open.first).unwrap_or(u32::MAX);
        let stamp = Stamp {
            seq: open.next,
            ts_ns: event.ts_ns,
            durable_lag: frame::durable_lag(open.next, open.durable),
            batch: frame::batch_word(position, !last),
        };
        let at = open.at;
        match self.write_frame(at, event, stamp) {
            Ok(len) => {
                self.notes.push((event.ts_ns, offset32(at), offset32(len), i));
                let open = self.open.as_mut().ok_or(Error::Closed)?;
                open.last_frame = Some((at, len));
                open.at += len;
                open.next += 1;
                Ok(true)
            }
            Err(WriteError::Full) => Ok(false),
            Err(WriteError::TooLarge) => self.check_fits(event).and(Err(Error::RecordTooLarge {
                len: codec::encoded_len(event),
                max: self.body_bytes_max(),
            })),
            Err(WriteError::Fatal(e)) => Err(e),
        }
    }

    /// `RecordTooLarge` for an event whose body does not fit the record limit or an empty
    /// segment, with its real encoded size.
    fn check_fits(&self, event: &Event) -> Result<()> {
        let len = codec::encoded_len(event);
        let max = self.body_bytes_max();
        if len > max { Err(Error::RecordTooLarge { len, max }) } else { Ok(()) }
    }

    /// The largest body a frame can hold: the record limit, or what an empty segment has
    /// room for.
    fn body_bytes_max(&self) -> usize {
        (RECORD_BODY_BYTES_MAX as usize).min(self.room_in_empty_segment())
    }

    /// The segment size (at most `SEGMENT_BYTES_MAX`, so it fits a usize).
    fn segment_bytes(&self) -> usize {
        usize::try_from(self.shared.meta.segment_bytes).unwrap_or(usize::MAX)
    }

    /// Bytes of body an empty segment has room for.
    fn room_in_empty_segment(&self) -> usize {
        self.segment_bytes().saturating_sub(HEADER_BYTES + FRAME_HEADER_BYTES)
    }

    /// Waits while more than `UNSEALED_MAX` segments the writer has left are not sealed
    /// yet. Only a writer outrunning the disk ever waits here (at 60 Hz a segment takes
    /// seconds to fill and its seal milliseconds); without it the syncer falls behind
    /// without bound, and with it the unsynced log (what a crash can lose, what the next
    /// open must scan) and the indexes held in memory.
    fn wait_for_seals(&self) -> Result<()> {
        while self.active.no() > self.shared.durable.sealed_through() + UNSEALED_MAX + 1 {
            self.shared.durable.check()?;
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(())
    }

    /// Encodes and seals one frame at `at` of the current segment (unpublished); returns its
    /// length. Never writes past `segment_bytes`.
    fn write_frame(&mut self, at: usize, event: &Event, stamp: Stamp) -> Result<usize, WriteError> {
        let limit = self.segment_bytes();
        let room = limit.saturating_sub(at).min(FRAME_BYTES_MAX);
        let fresh = at == HEADER_BYTES;
        let (map, token, key) = self.current();
        if room <= FRAME_HEADER_BYTES {
            return Err(if fresh { WriteError::TooLarge } else { WriteError::Full });
        }
        let end = map.end();
        let Some(tail) = map.unpublished_mut(token, at - end + room) else {
            return Err(WriteError::Full);
        };
        let dst = &mut tail[at - end..];
        match codec::encode_into(event, &mut dst[FRAME_HEADER_BYTES..]) {
            Ok(n) => {
                let len = FRAME_HEADER_BYTES + n;
                frame::seal(&mut dst[..len], stamp, key);
                Ok(len)
            }
            Err(e) => {
                // A failed encode may have written part of a body: never leave it behind.
                dst.fill(0);
                match e {
                    EncodeError::NoRoom if room == FRAME_BYTES_MAX || fresh => Err(WriteError::TooLarge),
                    EncodeError::NoRoom => Err(WriteError::Full),
                    EncodeError::Other(why) => Err(WriteError::Fatal(Error::InvalidOption(why))),
                }
            }
        }
    }

    /// The segment the open batch writes into: its map, token and salt key.
    fn current(&mut self) -> (&crate::segment::map::SegmentMap, &mut TailToken, SaltKey) {
        match self.open.as_mut().and_then(|o| o.staged.last_mut()) {
            Some(st) => (&st.seg.map, &mut st.token, st.key),
            None => (&self.active.map, &mut self.token, self.salt_key),
        }
    }

    /// Indexes the frames written since the last call (into the current segment).
    fn index_notes(&mut self, events: &[Event]) {
        if self.notes.is_empty() {
            return;
        }
        let notes = std::mem::take(&mut self.notes);
        let apply = |ix: &mut crate::index::SegmentIndex| {
            for &(ts, off, len, i) in &notes {
                let session = events.get(i).map_or("", |e| e.session.as_str());
                ix.note(ts, off, len, session);
            }
        };
        match self.open.as_mut().and_then(|o| o.staged.last_mut()) {
            Some(st) => st.seg.with_index_mut(apply),
            None => self.active.with_index_mut(apply),
        };
        self.notes = notes;
        self.notes.clear();
    }

    /// Moves the open batch onto a new segment: the current one is full.
    fn roll_in_batch(&mut self) -> Result<()> {
        let cur_no =
            self.open.as_ref().and_then(|o| o.staged.last()).map_or(self.active.no(), |s| s.seg.no());
        let prepared = self.take_prepared(cur_no + 1)?;
        let open = self.open.as_mut().ok_or(Error::Closed)?;
        let (seg, token) = prepare::activate(&self.shared.disk, prepared, &self.shared.meta, open.next)?;
        match open.staged.last_mut() {
            Some(st) => st.end = open.at,
            None => open.active_end = open.at,
        }
        let key = SaltKey::new(seg.header.salt);
        open.staged.push(Staged { seg, token, key, end: HEADER_BYTES });
        open.at = HEADER_BYTES;
        open.last_frame = None;
        self.request_prepare(cur_no + 2);
        Ok(())
    }

    /// Commits the open batch: every frame becomes visible at once. Returns its seqs.
    pub fn commit(&mut self) -> Result<Range<u64>> {
        let Some(mut open) = self.open.take() else { return Err(Error::Closed) };
        if open.failed {
            self.open = Some(open);
            self.abort();
            return Err(Error::InvalidOption("the batch was abandoned after an earlier error".into()));
        }
        if let Some((at, len)) = open.last_frame {
            self.end_batch_at(&mut open, at, len);
        }
        let active_end = if open.staged.is_empty() { open.at } else { open.active_end };
        let last_seq = open.next.saturating_sub(1);
        // The batch ends in the last segment it wrote: that is where its commit point goes.
        match open.staged.last_mut() {
            Some(last) => {
                last.end = open.at;
                last.seg.with_index_mut(|ix| ix.note_commit(offset32(open.at), last_seq));
            }
            None if open.next > open.first => {
                self.active.with_index_mut(|ix| ix.note_commit(offset32(open.at), last_seq));
            }
            None => {}
        }
        self.active.map.publish(&mut self.token, active_end);
        for st in open.staged {
            let Staged { seg, mut token, key, end } = st;
            seg.map.publish(&mut token, end);
            let seg = Arc::new(seg);
            Arc::make_mut(&mut self.shared.segments.write()).push(Arc::clone(&seg));
            let old = std::mem::replace(&mut self.active, seg);
            self.token = token;
            self.salt_key = key;
            let _ = self.sync_jobs.send(SyncJob::Seal(old));
        }
        self.next_seq = open.next;
        if open.next > open.first {
            self.shared.set_last_seq(open.next - 1);
        }
        Ok(open.first..open.next)
    }

    /// Clears the *continues* bit of the batch's last frame (a streamed batch learns at
    /// its commit which frame was its last).
    fn end_batch_at(&mut self, open: &mut Open, at: usize, len: usize) {
        let (map, token, key) = match open.staged.last_mut() {
            Some(st) => (&st.seg.map, &mut st.token, st.key),
            None => (&self.active.map, &mut self.token, self.salt_key),
        };
        let end = map.end();
        if let Some(tail) = map.unpublished_mut(token, (at + len).saturating_sub(end)) {
            frame::end_batch(&mut tail[at - end..], key);
        }
    }

    /// Abandons the open batch: every byte it wrote is zeroed (none was published), the
    /// active segment's index forgets its frames, and the segments it rolled onto go back
    /// to the spares.
    pub fn abort(&mut self) {
        self.notes.clear();
        let Some(open) = self.open.take() else { return };
        let written_end = if open.staged.is_empty() { open.at } else { open.active_end };
        let end = self.active.map.end();
        if let Some(tail) = self.active.map.unpublished_mut(&mut self.token, written_end.saturating_sub(end))
        {
            tail.fill(0);
        }
        let (records, ix_end, last) = open.active_index;
        self.active.with_index_mut(|ix| ix.truncate(records, ix_end, last));
        let mut staged = open.staged;
        if let Some(last) = staged.last_mut() {
            last.end = open.at;
        }
        for st in staged.into_iter().rev() {
            self.spare.push(prepare::deactivate(st.seg, st.token, st.end));
        }
    }

    /// The prepared segment `no`: a spare, the preparer's, or one made now.
    fn take_prepared(&mut self, no: u64) -> Result<Prepared> {
        if let Some(i) = self.spare.iter().position(|p| p.no == no) {
            return Ok(self.spare.swap_remove(i));
        }
        if self.preparing == Some(no) {
            self.preparing = None;
            let got = match self.prepared.try_recv() {
                Ok(p) => Some(p),
                // The preparer is still at it: waiting beats racing it for the file.
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
        prepare::prepare(&self.shared.disk, &self.shared.dir, &self.shared.meta, no, false)
    }

    /// Asks the preparer for segment `no` unless it is at hand or on its way.
    fn request_prepare(&mut self, no: u64) {
        if self.preparing.is_some() || self.spare.iter().any(|p| p.no == no) {
            return;
        }
        if self.prepare_jobs.send(PrepareJob::Segment(no)).is_ok() {
            self.preparing = Some(no);
        }
    }
}

enum WriteError {
    Full,
    TooLarge,
    Fatal(Error),
}

fn strip(event: &Event) -> Event {
    let mut e = event.clone();
    e.body.strip_content();
    e
}
