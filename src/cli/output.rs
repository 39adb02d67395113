//! Printing and exit codes: every command's result goes through here, so that errors look
//! alike (`wfstore: error: ...` on one line) and map to the same codes. Also the helpers
//! commands share: progress bars, a read-only open, a working directory.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context as _;

/// The exit codes scripts rely on. Usage errors (2) are clap's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Any error that is not corruption.
    Error = 1,
    /// Corruption found, or a verification that failed.
    Corrupt = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Turns a command's result into the exit code, printing the error, if any, as one line
/// with its whole context chain.
pub fn finish(outcome: anyhow::Result<Exit>) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        // A reader that went away (`wfstore tail | head`) is not a failure of ours.
        Err(e) if is_broken_pipe(&e) => Exit::Ok.into(),
        Err(e) => {
            eprintln!("wfstore: error: {}", one_line(&e));
            exit_code_of(&e).into()
        }
    }
}

/// The error and its causes on one line, each said once: a cause the message before it
/// already ends with (an OS error inside a wfstore error) is not repeated.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let msg = cause.to_string();
        if out.ends_with(&msg) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&msg);
    }
    out
}

/// Prints what recovery found and did when `store` was opened (a torn tail cut, durable
/// data missing, ...) as warnings on stderr.
pub fn recovery_warnings(store: &wfstore::Store) {
    for line in store.recovery_report().lines() {
        eprintln!("wfstore: warning: {line}");
    }
}

/// 3 when any error in the chain is corruption, 1 otherwise.
fn exit_code_of(e: &anyhow::Error) -> Exit {
    let corrupt =
        e.chain().filter_map(|c| c.downcast_ref::<wfstore::Error>()).any(wfstore::Error::is_corruption);
    if corrupt { Exit::Corrupt } else { Exit::Error }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().filter_map(|c| c.downcast_ref::<io::Error>()).any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

/// Writes one line to stdout. `println!` would panic on a closed pipe; this returns the
/// error so that `finish` can treat it as a quiet end.
pub fn line(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")
}

/// Writes `value` as one line of JSON on stdout.
///
/// Through `to_string`, never `serde_json::Value`: energies are exact decimal numbers that a
/// `Value` would round through `f64`.
pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    line(&serde_json::to_string(value)?)?;
    Ok(())
}

/// A progress bar on stderr when stderr is a terminal, and a hidden one otherwise, so that
/// piped and scripted runs print nothing but their results.
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

/// A progress callback `(done, total)` that moves `bar`.
pub fn track(bar: &indicatif::ProgressBar) -> impl FnMut(u64, u64) + '_ {
    |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// A counter on stderr for work of unknown length, hidden when stderr is not a terminal.
pub fn spinner(what: &str) -> indicatif::ProgressBar {
    styled_spinner("{spinner} {msg} {pos}", what)
}

/// A ticking spinner with the elapsed time for one long call that reports no progress of
/// its own (a purge, a retention); hidden when stderr is not a terminal.
pub fn busy(what: &str) -> indicatif::ProgressBar {
    let bar = styled_spinner("{spinner} {msg} ({elapsed})", what);
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

fn styled_spinner(template: &str, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// Opens a store for reading, without the writer lock, so that it works beside a writer.
pub fn open_read_only(dir: &std::path::Path) -> anyhow::Result<wfstore::Store> {
    use anyhow::Context as _;
    let opts = wfstore::OpenOptions::read_only();
    let store =
        wfstore::Store::open(dir, &opts).with_context(|| format!("opening store {}", dir.display()))?;
    recovery_warnings(&store);
    Ok(store)
}

/// A working directory: `dir` when given, else a new temporary one named `prefix...`, which
/// the returned guard removes when dropped (`TempDir::keep` keeps it).
pub fn work_dir(
    dir: Option<&std::path::Path>,
    prefix: &str,
) -> anyhow::Result<(std::path::PathBuf, Option<tempfile::TempDir>)> {
    if let Some(d) = dir {
        return Ok((d.to_owned(), None));
    }
    let temp = tempfile::Builder::new().prefix(prefix).tempdir().context("creating a temporary directory")?;
    Ok((temp.path().to_owned(), Some(temp)))
}
