//! Seeded campaigns: many workloads, many faults each, every case checked by the oracle.
//! The test suite runs a fixed sample; `wfstore-torture --campaign` runs them for as long as
//! asked. A failing case is saved (the exact files) with its seed and description, and
//! `replay` reruns the oracle on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::crash::{self, CrashState};
use super::inject::{self, Faults};
use super::oracle::{self, Outcome, Watchdog};
use super::recorder::Recorder;
use super::workload::Workload;
use super::{media, recorder};
use crate::disk::{Disk, OpKind};
use crate::store::{CreateOptions, Durability, Store};

/// The segment size of campaign stores: the smallest, so rolls come every few hundred events.
const SEGMENT_BYTES: u64 = 64 << 10;
/// Longest one case may take before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(60);

/// What a campaign did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Cases checked.
    pub cases: u64,
    /// Workloads run.
    pub workloads: u64,
    /// How the cases ended.
    pub outcomes: BTreeMap<String, u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl Report {
    fn note(&mut self, outcome: Outcome, detail: &str) {
        self.cases += 1;
        *self.outcomes.entry(format!("{outcome:?}{detail}")).or_default() += 1;
    }

    /// Cases per second.
    pub fn rate(&self) -> f64 {
        self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} cases from {} workloads in {:.1} s ({:.0}/s): {:?}",
            self.cases,
            self.workloads,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.outcomes
        )
    }
}

/// A case the oracle failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The campaign's seed.
    pub seed: u64,
    /// Which case, and what it was (the workload, the fault or crash state).
    pub case: String,
    /// What the oracle found.
    pub error: String,
    /// Where the failing store was saved, for `replay`.
    pub saved: PathBuf,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {}: {}\n{}\nthe store is saved in {} (rerun the oracle with `wfstore-torture --replay {}`)",
            self.seed,
            self.error,
            self.case,
            self.saved.display(),
            self.saved.display()
        )
    }
}

/// What a campaign needs: a scratch directory (preferably in memory), a seed, a budget.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seed; every choice is drawn from it.
    pub seed: u64,
    /// Stop after this many cases.
    pub cases: u64,
    /// Or after this long, whichever comes first.
    pub time: Duration,
    /// Where stores are built (a failing one is kept there).
    pub scratch: PathBuf,
}

/// A fresh workload drawn from `rng`.
fn draw_workload(rng: &mut fastrand::Rng) -> Workload {
    let durability = match rng.u8(..3) {
        0 => Durability::Always,
        1 => Durability::Periodic(Duration::from_millis(rng.u64(1..=5))),
        _ => Durability::None,
    };
    Workload { seed: rng.u64(..), durability, events: rng.u64(300..=1500), snapshotter: rng.bool() }
}

/// A new store in `dir`, closed.
fn new_store(dir: &Path) -> Result<(), String> {
    let opts = CreateOptions { segment_bytes: SEGMENT_BYTES, ..CreateOptions::default() };
    Store::create(dir, &opts).map_err(|e| format!("create: {e}"))
}

/// Runs `workload` (one workload and its cases) again and again, each drawing from one
/// seeded generator, until the plan's cases or time are spent.
fn drive(
    plan: &Plan,
    mut workload: impl FnMut(&mut fastrand::Rng, &mut Report) -> Result<(), Box<Failure>>,
) -> Result<Report, Box<Failure>> {
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let mut report = Report::default();
    while report.cases < plan.cases && started.elapsed() < plan.time {
        workload(&mut rng, &mut report)?;
        report.workloads += 1;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Power loss: run workloads under the recorder, and check crash states drawn from its
/// captures.
pub fn power_loss(plan: &Plan) -> Result<Report, Box<Failure>> {
    drive(plan, |rng, report| {
        let w = draw_workload(rng);
        let dir = plan.scratch.join(format!("pl-{:016x}", w.seed));
        let recorded = record(&dir, &w, rng.u64(..)).map_err(|e| failure(plan, format!("{w:?}"), e, &dir))?;
        for cap in &recorded.captures {
            for _ in 0..4 {
                let state = crash::crash_state(cap, rng);
                let case = format!("workload {w:?}\n{}", state.description);
                let saved =
                    Saved::new("power-loss", w.seed, cap.durable_seq, recorded.last, &state.description);
                let verdict = check_state(&dir, &state, saved);
                let outcome = verdict.map_err(|(e, saved)| failure(plan, case, e, &saved))?;
                report.note(outcome, "");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
}

/// Power loss during `repair` (and `migrate`, when `v1` names a version-1 store to copy):
/// run each under the recorder, and check crash states of every captured moment: the
/// store is the old one or the new one, and a rerun finishes the job.
pub fn power_loss_maintenance(plan: &Plan, v1: Option<&Path>) -> Result<Report, Box<Failure>> {
    drive(plan, |rng, report| {
        let w = Workload { events: rng.u64(600..=1200), ..draw_workload(rng) };
        let dir = plan.scratch.join(format!("pm-{:016x}", w.seed));
        let migrating = v1.filter(|_| rng.u8(..3) == 0);
        let (captures, last) = match migrating {
            Some(v1) => record_migrate(&dir, v1, rng.u64(..)),
            None => record_repair(&dir, &w, rng.u64(..)),
        }
        .map_err(|e| failure(plan, format!("{w:?}"), e, &dir))?;
        for cap in &captures {
            for _ in 0..4 {
                let state = crash::crash_state(cap, rng);
                let what = if migrating.is_some() { "migrate" } else { "repair" };
                let case = format!("{what} of workload {w:?}\n{}", state.description);
                let mut saved = Saved::new(what, w.seed, 0, last, &state.description);
                saved.v1 = migrating.map(Path::to_owned);
                let verdict = check_state(&dir, &state, saved);
                let outcome = verdict.map_err(|(e, saved)| failure(plan, case, e, &saved))?;
                report.note(outcome, &format!(" {what}"));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
}

/// A damaged store repaired under the recorder.
fn record_repair(dir: &Path, w: &Workload, dice: u64) -> Result<(Vec<recorder::Capture>, u64), String> {
    let _ = std::fs::remove_dir_all(dir);
    let store_dir = dir.join("store");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    new_store(&store_dir)?;
    let store = Store::open(&store_dir, &w.options(Disk::default())).map_err(|e| format!("open: {e}"))?;
    w.run(&store);
    let last = store.last_seq();
    store.close().map_err(|e| format!("close: {e}"))?;
    damage_middle(&store_dir).map_err(|e| e.to_string())?;
    let rec = Arc::new(Recorder::new(&store_dir).map_err(|e| e.to_string())?);
    rec.capture_rate(0.3, dice);
    crate::repair::repair_with(&store_dir, false, &Disk::hooked(rec.clone()))
        .map_err(|e| format!("repair: {e}"))?;
    rec.capture_now("after repair").map_err(|e| e.to_string())?;
    Ok((rec.take_captures(), last))
}

/// A copy of the version-1 store `v1` migrated under the recorder.
fn record_migrate(dir: &Path, v1: &Path, dice: u64) -> Result<(Vec<recorder::Capture>, u64), String> {
    let _ = std::fs::remove_dir_all(dir);
    let store_dir = dir.join("store");
    copy_tree(v1, &store_dir).map_err(|e| e.to_string())?;
    let rec = Arc::new(Recorder::new(&store_dir).map_err(|e| e.to_string())?);
    rec.capture_rate(0.05, dice);
    crate::migrate::migrate_with(&store_dir, false, &Disk::hooked(rec.clone()))
        .map_err(|e| format!("migrate: {e}"))?;
    rec.capture_now("after migrate").map_err(|e| e.to_string())?;
    Ok((rec.take_captures(), 0))
}

/// A recorded workload: its captures, and the last seq it committed.
struct Recorded {
    captures: Vec<recorder::Capture>,
    last: u64,
}

fn record(dir: &Path, w: &Workload, dice: u64) -> Result<Recorded, String> {
    let _ = std::fs::remove_dir_all(dir);
    let store_dir = dir.join("store");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    new_store(&store_dir)?;
    let rec = Arc::new(Recorder::new(&store_dir).map_err(|e| e.to_string())?);
    rec.capture_rate(0.12, dice);
    let store =
        Store::open(&store_dir, &w.options(Disk::hooked(rec.clone()))).map_err(|e| format!("open: {e}"))?;
    rec.set_probe(Box::new(store.durable_probe()));
    let out = w.run(&store);
    if let Some(e) = out.error {
        return Err(format!("the workload failed: {e}"));
    }
    if out.durable > store.durable_seq() {
        return Err(format!(
            "acknowledged {} as durable, but the store says {}",
            out.durable,
            store.durable_seq()
        ));
    }
    let last = store.last_seq();
    store.close().map_err(|e| format!("close: {e}"))?;
    rec.capture_now("after close").map_err(|e| e.to_string())?;
    Ok(Recorded { captures: rec.take_captures(), last })
}

/// What `replay` needs to rerun the oracle on a saved case (written beside it as
/// `case.json`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Saved {
    /// `power-loss`, `media`, `io-errors`, `repair` or `migrate`.
    pub kind: String,
    /// The workload's seed (events are `workload::event(seed, seq)`).
    pub seed: u64,
    /// The seq that must survive.
    pub required: u64,
    /// The last seq that may.
    pub last: u64,
    /// The version-1 store a `migrate` case copied.
    pub v1: Option<PathBuf>,
    /// The state or fault, in words.
    pub description: String,
}

impl Saved {
    fn new(kind: &str, seed: u64, required: u64, last: u64, description: &str) -> Saved {
        Saved { kind: kind.into(), seed, required, last, v1: None, description: description.into() }
    }
}

/// Writes `state` into `dir/case` and runs the oracle on it; a failing state is written
/// again, untouched, into `dir/case.orig`, with `dir/case.json` to replay it.
fn check_state(dir: &Path, state: &CrashState, saved: Saved) -> Result<Outcome, (String, PathBuf)> {
    let (case, orig) = (dir.join("case"), dir.join("case.orig"));
    let io = |e: std::io::Error| (e.to_string(), case.clone());
    let _ = std::fs::remove_dir_all(&case);
    std::fs::create_dir_all(&case).map_err(io)?;
    crash::materialize(state, &case).map_err(io)?;
    let _dog = Watchdog::arm(CASE_LIMIT, state.description.clone());
    let verdict = replay(&case, &saved);
    let _ = std::fs::remove_dir_all(&case);
    let Err(e) = verdict else { return verdict.map_err(|e| (e, case)) };
    // Keep the state as the fault left it (the oracle changed `case`), to be replayed.
    std::fs::create_dir_all(&orig).map_err(io)?;
    crash::materialize(state, &orig).map_err(io)?;
    let json = serde_json::to_vec_pretty(&saved).unwrap_or_default();
    std::fs::write(dir.join("case.json"), json).map_err(io)?;
    Err((e, orig))
}

/// Media faults: run a workload to a clean close, then damage a copy of its store once per
/// case and check it.
pub fn media(plan: &Plan) -> Result<Report, Box<Failure>> {
    drive(plan, |rng, report| {
        let w = draw_workload(rng);
        let dir = plan.scratch.join(format!("mf-{:016x}", w.seed));
        let (files, older, last) =
            closed_store(&dir, &w).map_err(|e| failure(plan, format!("{w:?}"), e, &dir))?;
        for _ in 0..40 {
            let Some((target, fault)) = media::draw(&files, &older, rng) else { continue };
            let mut damaged = files.clone();
            media::apply_to(&mut damaged, &fault, &older);
            let state = CrashState { files: damaged, description: format!("{target:?}: {fault:?}") };
            let case = format!("workload {w:?}\nfault {target:?}: {fault:?}");
            let saved = Saved::new("media", w.seed, 0, last, &state.description);
            let verdict = check_state(&dir, &state, saved);
            let outcome = verdict.map_err(|(e, saved)| failure(plan, case, e, &saved))?;
            report.note(outcome, &format!(" {target:?}"));
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
}

type Files = BTreeMap<PathBuf, Vec<u8>>;

/// Runs `w` on a new store to a clean close, keeping a copy of every file half way through
/// (the stale versions). Returns the files, the older copies and the last seq.
fn closed_store(dir: &Path, w: &Workload) -> Result<(Files, Files, u64), String> {
    let _ = std::fs::remove_dir_all(dir);
    let store_dir = dir.join("store");
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    new_store(&store_dir)?;
    let run = |part: &Workload| -> Result<u64, String> {
        let store =
            Store::open(&store_dir, &part.options(Disk::default())).map_err(|e| format!("open: {e}"))?;
        if let Some(e) = part.run(&store).error {
            return Err(format!("the workload failed: {e}"));
        }
        let last = store.last_seq();
        store.close().map_err(|e| format!("close: {e}"))?;
        Ok(last)
    };
    run(&Workload { events: w.events / 2, ..*w })?;
    let older = read_files(&store_dir).map_err(|e| e.to_string())?;
    let last = run(w)?;
    let files = read_files(&store_dir).map_err(|e| e.to_string())?;
    Ok((files, older, last))
}

fn read_files(root: &Path) -> std::io::Result<Files> {
    let mut out = Files::new();
    for p in recorder::walk(root)? {
        let bytes = std::fs::read(&p)?;
        out.insert(p.strip_prefix(root).unwrap_or(&p).to_owned(), bytes);
    }
    Ok(out)
}

/// I/O errors at the Nth operation: for every class of operation the workload uses and
/// every N (sampled when there are many), once and forever, the workload runs until the
/// error stops it; the store is then reopened without faults and checked.
pub fn io_errors(plan: &Plan) -> Result<Report, Box<Failure>> {
    drive(plan, |rng, report| {
        let w = Workload { events: rng.u64(300..=800), ..draw_workload(rng) };
        let dir = plan.scratch.join(format!("io-{:016x}", w.seed));
        let counts = count_ops(&dir, &w).map_err(|e| failure(plan, format!("{w:?}"), e, &dir))?;
        for (kind, total) in counts {
            for nth in sample(total, 64, rng) {
                for forever in [false, true] {
                    let errno = if rng.bool() { inject::EIO } else { inject::ENOSPC };
                    let fault = inject::Fault { kind, nth, forever, errno };
                    let case = format!("workload {w:?}\nfault {fault:?}");
                    let outcome = with_fault(&dir, &w, fault)
                        .map_err(|e| failure(plan, case, e, &dir.join("store")))?;
                    report.note(outcome, &format!(" {kind:?}"));
                }
            }
        }
        repair_io_errors(plan, &dir, &w, rng, report)?;
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    })
}

/// `repair` of a damaged store, failing at its Nth operation of each class; a rerun without
/// faults must then leave a verified, intact prefix.
fn repair_io_errors(
    plan: &Plan,
    dir: &Path,
    w: &Workload,
    rng: &mut fastrand::Rng,
    report: &mut Report,
) -> Result<(), Box<Failure>> {
    let store_dir = dir.join("store");
    let damaged = dir.join("damaged");
    let setup = || -> Result<u64, String> {
        let _ = std::fs::remove_dir_all(&store_dir);
        new_store(&store_dir)?;
        let store = Store::open(&store_dir, &w.options(Disk::default())).map_err(|e| format!("open: {e}"))?;
        w.run(&store);
        let last = store.last_seq();
        store.close().map_err(|e| format!("close: {e}"))?;
        damage_middle(&store_dir).map_err(|e| e.to_string())?;
        copy_tree(&store_dir, &damaged).map_err(|e| e.to_string())?;
        Ok(last)
    };
    let last = setup().map_err(|e| failure(plan, format!("{w:?}"), e, &store_dir))?;
    let faults = Arc::new(Faults::new());
    let _ = crate::repair::repair_with(&store_dir, false, &Disk::hooked(faults.clone()));
    let kinds = [
        OpKind::Open,
        OpKind::Map,
        OpKind::Create,
        OpKind::Write,
        OpKind::SyncFile,
        OpKind::SyncDir,
        OpKind::Rename,
        OpKind::Remove,
        OpKind::Preallocate,
    ];
    let counts: Vec<(OpKind, u64)> =
        kinds.into_iter().map(|k| (k, faults.count(k))).filter(|(_, n)| *n > 0).collect();
    for (kind, total) in counts {
        for nth in sample(total, 16, rng) {
            let fault = inject::Fault { kind, nth, forever: rng.bool(), errno: inject::EIO };
            let case = format!("workload {w:?}\nrepair with fault {fault:?}");
            let _ = std::fs::remove_dir_all(&store_dir);
            copy_tree(&damaged, &store_dir)
                .map_err(|e| failure(plan, case.clone(), e.to_string(), &store_dir))?;
            faults.set(Some(fault));
            let _dog = Watchdog::arm(CASE_LIMIT, case.clone());
            let _ = crate::repair::repair_with(&store_dir, false, &Disk::hooked(faults.clone()));
            let outcome = oracle::after_repair(&store_dir, w.seed, last)
                .map_err(|e| failure(plan, case, e, &store_dir))?;
            report.note(outcome, &format!(" repair {kind:?}"));
        }
    }
    Ok(())
}

/// Flips a byte in the middle of the first segment's frames: damage only `repair` mends.
fn damage_middle(store: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let seg = store.join(crate::segment::file_name(1, crate::segment::SEGMENT_EXT));
    let f = std::fs::OpenOptions::new().read(true).write(true).open(&seg)?;
    let len = crate::segment::scan::last_nonzero(&std::fs::read(&seg)?).unwrap_or(0);
    let at = (len / 2) as u64;
    let mut b = [0u8];
    f.read_exact_at(&mut b, at)?;
    b[0] ^= 0x40;
    f.write_all_at(&b, at)
}

/// Copies a store directory (files and one level of subdirectories).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for p in recorder::walk(from)? {
        let target = to.join(p.strip_prefix(from).unwrap_or(&p));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&p, &target)?;
    }
    Ok(())
}

/// Operations of each class the workload makes, open and close included.
fn count_ops(dir: &Path, w: &Workload) -> Result<BTreeMap<OpKind, u64>, String> {
    let store_dir = dir.join("store");
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    new_store(&store_dir)?;
    let faults = Arc::new(Faults::new());
    let store = Store::open(&store_dir, &w.options(Disk::hooked(faults.clone())))
        .map_err(|e| format!("open: {e}"))?;
    if let Some(e) = w.run(&store).error {
        return Err(format!("the workload failed without a fault: {e}"));
    }
    store.close().map_err(|e| format!("close: {e}"))?;
    let kinds = [
        OpKind::Open,
        OpKind::Create,
        OpKind::Preallocate,
        OpKind::Map,
        OpKind::SyncRange,
        OpKind::SyncFile,
        OpKind::SyncDir,
        OpKind::Write,
        OpKind::Rename,
        OpKind::Remove,
    ];
    Ok(kinds.into_iter().map(|k| (k, faults.count(k))).filter(|(_, n)| *n > 0).collect())
}

/// Up to `n` of `1..=total`: all of them when few, else the first few, the last and a
/// random sample.
fn sample(total: u64, n: u64, rng: &mut fastrand::Rng) -> Vec<u64> {
    let n = n.max(5);
    if total <= n {
        return (1..=total).collect();
    }
    let mut v: Vec<u64> = (1..=3).chain([total]).chain((0..n - 4).map(|_| rng.u64(1..=total))).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Runs the workload on a new store with `fault` armed, then checks the store reopened
/// without faults.
fn with_fault(dir: &Path, w: &Workload, fault: inject::Fault) -> Result<Outcome, String> {
    let store_dir = dir.join("store");
    let _ = std::fs::remove_dir_all(&store_dir);
    new_store(&store_dir)?;
    let faults = Arc::new(Faults::new());
    faults.set(Some(fault));
    let _dog = Watchdog::arm(CASE_LIMIT, format!("{w:?} {fault:?}"));
    let (acked, last) = match Store::open(&store_dir, &w.options(Disk::hooked(faults.clone()))) {
        Ok(store) => {
            let out = w.run(&store);
            let last = store.last_seq();
            let closed = store.close();
            if faults.fired_on().is_some_and(|(thread, path)| holds_data(fault.kind, &thread, &path))
                && out.error.is_none()
                && closed.is_ok()
            {
                return Err("a failed sync was swallowed: the workload and the close both succeeded".into());
            }
            (out.acked, last)
        }
        // The fault hit the open itself: nothing was appended.
        Err(_) => (0, 0),
    };
    oracle::io_error(&store_dir, w.seed, acked, last)
}

/// Whether a failed sync of `path` (in `thread`) may have lost data the store relies on: an
/// msync of a segment, an fdatasync of a segment with frames or of `STORE`. Such a failure
/// must never pass unnoticed. A temp file being published (an index, a snapshot) is
/// discarded when its sync fails, and a new segment the preparer syncs holds nothing yet.
fn holds_data(kind: OpKind, thread: &str, path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match kind {
        OpKind::SyncRange => true,
        OpKind::SyncFile => {
            thread != "wfstore-prepare" && (name.ends_with(".seg") || name == crate::meta::STORE_FILE)
        }
        _ => false,
    }
}

fn failure(plan: &Plan, case: String, error: String, saved: &Path) -> Box<Failure> {
    Box::new(Failure { seed: plan.seed, case, error, saved: saved.to_owned() })
}

/// Runs the oracle of `saved.kind` on the store in `dir`.
pub fn replay(dir: &Path, saved: &Saved) -> oracle::Verdict {
    match (saved.kind.as_str(), &saved.v1) {
        ("power-loss", _) => oracle::power_loss(dir, saved.seed, saved.required, saved.last),
        ("media", _) => oracle::media(dir, saved.seed, saved.last),
        ("repair", _) => oracle::after_repair(dir, saved.seed, saved.last),
        ("migrate", Some(v1)) => oracle::after_migrate(dir, v1),
        _ => oracle::io_error(dir, saved.seed, saved.required, saved.last),
    }
}

/// Reruns the oracle on a case a campaign saved (`dir` holds the store as the fault left it;
/// `case.json` is beside it), on a copy, so the saved one stays as it was.
pub fn replay_saved(dir: &Path) -> Result<Outcome, String> {
    let json = std::fs::read(dir.with_file_name("case.json")).map_err(|e| format!("case.json: {e}"))?;
    let saved: Saved = serde_json::from_slice(&json).map_err(|e| format!("case.json: {e}"))?;
    let copy = dir.with_file_name("replay");
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(dir, &copy).map_err(|e| e.to_string())?;
    let verdict = replay(&copy, &saved);
    let _ = std::fs::remove_dir_all(&copy);
    verdict
}
