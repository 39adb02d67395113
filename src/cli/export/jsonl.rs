//! `wfstore export jsonl OUT`: every event as JSON Lines, content left out unless asked for.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wfstore::export::jsonl;
use wfstore::export::privacy::ContentPolicy;

use crate::cli::output::{self, Exit};

/// Options of `export jsonl`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file to write (replaced only once the whole export has succeeded).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Keep the text of prompts and outputs (where the store kept it); hashes are always there.
    #[arg(long)]
    pub include_content: bool,
}

/// `export jsonl --json`.
#[derive(serde::Serialize)]
struct Exported<'a> {
    events: u64,
    path: &'a Path,
    content_included: bool,
}

/// Writes the events to OUT; prints how many.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let total = match store.last_seq() {
        0 => 0,
        last => last - store.first_seq() + 1,
    };
    let bar = output::progress(total, "exporting");
    let policy = ContentPolicy::from_include(args.include_content);
    let done = jsonl::export(&store, &args.out, policy, &mut |n| bar.set_position(n)).with_context(|| {
        format!("exporting store {} to {} (nothing was written)", dir.display(), args.out.display())
    })?;
    bar.finish_and_clear();
    let content_included = args.include_content && store.keeps_content();
    if json {
        output::json(&Exported { events: done.events, path: &args.out, content_included })?;
    } else {
        let content = match (args.include_content, store.keeps_content()) {
            (false, _) => "prompt and output text left out",
            (true, true) => "prompt and output text included",
            (true, false) => "this store keeps no prompt or output text",
        };
        output::line(&format!("exported {} events to {} ({content})", done.events, args.out.display()))?;
    }
    Ok(Exit::Ok)
}
