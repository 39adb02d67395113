//! `wfstore retain --before-seq N | --before-time NS | --max-bytes B | --max-events N`:
//! removes whole early segments once a snapshot covers them, moving the log's start.

use std::path::Path;

use anyhow::Context as _;
use wfstore::{OpenOptions, RetainRule, Store};

use super::output::{self, Exit};

/// Options of `retain`: exactly one rule.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).args(["before_seq", "before_time", "max_bytes", "max_events"])))]
pub struct Args {
    /// Remove events with a seq below N (whole segments only).
    #[arg(long, value_name = "N")]
    pub before_seq: Option<u64>,
    /// Remove events older than NS (ns since the Unix epoch; whole segments only).
    #[arg(long, value_name = "NS", allow_negative_numbers = true)]
    pub before_time: Option<i64>,
    /// Keep the segment files within B bytes, removing the oldest.
    #[arg(long, value_name = "B")]
    pub max_bytes: Option<u64>,
    /// Keep about N events, removing the oldest segments.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u64>,
}

/// Applies the rule and prints the new start and what went.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let rule = match (args.before_seq, args.before_time, args.max_bytes, args.max_events) {
        (Some(n), ..) => RetainRule::BeforeSeq(n),
        (_, Some(t), ..) => RetainRule::BeforeTime(t),
        (_, _, Some(b), _) => RetainRule::MaxBytes(b),
        (.., Some(n)) => RetainRule::MaxEvents(n),
        _ => anyhow::bail!("give one of --before-seq, --before-time, --max-bytes, --max-events"),
    };
    let opts = OpenOptions { snapshots: None, ..OpenOptions::default() };
    let store =
        Store::open(dir, &opts).with_context(|| format!("opening store {} for writing", dir.display()))?;
    output::recovery_warnings(&store);
    let bar = output::busy("removing retained segments");
    let report = store.retain(rule);
    bar.finish_and_clear();
    let report = report.with_context(|| format!("retention in store {}", dir.display()))?;
    store.close().with_context(|| format!("closing store {}", dir.display()))?;
    if json {
        output::json(&report)?;
        return Ok(Exit::Ok);
    }
    output::line(&format!("log now starts at seq {} (was {})", report.new_start, report.old_start))?;
    output::line(&format!(
        "removed {} segments ({} bytes) and {} snapshots; state base: snapshot at seq {}",
        report.removed_segments.len(),
        report.bytes,
        report.removed_snapshots.len(),
        report.base_snapshot.map_or_else(|| "none".to_owned(), |s| s.to_string())
    ))?;
    Ok(Exit::Ok)
}
