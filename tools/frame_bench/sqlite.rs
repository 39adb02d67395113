//! The SQLite baseline: the design wfstore replaces. WAL, `synchronous=NORMAL`, one
//! transaction per frame, one prepared insert per event, an index on (session, time).
//!
//! Fairness: each row's body is the event's wfstore record body (the same bincode bytes
//! wfstore writes), encoded inside the timed insert just as wfstore encodes inside its
//! append; the session, time and type go in columns of their own, as an auditor would want
//! them.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use indicatif::ProgressBar;
use rusqlite::Connection;

use super::Config;
use super::report::{Run, budget_pct};
use super::store_run::rate;
use super::workload::{
    BODY_BUF_BYTES, FRAME_BUDGET, Pacer, Percentiles, encode, fill_frame, histogram, ns, record,
};

/// How the database is set up, as the report states it.
pub const CONFIG: &str = "journal_mode=WAL, synchronous=NORMAL (no sync at commit; the WAL is synced \
                          at checkpoints), one transaction per frame, a prepared insert per event, \
                          index on (session, ts_ns)";

const SCHEMA: &str = "
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        type TEXT NOT NULL,
        body BLOB NOT NULL
    );
    CREATE INDEX events_session_time ON events (session, ts_ns);
";

/// Runs the frames against a new database file `db` (which must not exist).
pub fn run(db: &Path, cfg: &Config, bar: &ProgressBar) -> anyhow::Result<Run> {
    ensure!(!db.exists(), "{} already exists", db.display());
    let conn = Connection::open(db).with_context(|| format!("creating SQLite database {}", db.display()))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .context("setting journal_mode=WAL")?;
    ensure!(mode.eq_ignore_ascii_case("wal"), "SQLite refused WAL mode (it chose {mode})");
    conn.pragma_update(None, "synchronous", "NORMAL").context("setting synchronous=NORMAL")?;
    conn.execute_batch(SCHEMA).context("creating the events table")?;

    // All three are prepared once: a frame then costs no SQL parsing, only the work.
    let mut begin = conn.prepare("BEGIN").context("preparing BEGIN")?;
    let mut commit = conn.prepare("COMMIT").context("preparing COMMIT")?;
    let mut insert = conn
        .prepare("INSERT INTO events (session, ts_ns, type, body) VALUES (?1, ?2, ?3, ?4)")
        .context("preparing the insert")?;

    let mut costs = histogram()?;
    let mut inserts = histogram()?;
    let mut work = Duration::ZERO;
    let mut over_budget = 0u64;
    let mut events = Vec::new();
    let mut body = vec![0u8; BODY_BUF_BYTES];
    let mut pacer = Pacer::new(cfg.paced);
    for frame in 0..cfg.frames {
        fill_frame(&mut events, frame, cfg.events_per_frame);
        pacer.next_frame();
        let started = Instant::now();
        begin.execute([]).with_context(|| format!("BEGIN of frame {frame}"))?;
        for e in &events {
            let t = Instant::now();
            let len = encode(e, &mut body)?;
            let row = (e.session.as_str(), e.ts_ns, e.event_type().as_str(), &body[..len]);
            insert.execute(row).with_context(|| format!("inserting an event of frame {frame}"))?;
            record(&mut inserts, t.elapsed());
        }
        commit.execute([]).with_context(|| format!("COMMIT of frame {frame}"))?;
        let cost = started.elapsed();
        record(&mut costs, cost);
        work += cost;
        over_budget += u64::from(cost > FRAME_BUDGET);
        bar.inc(1);
    }
    drop((begin, commit, insert));
    conn.close().map_err(|(_, e)| e).context("closing the SQLite database")?;

    let f = Percentiles::of(&costs);
    let events = cfg.frames * cfg.events_per_frame;
    Ok(Run {
        engine: "sqlite".to_owned(),
        policy: "WAL, synchronous=NORMAL".to_owned(),
        frames: cfg.frames,
        events,
        frame_call: "BEGIN; one prepared INSERT per event; COMMIT".to_owned(),
        budget_pct_p99: budget_pct(f.p99),
        budget_pct_max: budget_pct(f.max),
        frames_over_budget: over_budget,
        frame_work_ns: ns(work),
        events_per_s: rate(events, work),
        ratio_vs_sqlite: Some(1.0),
        append_call: "each INSERT (body encoding included) inside the frames' transactions, each timed"
            .to_owned(),
        append_ns: Percentiles::of(&inserts),
        store: None,
        frame_cost_ns: f,
        frame_hist: costs,
        append_hist: inserts,
    })
}
