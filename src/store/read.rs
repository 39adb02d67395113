//! Reads: one record by seq, a seq range, one session. Every frame read is checked (CRC and
//! seq) whatever the index says.

use std::ops::RangeInclusive;
use std::sync::Arc;

use parking_lot::MappedRwLockReadGuard;

use super::{Shared, Store};
use crate::codec;
use crate::error::{Error, Result};
use crate::event::{Event, EventRef};
use crate::frame::Frame;
use crate::index::SegmentIndex;
use crate::index::file as index_file;
use crate::segment::Segment;
use crate::segment::header::HEADER_BYTES;
use crate::segment::scan::{Chain, Stop};
use crate::snapshot::file::Binding;

/// A stored event and its seq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The seq the store assigned.
    pub seq: u64,
    /// The event.
    pub event: Event,
}

impl Store {
    /// The record with this seq, if stored.
    pub fn get(&self, seq: u64) -> Result<Option<Record>> {
        self.iter(seq..=seq).next().transpose()
    }

    /// Records with seqs in `range` (clamped to what is stored), in order.
    pub fn iter(&self, range: RangeInclusive<u64>) -> RecordIter {
        iter(&self.shared, range)
    }

    /// `f` with each event in `range`, in order, its ids borrowed from the log (what replay
    /// and `validate` run: no allocation per id). Returns how many.
    pub(crate) fn for_each_ref(
        &self,
        range: RangeInclusive<u64>,
        f: impl FnMut(u64, &EventRef<'_>),
    ) -> Result<u64> {
        for_each_ref(&self.shared, range, f)
    }

    /// One session's records, in seq order, found through the sidecar indexes.
    pub fn session(&self, session: &str) -> SessionIter {
        let segments = Arc::clone(&self.shared.segments.read());
        SessionIter {
            shared: Arc::clone(&self.shared),
            session: session.to_owned(),
            segments,
            last_seq: self.last_seq(),
            seg: 0,
            offsets: Vec::new().into_iter(),
            returned: 0,
            rebuilt: None,
        }
    }

    /// Loads (validating, or rebuilding) every segment's index; rebuilds show up in
    /// `warnings`.
    pub fn check_indexes(&self) -> Result<()> {
        let segments = Arc::clone(&self.shared.segments.read());
        for i in 0..segments.len() {
            drop(index_of(&self.shared, &segments, i)?);
        }
        Ok(())
    }
}

/// Records with seqs in `range`, clamped to what is committed now.
pub(super) fn iter(shared: &Arc<Shared>, range: RangeInclusive<u64>) -> RecordIter {
    let segments = Arc::clone(&shared.segments.read());
    let end = (*range.end()).min(shared.last_seq());
    RecordIter {
        shared: Arc::clone(shared),
        segments,
        next: (*range.start()).max(shared.log_start()),
        end,
        pos: None,
        last: None,
    }
}

/// Calls `apply` with each event in `range` (clamped as `iter` clamps it), in order, its
/// ids borrowed from the log: what replay runs, so it allocates no id. Returns how many.
pub(super) fn for_each_ref(
    shared: &Arc<Shared>,
    range: RangeInclusive<u64>,
    apply: impl FnMut(u64, &EventRef<'_>),
) -> Result<u64> {
    follow(&mut iter(shared, range), apply)
}

/// `for_each_ref` over what is left of `it`.
pub(super) fn follow(it: &mut RecordIter, mut apply: impl FnMut(u64, &EventRef<'_>)) -> Result<u64> {
    let mut n = 0;
    while !it.is_done() {
        let Some(f) = it.step_frame()? else { continue };
        apply_body(f.seq, f.ts_ns, f.body, &mut apply)?;
        n += 1;
    }
    Ok(n)
}

/// Decodes the body of a checked frame for replay and applies it.
pub(super) fn apply_body(
    seq: u64,
    ts_ns: i64,
    body: &[u8],
    apply: &mut impl FnMut(u64, &EventRef<'_>),
) -> Result<()> {
    let Ok(r) = codec::decode_view(body) else {
        // The full decoder refuses it too, and says why.
        let why = codec::decode_ref(body).err().unwrap_or_else(|| "refused by the replay decoder".into());
        return Err(Error::Decode { seq, why });
    };
    apply(seq, &EventRef { ts_ns, frame: r.frame, session: r.session, user: r.user, body: r.body });
    Ok(())
}

/// A frame that `RecordIter::step_checked` checked: where its body lies, for a thread
/// that decodes it later (`read_ahead`).
#[derive(Debug, Clone)]
pub(super) struct Checked {
    /// Its segment, in the iterator's segment list.
    pub segment: usize,
    /// Its body's bytes in that segment.
    pub body: std::ops::Range<usize>,
    pub seq: u64,
    pub ts_ns: i64,
}

/// What a snapshot of the state after seq `seq` binds to: the salt of the segment holding
/// its frame and the frame's CRC. `None` when `seq` is not in the log.
pub(super) fn binding_of(shared: &Arc<Shared>, seq: u64) -> Result<Option<Binding>> {
    if seq < shared.log_start() || seq > shared.last_seq() {
        return Ok(None);
    }
    let it = iter(shared, seq..=seq);
    let (i, at) = it.seek()?;
    let seg = &it.segments[i];
    let f = seg.frame_at(at, seq)?;
    Ok(Some(Binding { salt: seg.header.salt, crc: f.crc }))
}

/// Where one frame lies (`Store::locate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FramePlace {
    /// Index of its segment in the list searched.
    pub segment: usize,
    /// Its offset in that segment.
    pub at: usize,
    /// Its length (header and body).
    pub len: usize,
    /// Its position in its batch (0 = first).
    pub position: u32,
    /// Whether more frames of its batch follow.
    pub continues: bool,
}

/// Where the frame of `seq` lies: a segment of `segments` (the list the caller holds) and
/// that frame's offset, with the frame's length, batch position and continues bit. `None`
/// when `seq` is not in the committed log.
pub(super) fn locate(
    shared: &Arc<Shared>,
    segments: &Arc<Vec<Arc<Segment>>>,
    seq: u64,
) -> Result<Option<FramePlace>> {
    if seq < shared.log_start() || seq > shared.last_seq() {
        return Ok(None);
    }
    let it = RecordIter {
        shared: Arc::clone(shared),
        segments: Arc::clone(segments),
        next: seq,
        end: seq,
        pos: None,
        last: None,
    };
    let (i, at) = it.seek()?;
    let f = segments[i].frame_at(at, seq)?;
    Ok(Some(FramePlace { segment: i, at, len: f.len(), position: f.position(), continues: f.continues() }))
}

/// Iterator over a seq range.
pub struct RecordIter {
    shared: Arc<Shared>,
    segments: Arc<Vec<Arc<Segment>>>,
    next: u64,
    end: u64,
    /// Current segment and the offset of the frame with seq `next`.
    pos: Option<(usize, usize)>,
    /// What the last frame read binds a snapshot to.
    last: Option<Binding>,
}

impl Iterator for RecordIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        // Tombstones (purged events) are stepped over: their seqs stay taken, unseen.
        while self.next <= self.end {
            match self.step() {
                Ok(Some(rec)) => return Some(Ok(rec)),
                Ok(None) => {}
                Err(e) => {
                    self.next = u64::MAX;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl RecordIter {
    /// Reads the record of `self.next` and moves past it; `None` for a tombstone.
    fn step(&mut self) -> Result<Option<Record>> {
        let Some(f) = self.step_frame()? else { return Ok(None) };
        let event = codec::decode(f.ts_ns, f.body).map_err(|why| Error::Decode { seq: f.seq, why })?;
        Ok(Some(Record { seq: f.seq, event }))
    }

    /// `step_frame`, telling where the body lies instead of borrowing it.
    pub(super) fn step_checked(&mut self) -> Result<Option<Checked>> {
        let Some((seq, ts_ns, len)) = self.step_frame()?.map(|f| (f.seq, f.ts_ns, f.body.len())) else {
            return Ok(None);
        };
        // `step_frame` left `pos` just past the frame, whose body is its end.
        let (segment, end) = self.pos.ok_or(Error::Closed)?;
        Ok(Some(Checked { segment, body: end - len..end, seq, ts_ns }))
    }

    /// Whether every seq of the range has been stepped over.
    pub(super) fn is_done(&self) -> bool {
        self.next > self.end
    }

    /// Seqs left to step over.
    pub(super) fn remaining(&self) -> u64 {
        self.end.saturating_add(1).saturating_sub(self.next)
    }

    /// The segment list the iterator reads.
    pub(super) fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        Arc::clone(&self.segments)
    }

    /// Reads the frame of `self.next` and moves past it; `None` for a tombstone.
    fn step_frame(&mut self) -> Result<Option<Frame<'_>>> {
        let (i, at) = match self.pos {
            Some((i, at)) if self.starts_in(i + 1) != Some(self.next) => (i, at),
            // Read on into the next segment from its first frame: no index needed.
            Some((i, _)) => (i + 1, HEADER_BYTES),
            None => self.seek()?,
        };
        let seg = &self.segments[i];
        let f = seg.frame_at(at, self.next)?;
        self.pos = Some((i, at + f.len()));
        self.last = Some(Binding { salt: seg.header.salt, crc: f.crc });
        self.next += 1;
        Ok((!f.purged()).then_some(f))
    }

    /// Follows the log on, up to `end` (clamped to what is committed now), keeping the
    /// position: a reader that follows the log (the snapshotter) never seeks again, so it
    /// loads no sealed segment's index.
    pub(super) fn extend_to(&mut self, end: u64) {
        let base = self.pos.and_then(|(i, _)| self.segments.get(i)).map(|s| s.header.base_seq);
        self.segments = Arc::clone(&self.shared.segments.read());
        self.end = end.min(self.shared.last_seq());
        // Retention may have removed segments before this one: find it again by its base.
        self.pos = match (self.pos, base) {
            (Some((_, at)), Some(b)) => {
                self.segments.iter().position(|s| s.header.base_seq == b).map(|i| (i, at))
            }
            _ => None,
        };
    }

    /// What the last frame read binds a snapshot to.
    pub(super) fn last_binding(&self) -> Option<Binding> {
        self.last
    }

    /// The seq of the last frame read.
    pub(super) fn last_seq_read(&self) -> Option<u64> {
        self.last.map(|_| self.next - 1)
    }

    fn starts_in(&self, i: usize) -> Option<u64> {
        self.segments.get(i).map(|s| s.header.base_seq)
    }

    /// Finds the frame of `self.next` through the sparse index. A frame that is not where
    /// the index says means the index is wrong: it is rebuilt from the segment, and only if
    /// the rebuilt one fails too is the segment damaged.
    fn seek(&self) -> Result<(usize, usize)> {
        let i = self.segments.partition_point(|s| s.header.base_seq <= self.next).saturating_sub(1);
        let seg = self.segments.get(i).ok_or(Error::Closed)?;
        let first = seek_in(&*index_of(&self.shared, &self.segments, i)?, seg, self.next);
        match first {
            Ok(at) => Ok((i, at)),
            Err(e) if i + 1 < self.segments.len() => {
                rebuild_sealed(&self.shared, &self.segments, i, &e.to_string())?;
                Ok((i, seek_in(&*index_of(&self.shared, &self.segments, i)?, seg, self.next)?))
            }
            Err(e) => Err(e),
        }
    }
}

/// The offset of the frame of `seq` in `seg`, through its index.
fn seek_in(ix: &SegmentIndex, seg: &Segment, seq: u64) -> Result<usize> {
    let Some((mut at_seq, at)) = ix.seek(seq) else {
        return Err(seg.corrupt(0, seq, "seq missing from its segment's index"));
    };
    let mut at = at as usize;
    while at_seq < seq {
        at += seg.frame_at(at, at_seq)?.len();
        at_seq += 1;
    }
    Ok(at)
}

/// Iterator over one session's records.
pub struct SessionIter {
    shared: Arc<Shared>,
    session: String,
    segments: Arc<Vec<Arc<Segment>>>,
    last_seq: u64,
    seg: usize,
    offsets: std::vec::IntoIter<u32>,
    /// The last seq returned: after an index rebuild, the segment is read again past it.
    returned: u64,
    /// The segment whose index was rebuilt during this iteration.
    rebuilt: Option<usize>,
}

impl Iterator for SessionIter {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(at) = self.offsets.next() {
                match self.read(at as usize) {
                    Ok(Some(rec)) if rec.seq <= self.returned => continue,
                    Ok(Some(rec)) => {
                        self.returned = rec.seq;
                        return Some(Ok(rec));
                    }
                    Ok(None) => continue,
                    // A posting that points at the wrong frame: the index is wrong, not the log.
                    Err(e) if self.rebuilt != Some(self.seg - 1) && self.seg < self.segments.len() => {
                        let i = self.seg - 1;
                        if let Err(e) = rebuild_sealed(&self.shared, &self.segments, i, &e.to_string()) {
                            return Some(Err(self.stop(e)));
                        }
                        self.rebuilt = Some(i);
                        self.seg = i;
                        self.offsets = Vec::new().into_iter();
                    }
                    Err(e) => return Some(Err(self.stop(e))),
                }
                continue;
            }
            if self.seg >= self.segments.len() {
                return None;
            }
            let offsets =
                index_of(&self.shared, &self.segments, self.seg).map(|ix| ix.session_offsets(&self.session));
            match offsets {
                Ok(o) => self.offsets = o.into_iter(),
                Err(e) => return Some(Err(self.stop(e))),
            }
            self.seg += 1;
        }
    }
}

impl SessionIter {
    /// Ends the iteration after an error.
    fn stop(&mut self, e: Error) -> Error {
        self.seg = self.segments.len();
        self.offsets = Vec::new().into_iter();
        e
    }

    /// Reads the frame at `at` in the current segment. The seq is not known in advance, so
    /// it is checked against the segment's range; the CRC is always checked.
    fn read(&self, at: usize) -> Result<Option<Record>> {
        let seg = &self.segments[self.seg - 1];
        let data = seg.map.published();
        let f = match crate::frame::decode(data, at, seg.header.salt, seg.layout()) {
            crate::frame::Decoded::Frame(f) => f,
            // Indexed by the writer but not yet published.
            crate::frame::Decoded::End if at >= data.len() => return Ok(None),
            _ => return Err(seg.corrupt(at, 0, "no valid frame where the index points")),
        };
        if f.seq > self.last_seq {
            return Ok(None);
        }
        let next_base = self.segments.get(self.seg).map_or(u64::MAX, |s| s.header.base_seq);
        if f.seq < seg.header.base_seq || f.seq >= next_base {
            return Err(seg.corrupt(at, f.seq, "indexed frame's seq is outside its segment"));
        }
        if f.purged() {
            return Err(seg.corrupt(at, f.seq, "indexed frame is a tombstone"));
        }
        let event = codec::decode(f.ts_ns, f.body).map_err(|why| Error::Decode { seq: f.seq, why })?;
        if event.session.as_str() != self.session {
            return Err(seg.corrupt(at, f.seq, "indexed frame belongs to another session"));
        }
        Ok(Some(Record { seq: f.seq, event }))
    }
}

/// The index of segment `i`, loading a sealed segment's index file on first use. A file
/// that is missing, foreign, stale or damaged is rebuilt from the segment and rewritten.
pub(super) fn index_of<'a>(
    shared: &Shared,
    segments: &'a [Arc<Segment>],
    i: usize,
) -> Result<MappedRwLockReadGuard<'a, SegmentIndex>> {
    let seg = &segments[i];
    if let Some(ix) = seg.index() {
        return Ok(ix);
    }
    let next_seq = match segments.get(i + 1) {
        Some(next) => next.header.base_seq,
        None => return Err(seg.corrupt(0, seg.header.base_seq, "tail segment has no index")),
    };
    let index = match seg.load_index_file(next_seq) {
        Ok(ix) => ix,
        Err(why) => rebuild(shared, seg, next_seq, &why)?,
    };
    seg.set_index(index);
    seg.index().ok_or_else(|| seg.corrupt(0, seg.header.base_seq, "index vanished"))
}

/// Rebuilds sealed segment `i`'s index because it pointed at the wrong place.
fn rebuild_sealed(shared: &Shared, segments: &[Arc<Segment>], i: usize, why: &str) -> Result<()> {
    let (Some(seg), Some(next)) = (segments.get(i), segments.get(i + 1)) else { return Ok(()) };
    let index =
        rebuild(shared, seg, next.header.base_seq, &format!("it pointed at the wrong frame ({why})"))?;
    seg.set_index(index);
    Ok(())
}

/// Rebuilds a sealed segment's index by scanning it; the scan must find exactly the seqs
/// the next segment's base implies, ending cleanly.
fn rebuild(shared: &Shared, seg: &Segment, next_seq: u64, why: &str) -> Result<SegmentIndex> {
    let (scan, index) = seg.scan_and_index(Chain::start(seg.header.base_seq), false)?;
    let expected = next_seq.saturating_sub(seg.header.base_seq);
    // Every frame up to the next segment's base must be there; bytes after the last one
    // are never read.
    if scan.records != expected {
        let stop = match scan.stop {
            Stop::Clean => "clean end".to_owned(),
            Stop::Break(b) => b.why.to_string(),
        };
        return Err(seg.corrupt(
            scan.end,
            scan.next_seq(),
            format!("sealed segment holds {} of its {expected} records ({stop})", scan.records),
        ));
    }
    let path = seg.index_path();
    shared.warn(format!("rebuilt index {}: {why}", path.display()));
    if shared.writable {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Err(e) = index_file::publish(&shared.disk, &shared.dir, name, seg.index_key(), &index) {
            shared.warn(format!("writing index {name}: {e}"));
        }
    }
    Ok(index)
}
