//! `wfstore tail`: print events as JSON Lines, optionally following new ones.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use wfstore::Store;
use wfstore::event::to_json_line;

use super::output::{self, Exit};

/// How often `--follow` looks for new events. Reopening read-only is cheap (no lock, no
/// write), and it works whichever process is the writer.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Options of `tail`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First seq to print.
    #[arg(long, value_name = "SEQ", default_value_t = 1)]
    pub from: u64,
    /// Print only this session's events (read through the session index).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Keep polling for new events until interrupted.
    #[arg(long)]
    pub follow: bool,
}

/// Prints the events, then, with `--follow`, new ones as they arrive.
pub fn run(dir: &Path, args: &Args) -> anyhow::Result<Exit> {
    let mut next = args.from.max(1);
    let mut store = output::open_read_only(dir)?;
    loop {
        next = print_from(&store, next, args.session.as_deref())?;
        if !args.follow {
            return Ok(Exit::Ok);
        }
        std::thread::sleep(FOLLOW_POLL);
        // A read-only store sees the log as it was at open: reopen to see what was added.
        store = output::open_read_only(dir)?;
    }
}

/// Prints the events with seq >= `from` (of one session, if given); returns the seq to
/// start from next time.
fn print_from(store: &Store, from: u64, session: Option<&str>) -> anyhow::Result<u64> {
    let last = store.last_seq();
    if from > last {
        return Ok(from);
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let records: Box<dyn Iterator<Item = wfstore::Result<wfstore::Record>>> = match session {
        Some(id) => Box::new(store.session(id)),
        None => Box::new(store.iter(from..=last)),
    };
    for rec in records {
        let rec = rec?;
        // The session iterator starts at the session's first event and, on a live store,
        // may run past `last`.
        if rec.seq < from || rec.seq > last {
            continue;
        }
        writeln!(out, "{}", to_json_line(rec.seq, &rec.event))?;
    }
    // Flush per poll so that a follower downstream sees events as they come.
    out.flush()?;
    Ok(last + 1)
}
