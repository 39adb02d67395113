//! `wfstore append`: import JSON Lines, all or nothing.
//!
//! Every line is read (each under the per-line cap), checked as UTF-8, parsed and checked
//! against the record size limit before the first event is appended, so a bad line anywhere
//! leaves the store exactly as it was.
//!
//! Memory: because nothing may be appended until every line is known to be good, all parsed
//! events are held in memory at once — about the size of the input again. Imports far larger
//! than memory should be split into several files (each one all or nothing).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use wfstore::codec::{self, EncodeError};
use wfstore::event::{Event, JsonError, parse_line};
use wfstore::limits::{JSON_LINE_BYTES_MAX, RECORD_BODY_BYTES_MAX};
use wfstore::{OpenOptions, Store};

use super::output::{self, Exit};

/// Events per `append_batch`: large enough to amortize the writer lock and the index
/// updates, small enough that the progress bar moves.
const BATCH_EVENTS: usize = 10_000;

/// Options of `append`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON Lines file; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct Appended {
    appended: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
}

/// Reads, checks and appends the events; prints the seq range they got.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    // Open first: a missing or locked store fails before stdin is consumed.
    let store = Store::open(dir, &OpenOptions::default())
        .with_context(|| format!("opening store {} for writing", dir.display()))?;
    let (name, events) = match args.file.as_deref() {
        Some(path) if path != Path::new("-") => {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let name = path.display().to_string();
            let events = read_events(BufReader::new(file), store.keeps_content());
            (name, events)
        }
        _ => ("<stdin>".to_owned(), read_events(io::stdin().lock(), store.keeps_content())),
    };
    let events = events.with_context(|| format!("{name} (nothing was appended)"))?;
    let range = append_all(&store, &events)?;
    store.flush().context("syncing the appended events")?;
    store.close().context("closing the store")?;
    let count = events.len() as u64;
    let (first_seq, last_seq) = match range {
        Some((a, b)) => (Some(a), Some(b)),
        None => (None, None),
    };
    if json {
        output::json(&Appended { appended: count, first_seq, last_seq })?;
    } else if let (Some(a), Some(b)) = (first_seq, last_seq) {
        output::line(&format!("appended {count} events, seqs {a}..={b}"))?;
    } else {
        output::line("appended 0 events")?;
    }
    Ok(Exit::Ok)
}

/// Appends in batches; returns the first and last seq, or `None` for no events.
fn append_all(store: &Store, events: &[Event]) -> anyhow::Result<Option<(u64, u64)>> {
    let bar = output::progress(events.len() as u64, "appending");
    let mut range: Option<(u64, u64)> = None;
    for batch in events.chunks(BATCH_EVENTS) {
        let seqs = store.append_batch(batch).with_context(|| match range {
            // Past the parse, only an I/O failure can stop us; say what already went in.
            Some((a, b)) => format!("appending (seqs {a}..={b} were appended before this)"),
            None => "appending (nothing was appended)".to_owned(),
        })?;
        let first = range.map_or(seqs.start, |(a, _)| a);
        range = Some((first, seqs.end.saturating_sub(1)));
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    Ok(range)
}

/// Reads and parses every line, stopping at the first bad one. Blank lines are skipped but
/// counted, so line numbers match the file.
fn read_events<R: BufRead>(mut reader: R, keep_content: bool) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    let mut buf = Vec::new();
    // One record-sized scratch buffer: the size check encodes into it.
    let mut scratch = vec![0u8; RECORD_BODY_BYTES_MAX as usize];
    let bar = output::spinner("events read");
    for number in 1u64.. {
        if !next_line(&mut reader, &mut buf).with_context(|| format!("line {number}"))? {
            break;
        }
        if buf.len() > JSON_LINE_BYTES_MAX {
            bail!("line {number}: longer than the {JSON_LINE_BYTES_MAX}-byte line limit");
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t,
            Err(e) => bail!("line {number}: invalid UTF-8 at byte {}", e.valid_up_to()),
        };
        if text.trim().is_empty() {
            continue;
        }
        let mut event = parse_line(text, now_ns()).map_err(|e| json_error(number, &e))?;
        if !keep_content {
            event.body.strip_content();
        }
        check_size(&event, &mut scratch).with_context(|| format!("line {number}"))?;
        events.push(event);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(events)
}

/// Reads one line into `buf` without its `\n` or `\r\n`; false at end of input.
///
/// At most `JSON_LINE_BYTES_MAX` + 2 bytes are read, so an endless line never fills memory:
/// the caller sees a `buf` longer than the limit and rejects the line.
fn next_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    let cap = JSON_LINE_BYTES_MAX as u64 + 2;
    let read = reader.take(cap).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    Ok(true)
}

/// `line 3: field `data.delta`: 7 decimals, at most 6 allowed`.
fn json_error(number: u64, e: &JsonError) -> anyhow::Error {
    let message = e.to_string();
    match e.path() {
        Some(path) => {
            // The library's message starts with the path; say it once, as a field.
            let reason = message.strip_prefix(path).and_then(|r| r.strip_prefix(": ")).unwrap_or(&message);
            anyhow::anyhow!("line {number}: field `{path}`: {reason}")
        }
        None => anyhow::anyhow!("line {number}: {message}"),
    }
}

/// Rejects an event whose body would not fit one record, before anything is appended (the
/// store would refuse it only once earlier batches were in).
fn check_size(event: &Event, scratch: &mut [u8]) -> anyhow::Result<()> {
    match codec::encode_into(event, scratch) {
        Ok(_) => Ok(()),
        Err(EncodeError::NoRoom) => {
            bail!("event encodes to more than the {RECORD_BODY_BYTES_MAX}-byte record limit")
        }
        Err(EncodeError::Other(why)) => bail!("event does not encode: {why}"),
    }
}

/// The wall clock for events without `ts_ns`, in ns since the epoch (0 before 1970, and
/// saturated in the year 2262).
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
