//! Latency histograms the store keeps about itself, so that an app can watch its own frame
//! budget at run time (`Store::metrics`).

use hdrhistogram::Histogram;

use crate::error::{Error, Result};

/// Largest latency recorded exactly: an hour. Longer ones are recorded as this.
const LATENCY_NS_MAX: u64 = 3_600_000_000_000;

/// Latencies in nanoseconds, each an HDR histogram with 3 significant digits.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Each `append`/`append_batch` call: waiting for the writer plus writing into the log
    /// (not the wait for the disk, which `commit` holds).
    pub append: Histogram<u64>,
    /// Each wait for durability: an `Always` append's or a `flush`'s wait for its sync, and
    /// each background sync that made frames or the periodic tail durable.
    pub commit: Histogram<u64>,
    /// From `commit_frame` to that frame being durable.
    pub frame_durable: Histogram<u64>,
    /// Frames that became durable after the deadline given to `commit_frame`.
    pub frame_deadline_misses: u64,
}

impl Metrics {
    pub(super) fn new() -> Result<Self> {
        Ok(Metrics {
            append: histogram()?,
            commit: histogram()?,
            frame_durable: histogram()?,
            frame_deadline_misses: 0,
        })
    }
}

/// A histogram from 1 ns to an hour.
pub(super) fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, 3)
        .map_err(|e| Error::InvalidOption(format!("latency histogram: {e}")))
}

/// Records `ns`, clamping it into the histogram's range (never fails).
pub(super) fn record(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.max(1));
}

/// The clock append latencies are read with, on the append path: the CPU's time-stamp
/// counter, calibrated once per process (about 1 ms), where it is usable.
#[derive(Clone)]
pub(super) struct LatencyClock(quanta::Clock);

impl LatencyClock {
    pub fn new() -> Self {
        LatencyClock(quanta::Clock::new())
    }

    /// A reading to pass to `ns_since`.
    pub fn start(&self) -> u64 {
        self.0.raw()
    }

    /// Nanoseconds since the reading `start`.
    pub fn ns_since(&self, start: u64) -> u64 {
        self.0.delta_as_nanos(start, self.0.raw())
    }
}

/// Nanoseconds since `start`, saturating.
pub(super) fn elapsed_ns(start: std::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
