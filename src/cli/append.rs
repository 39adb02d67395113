//! `wfstore append`: import JSON Lines as one atomic batch (or batches of `--batch-size`).
//!
//! Lines are read, checked as UTF-8, parsed and size-checked one at a time, and streamed into
//! the store's open batch in chunks, so memory stays bounded whatever the input's size. The
//! batch commits only after the last line: a bad line anywhere, an I/O error, a kill or a
//! power loss leaves none of it in the store.

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

/// Events handed to the store at a time: large enough to amortize the writer's work, small
/// enough to bound memory.
const CHUNK_EVENTS: usize = 10_000;

/// Options of `append`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A JSON Lines file; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Commit every N events as its own atomic batch (default: the whole input is one).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
}

#[derive(serde::Serialize)]
struct Appended {
    appended: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    batches: u64,
}

/// What is committed so far (for the error message when a later batch fails).
#[derive(Default)]
struct Committed {
    first: Option<u64>,
    last: Option<u64>,
    events: u64,
    batches: u64,
}

impl Committed {
    fn note(&mut self, seqs: std::ops::Range<u64>) {
        if seqs.is_empty() {
            return;
        }
        self.first.get_or_insert(seqs.start);
        self.last = Some(seqs.end - 1);
        self.events += seqs.end - seqs.start;
        self.batches += 1;
    }

    /// What a failure leaves in the store, said exactly.
    fn left(&self, store: &Store) -> String {
        match (self.first, self.last) {
            (Some(a), Some(b)) => format!(
                "{} earlier batches of this input (seqs {a}..={b}) were committed; the failed batch was not appended",
                self.batches
            ),
            _ => format!("nothing was appended; the store still ends at seq {}", store.last_seq()),
        }
    }
}

/// Reads, checks and appends the events; prints the seq range they got.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    // Open first: a missing or locked store fails before stdin is consumed.
    let store = Store::open(dir, &OpenOptions::default())
        .with_context(|| format!("opening store {} for writing", dir.display()))?;
    output::recovery_warnings(&store);
    let (name, reader): (String, Box<dyn BufRead>) = match args.file.as_deref() {
        Some(path) if path != Path::new("-") => {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            (path.display().to_string(), Box::new(BufReader::new(file)))
        }
        _ => ("<stdin>".to_owned(), Box::new(io::stdin().lock())),
    };
    let mut done = Committed::default();
    let outcome = import(&store, reader, args.batch_size, &mut done);
    if let Err(e) = outcome {
        let left = done.left(&store);
        return Err(e.context(format!("{name} ({left})")));
    }
    store.flush().context("syncing the appended events")?;
    store.close().context("closing the store")?;
    let summary =
        Appended { appended: done.events, first_seq: done.first, last_seq: done.last, batches: done.batches };
    if json {
        output::json(&summary)?;
    } else if let (Some(a), Some(b)) = (done.first, done.last) {
        output::line(&format!("appended {} events, seqs {a}..={b}", done.events))?;
    } else {
        output::line("appended 0 events")?;
    }
    Ok(Exit::Ok)
}

/// Streams every line into batches; commits each full batch and the last one.
fn import(
    store: &Store,
    mut reader: Box<dyn BufRead>,
    batch_size: Option<u64>,
    done: &mut Committed,
) -> anyhow::Result<()> {
    let keep_content = store.keeps_content();
    let mut buf = Vec::new();
    // One record-sized scratch buffer: the size check encodes into it.
    let mut scratch = vec![0u8; RECORD_BODY_BYTES_MAX as usize];
    let mut chunk: Vec<Event> = Vec::with_capacity(CHUNK_EVENTS);
    let mut batch = store.batch().context("starting the batch")?;
    let mut in_batch = 0u64;
    let bar = output::spinner("events appended");
    for number in 1u64.. {
        let event = match next_event(&mut reader, &mut buf, &mut scratch, number, keep_content)? {
            Line::Event(e) => e,
            Line::Blank => continue,
            Line::End => break,
        };
        chunk.push(event);
        in_batch += 1;
        if chunk.len() == CHUNK_EVENTS || batch_size == Some(in_batch) {
            batch.push(&chunk).with_context(|| format!("appending up to line {number}"))?;
            bar.inc(chunk.len() as u64);
            chunk.clear();
        }
        if batch_size == Some(in_batch) {
            done.note(batch.commit().context("committing a batch")?);
            batch = store.batch().context("starting the next batch")?;
            in_batch = 0;
        }
    }
    batch.push(&chunk).context("appending the last lines")?;
    done.note(batch.commit().context("committing the batch")?);
    bar.finish_and_clear();
    Ok(())
}

/// What one line of input holds.
enum Line {
    Event(Event),
    /// A blank line: skipped, but counted, so line numbers match the file.
    Blank,
    End,
}

/// Reads, parses and size-checks line `number`.
fn next_event<R: BufRead + ?Sized>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    scratch: &mut [u8],
    number: u64,
    keep_content: bool,
) -> anyhow::Result<Line> {
    if !next_line(reader, buf).with_context(|| format!("line {number}"))? {
        return Ok(Line::End);
    }
    if buf.len() > JSON_LINE_BYTES_MAX {
        bail!("line {number}: longer than the {JSON_LINE_BYTES_MAX}-byte line limit");
    }
    let text = match std::str::from_utf8(buf) {
        Ok(t) => t,
        Err(e) => bail!("line {number}: invalid UTF-8 at byte {}", e.valid_up_to()),
    };
    if text.trim().is_empty() {
        return Ok(Line::Blank);
    }
    let mut event = parse_line(text, now_ns()).map_err(|e| json_error(number, &e))?;
    if !keep_content {
        event.body.strip_content();
    }
    check_size(&event, scratch).with_context(|| format!("line {number}"))?;
    Ok(Line::Event(event))
}

/// Reads one line into `buf` without its `\n` or `\r\n`; false at end of input.
///
/// At most `JSON_LINE_BYTES_MAX` + 2 bytes are read, so an endless line never fills memory:
/// the caller sees a `buf` longer than the limit and rejects the line.
fn next_line<R: BufRead + ?Sized>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<bool> {
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

/// Rejects an event whose body would not fit one record, naming its line (the store would
/// refuse it too, but could not say which line it came from).
fn check_size(event: &Event, scratch: &mut [u8]) -> anyhow::Result<()> {
    match codec::encode_into(event, scratch) {
        Ok(_) => Ok(()),
        Err(EncodeError::NoRoom) => bail!(
            "event encodes to {} bytes, over the {RECORD_BODY_BYTES_MAX}-byte record limit",
            codec::encoded_len(event)
        ),
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
