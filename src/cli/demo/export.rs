//! The demo's export step: the recovered store into the relational view (SQLite), timed,
//! and the view's per-session, per-model energy sums compared with the recovered state.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use wfstore::Store;
use wfstore::export::sqlite::{self, SqliteExport};
use wfstore::state::EnergyState;

/// What the export did and whether it agrees with the state.
#[derive(Debug, serde::Serialize)]
pub struct Exported {
    /// Events exported.
    pub events: u64,
    /// Time of the export, ms.
    pub ms: f64,
    /// Events per second.
    pub events_per_s: f64,
    /// Whether `energy_by_session_model` equals the state's `by_model` of every session.
    pub energy_equal: bool,
}

/// Exports `store` into `dir/audit.db` and checks it against `state`.
pub fn run(store: &Store, state: &EnergyState, dir: &Path) -> anyhow::Result<Exported> {
    let db = dir.join("audit.db");
    let started = Instant::now();
    let report = sqlite::export(store, &db, &SqliteExport::default(), &mut |_, _| {})
        .with_context(|| format!("exporting into {}", db.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let conn = rusqlite::Connection::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let mut stmt = conn.prepare("SELECT session_id, model, energy_micros FROM energy_by_session_model")?;
    let exported = stmt
        .query_map([], |r| {
            Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?), i128::from(r.get::<_, i64>(2)?)))
        })?
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let replayed: BTreeMap<(String, String), i128> = state
        .sessions
        .iter()
        .flat_map(|(id, s)| s.by_model.iter().map(move |(m, e)| ((id.clone(), m.clone()), *e)))
        .collect();
    Ok(Exported {
        events: report.events,
        ms: (secs * 1e5).round() / 100.0,
        events_per_s: (report.events as f64 / secs.max(1e-9)).round(),
        energy_equal: exported == replayed,
    })
}
