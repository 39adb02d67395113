//! `wfstore export audit --session ID --format yaml|json`: the audit document of one session,
//! on stdout or, with `--out`, in a file written whole or not at all.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wfstore::export::atomic::AtomicFile;
use wfstore::export::audit::{self, AuditDocument};
use wfstore::export::privacy::ContentPolicy;

use super::yaml;
use crate::cli::output::{self, Exit};

/// The document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// YAML (serde-saphyr), the same tree as the JSON.
    Yaml,
    /// JSON, pretty-printed, one event per line.
    Json,
}

/// Options of `export audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The session to audit; an error if the store has no event of it.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The document's format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Keep the text of prompts and outputs (where the store kept it); hashes are always there.
    #[arg(long)]
    pub include_content: bool,
    /// Write the document to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `export audit --out FILE --json`.
#[derive(serde::Serialize)]
struct Written<'a> {
    session: &'a str,
    events: u64,
    path: &'a Path,
    checks_pass: bool,
}

/// Builds, renders and writes the document; exit 3 (after writing it) when an energy check
/// fails, since the document is then the evidence.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let policy = ContentPolicy::from_include(args.include_content);
    let doc = audit::build(&store, &args.session, policy)
        .with_context(|| format!("auditing store {}", dir.display()))?;
    let text = render(&doc, args.format)?;
    match &args.out {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Some(path) => {
            let mut file = AtomicFile::create(path)?;
            file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
            file.commit()?;
            let checks_pass = doc.checks_pass();
            let events = doc.session.events;
            if json {
                output::json(&Written { session: &args.session, events, path, checks_pass })?;
            } else {
                output::line(&format!(
                    "wrote the audit of session {} ({events} events) to {}",
                    args.session,
                    path.display()
                ))?;
            }
        }
    }
    if doc.checks_pass() {
        return Ok(Exit::Ok);
    }
    let e = &doc.energy;
    eprintln!(
        "wfstore: error: energy check failed for session {}: conservation {}, events match the replay {}",
        args.session, e.conservation.holds, e.matches_replay
    );
    Ok(Exit::Corrupt)
}

/// The document as text, ending with a newline. JSON through `serde_json` directly (never
/// `Value`: energies stay exact); YAML from that same JSON.
fn render(doc: &AuditDocument, format: Format) -> anyhow::Result<String> {
    let json = serde_json::to_string_pretty(doc).context("rendering the audit document")?;
    let mut text = match format {
        Format::Json => json,
        Format::Yaml => yaml::from_json(&json).context("rendering the audit document as YAML")?,
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}
