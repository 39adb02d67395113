//! The background thread that keeps work off the append path: preparing the next segment,
//! sealing a full one (sync, then write its index), and the periodic sync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::Shared;
use super::open::{self, Prepared};
use crate::error::Result;
use crate::index::file as index_file;
use crate::io_util;
use crate::segment::Segment;

/// Work for the housekeeper.
pub(super) enum Job {
    /// Create segment file `no` and send it back.
    Prepare(u64),
    /// Sync a segment the writer has left, then write its index.
    Seal(Arc<Segment>),
    /// Fault in the unwritten rest of the active segment (after open).
    Prefault(Arc<Segment>),
    /// Finish queued work and exit.
    Stop,
}

pub(super) fn spawn(
    shared: Arc<Shared>,
    jobs: Receiver<Job>,
    prepared: Sender<Result<Prepared>>,
    period: Option<Duration>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("wfstore-housekeeper".into())
        .spawn(move || run(&shared, &jobs, &prepared, period))
}

fn run(shared: &Shared, jobs: &Receiver<Job>, prepared: &Sender<Result<Prepared>>, period: Option<Duration>) {
    let mut last_sync = Instant::now();
    loop {
        let job = match period {
            Some(p) => jobs.recv_timeout(p.saturating_sub(last_sync.elapsed())),
            None => jobs.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match job {
            Ok(Job::Prepare(no)) => {
                let _ = prepared.send(open::prepare(&shared.dir, &shared.meta, no, true));
            }
            Ok(Job::Seal(seg)) => seal(shared, &seg),
            Ok(Job::Prefault(seg)) => seg.map.prefault(seg.map.end()),
            Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if period.is_some_and(|p| last_sync.elapsed() >= p) {
            if let Err(e) = shared.active().sync_published() {
                shared.poison(format!("periodic msync of {}: {e}", shared.active().path.display()));
            }
            last_sync = Instant::now();
        }
    }
}

/// Makes a segment the writer has left durable, then publishes its index. The index is
/// written only after the data it describes is on disk.
fn seal(shared: &Shared, seg: &Segment) {
    if let Err(e) = seg.sync_published() {
        shared.poison(format!("msync of sealed segment {}: {e}", seg.path.display()));
        return;
    }
    let Some(bytes) = seg.index().map(|ix| index_file::encode(seg.index_key(), &ix)) else {
        return;
    };
    let name = seg.index_path();
    let name = name.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if let Err(e) = io_util::write_atomic(&shared.dir, name, &bytes) {
        // The index is derivable from the log: a missing one is rebuilt on the next open.
        shared.warn(format!("writing index {name}: {e}"));
    }
}
