//! `wfstore purge --user ID | --session ID [--yes]`: the privacy purge. It cannot be
//! undone, so it asks first on a terminal, and refuses without `--yes` anywhere else.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use wfstore::{OpenOptions, Store};

use super::output::{self, Exit};

/// Options of `purge`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["user", "session"])))]
pub struct Args {
    /// Purge every event of this user (all their sessions).
    #[arg(long, value_name = "ID")]
    pub user: Option<String>,
    /// Purge every event of this session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

/// Confirms, purges, and prints what was rewritten and scrubbed. The id itself is never
/// printed: the output may end up in logs.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let (kind, id) = match (&args.user, &args.session) {
        (Some(u), _) => ("user", u.as_str()),
        (_, Some(s)) => ("session", s.as_str()),
        _ => bail!("give --user ID or --session ID"),
    };
    if !args.yes && !confirm(dir, kind)? {
        bail!("purge not confirmed: nothing was changed");
    }
    let store = Store::open(dir, &OpenOptions::default())
        .with_context(|| format!("opening store {} for writing", dir.display()))?;
    output::recovery_warnings(&store);
    let bar = output::busy(&format!("purging a {kind}"));
    let report = if kind == "user" { store.purge_user(id) } else { store.purge_session(id) };
    bar.finish_and_clear();
    let report = report.with_context(|| format!("purging a {kind} from store {}", dir.display()))?;
    store.close().with_context(|| format!("closing store {}", dir.display()))?;
    if json {
        output::json(&serde_json::json!({ "purge": report, "subject": kind }))?;
        return Ok(Exit::Ok);
    }
    let seqs = report.seqs.map_or(String::new(), |(a, b)| format!(" (seqs {a}..={b})"));
    output::line(&format!("purged {} events of the {kind}{seqs}", report.events))?;
    output::line(&format!(
        "rewrote {} segments, scrubbed {} derived files{}",
        report.segments,
        report.scrubbed.len(),
        report.snapshot.map_or(String::new(), |s| format!(", new snapshot at seq {s}"))
    ))?;
    Ok(Exit::Ok)
}

/// Asks on the terminal; refuses outright when stdin is not one.
fn confirm(dir: &Path, kind: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to purge without --yes: stdin is not a terminal to confirm on");
    }
    eprint!(
        "Purge every event of this {kind} from {}? Their ids and content are overwritten; this cannot be undone. Type yes: ",
        dir.display()
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
