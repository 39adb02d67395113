//! What every run shares: the events of a frame, the 60 Hz clock, and the latency
//! histograms and their percentiles.
//!
//! Every run stores the very same events (a pure function of the frame number), so the
//! engines are compared on identical work.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use wfstore::event::Event;
use wfstore::sim::synthetic;

/// The frame budget at 60 Hz.
pub const FRAME_BUDGET: Duration = Duration::from_nanos(16_666_667);

/// Seed of the synthetic events: fixed, so that every run and every machine stores the same
/// bytes.
const SEED: u64 = 42;

/// Fills `out` with the `n` events of frame `frame`: synthetic events `frame·n ..` (bodies of
/// about 128 bytes), carrying that frame number.
pub fn fill_frame(out: &mut Vec<Event>, frame: u64, n: u64) {
    out.clear();
    let first = frame * n;
    out.extend((first..first + n).map(|i| {
        let mut e = synthetic(SEED, i);
        e.frame = frame;
        e
    }));
}

/// Mean size of a record body (wfstore's bincode encoding) over one frame's events.
pub fn mean_body_bytes(n: u64) -> anyhow::Result<f64> {
    let mut events = Vec::new();
    fill_frame(&mut events, 0, n.min(10_000));
    let mut buf = vec![0u8; BODY_BUF_BYTES];
    let mut total = 0usize;
    for e in &events {
        total += encode(e, &mut buf)?;
    }
    Ok(total as f64 / events.len().max(1) as f64)
}

/// Room for one encoded body: the synthetic events need a few hundred bytes at most.
pub const BODY_BUF_BYTES: usize = 64 << 10;

/// Encodes `event`'s record body as wfstore stores it, returning its length.
pub fn encode(event: &Event, buf: &mut [u8]) -> anyhow::Result<usize> {
    wfstore::codec::encode_into(event, buf).map_err(|e| anyhow::anyhow!("encoding an event body: {e:?}"))
}

/// The render loop's clock: hands out each frame's deadline, sleeping to the next 60 Hz
/// tick when paced.
pub struct Pacer {
    paced: bool,
    next: Instant,
}

impl Pacer {
    /// A clock whose first tick is now.
    pub fn new(paced: bool) -> Pacer {
        Pacer { paced, next: Instant::now() }
    }

    /// Waits for the next frame's tick (when paced) and returns that frame's deadline: its
    /// start plus one frame budget.
    pub fn next_frame(&mut self) -> Instant {
        let now = Instant::now();
        if !self.paced {
            return now + FRAME_BUDGET;
        }
        if now < self.next {
            std::thread::sleep(self.next - now);
        } else if now - self.next > FRAME_BUDGET {
            // A whole tick was missed: a render loop drops it rather than running frames
            // back to back to catch up, so the next frame starts now.
            self.next = now;
        }
        let start = self.next;
        self.next += FRAME_BUDGET;
        start + FRAME_BUDGET
    }
}

/// A latency histogram in nanoseconds: 1 ns to 60 s at 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).context("creating a latency histogram")
}

/// Nanoseconds of `d`, saturating.
pub fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Records `d` (at least 1 ns: the histogram's lowest value).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(ns(d).max(1));
}

/// The percentiles the report shows, in nanoseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Percentiles {
    /// Samples recorded.
    pub count: u64,
    /// Mean (to a tenth of a nanosecond).
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// The largest sample.
    pub max: u64,
}

impl Percentiles {
    /// The percentiles of `h` (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles { count: 0, mean: 0.0, p50: 0, p99: 0, p999: 0, p9999: 0, max: 0 };
        }
        Percentiles {
            count: h.len(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}
