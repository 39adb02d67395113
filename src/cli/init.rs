//! `wfstore init`: create a store.

use std::path::Path;

use anyhow::Context as _;
use wfstore::{CreateOptions, Store};

use super::output::{self, Exit};

/// Options of `init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep prompt and output text; by default only its SHA-256 is stored.
    #[arg(long)]
    pub keep_content: bool,
    /// Preallocated size of each segment file, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = wfstore::limits::SEGMENT_BYTES_DEFAULT)]
    pub segment_size: u64,
}

#[derive(serde::Serialize)]
struct Created<'a> {
    created: &'a Path,
    segment_bytes: u64,
    keep_content: bool,
}

/// Creates the store; the library refuses a non-empty directory that is not a store.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let opts = CreateOptions {
        segment_bytes: args.segment_size,
        keep_content: args.keep_content,
        ..CreateOptions::default()
    };
    Store::create(dir, &opts).with_context(|| format!("creating store {}", dir.display()))?;
    if json {
        output::json(&Created {
            created: dir,
            segment_bytes: args.segment_size,
            keep_content: args.keep_content,
        })?;
    } else {
        let content = if args.keep_content { "kept" } else { "hashed only" };
        output::line(&format!(
            "created store {} (segments of {} bytes, prompt and output text {content})",
            dir.display(),
            args.segment_size
        ))?;
    }
    Ok(Exit::Ok)
}
