//! `wfstore replay`: rebuild the energy state from the events and print it with its hash,
//! whole or for one session, now or as it was at a seq, a frame or a time.

use std::path::Path;

use anyhow::{Context as _, bail};
use wfstore::ReplayTarget;
use wfstore::event::format_micros;
use wfstore::state::{EnergyState, SessionState};

use super::output::{self, Exit};

/// Options of `replay`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").multiple(false)))]
pub struct Args {
    /// Only this session (and its user); an error if the store has no such session.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Stop after the event with this seq.
    #[arg(long, value_name = "N", group = "target")]
    pub to_seq: Option<u64>,
    /// Keep only events whose render frame is at most N.
    #[arg(long, value_name = "N", group = "target")]
    pub to_frame: Option<u64>,
    /// Keep only events whose `ts_ns` is at most NS (ns since the epoch).
    #[arg(long, value_name = "NS", group = "target", allow_negative_numbers = true)]
    pub to_time: Option<i64>,
}

impl Args {
    fn target(&self) -> Option<ReplayTarget> {
        match (self.to_seq, self.to_frame, self.to_time) {
            (Some(s), _, _) => Some(ReplayTarget::Seq(s)),
            (_, Some(f), _) => Some(ReplayTarget::Frame(f)),
            (_, _, Some(t)) => Some(ReplayTarget::Time(t)),
            _ => None,
        }
    }
}

/// Rebuilds and prints the state; `--json` prints exactly `EnergyState::to_json_string`.
pub fn run(dir: &Path, json: bool, args: &Args) -> anyhow::Result<Exit> {
    let store = output::open_read_only(dir)?;
    let session = args.session.as_deref();
    let state = match (args.target(), session) {
        // Nothing to select: the newest snapshot plus the tail is the fast way.
        (None, None) => store.state().context("rebuilding the state")?.0,
        (target, _) => {
            let target = target.unwrap_or(ReplayTarget::Seq(u64::MAX));
            store.replay_to(target, session).context("replaying the events")?
        }
    };
    let state = match session {
        Some(id) => {
            let only = state.session_only(id);
            if only.sessions.is_empty() {
                let at = if args.target().is_some() { " at or before the target" } else { "" };
                bail!("no session {id:?} in store {}{at}", dir.display());
            }
            only
        }
        None => state,
    };
    if json {
        output::line(&state.to_json_string())?;
    } else {
        print_human(&state)?;
    }
    Ok(Exit::Ok)
}

fn print_human(state: &EnergyState) -> anyhow::Result<()> {
    output::line(&format!("last seq   {}", state.last_seq))?;
    output::line(&format!("hash       {}", state.hash_hex()))?;
    output::line(&format!("sessions   {}", state.sessions.len()))?;
    for (id, s) in &state.sessions {
        print_session(id, s)?;
    }
    output::line(&format!("users      {}", state.users.len()))?;
    for (id, u) in &state.users {
        output::line(&format!("  {id:<24} {:>8} events  energy {}", u.events, format_micros(u.energy)))?;
    }
    Ok(())
}

fn print_session(id: &str, s: &SessionState) -> anyhow::Result<()> {
    let conservation = if s.conservation_holds() { "ok" } else { "BROKEN" };
    output::line(&format!("session {id} (user {}, seqs {}..={})", s.user, s.first_seq, s.last_seq))?;
    let mut rows = vec![
        ("events".to_owned(), s.events.to_string()),
        ("energy_total".to_owned(), format_micros(s.energy_total)),
        ("by_model".to_owned(), String::new()),
    ];
    for (model, e) in &s.by_model {
        rows.push((format!("  {model}"), format_micros(*e)));
    }
    rows.push(("amplification".to_owned(), format_micros(s.amplification)));
    rows.push(("conservation".to_owned(), conservation.to_owned()));
    for (name, value) in rows {
        output::line(&format!("  {name:<26} {value:>16}"))?;
    }
    Ok(())
}
