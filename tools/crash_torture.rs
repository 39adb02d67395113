//! `wfstore-torture`: the crash-torture driver. A child process appends with
//! `Durability::Always` (snapshots on) and reports each acknowledged seq on stdout; the
//! parent kills it with SIGKILL at a random moment, reopens the store, and checks that every
//! acknowledged event is there, intact (bodies are a pure function of seed and seq), as a
//! hole-free prefix; that a second open changes nothing; that the store verifies clean; and
//! that the recovered energy state equals a full replay. Any number of iterations; the seed
//! is printed so a failure can be replayed.
//!
//! ```text
//! wfstore-torture [--iterations N] [--seed S] [--dir DIR] [--max-run-ms MS]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use wfstore::sim::synthetic;
use wfstore::state::EnergyState;
use wfstore::{CreateOptions, Durability, OpenOptions, SnapshotPolicy, Store};

/// Kill a writer at random moments and check what survives.
#[derive(Debug, Parser)]
#[command(name = "wfstore-torture", version)]
struct Args {
    /// Kill-and-recover rounds.
    #[arg(long, default_value_t = 200)]
    iterations: u64,
    /// Seed of the kill timings and of the event bodies.
    #[arg(long)]
    seed: Option<u64>,
    /// Store directory (must not exist); a temporary one by default.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Longest a child runs before it is killed, ms.
    #[arg(long, default_value_t = 40)]
    max_run_ms: u64,
    /// Run as the writer child on DIR (internal).
    #[arg(long, hide = true)]
    child: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = match &args.child {
        Some(dir) => child(dir, args.seed.unwrap_or(0)),
        None => torture(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wfstore-torture: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The writer: appends small batches forever, acknowledging each on stdout.
fn child(dir: &Path, seed: u64) -> anyhow::Result<()> {
    let policy = SnapshotPolicy { every_events: 300, every: None, keep: 2 };
    let opts = OpenOptions {
        durability: Durability::Always,
        snapshots: Some(policy),
        read_only: false,
        ..OpenOptions::default()
    };
    let store = Store::open(dir, &opts).context("child open")?;
    let mut out = std::io::stdout().lock();
    let mut seq = store.last_seq();
    loop {
        let batch: Vec<_> = (seq + 1..=seq + 1 + seq % 4).map(|i| synthetic(seed, i)).collect();
        seq = store.append_batch(&batch)?.end - 1;
        writeln!(out, "{seq}")?;
        out.flush()?;
    }
}

fn torture(args: &Args) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    println!("wfstore-torture: seed {seed}, {} iterations", args.iterations);
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().join("store"));
    Store::create(&dir, &CreateOptions { segment_bytes: 256 << 10, ..CreateOptions::default() })?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked = 0;
    for round in 1..=args.iterations {
        let run = Duration::from_millis(rng.u64(1..=args.max_run_ms.max(1)));
        acked = acked.max(kill_after(&dir, seed, run)?);
        let last = check(&dir, seed, acked).with_context(|| format!("round {round} (seed {seed})"))?;
        if round % 20 == 0 || round == args.iterations {
            println!("round {round}: {last} events, {acked} acknowledged, all intact");
        }
    }
    check_state(&dir).with_context(|| format!("final state (seed {seed})"))?;
    println!("wfstore-torture: {} kills, zero acknowledged loss", args.iterations);
    Ok(())
}

/// Runs a child for `run`, kills it with SIGKILL, returns the last seq it acknowledged.
fn kill_after(dir: &Path, seed: u64, run: Duration) -> anyhow::Result<u64> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("--child")
        .arg(dir)
        .args(["--seed", &seed.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .max()
    });
    std::thread::sleep(run);
    child.kill()?;
    child.wait()?;
    Ok(reader.join().ok().flatten().unwrap_or(0))
}

/// After a kill: every acknowledged event present and intact, a hole-free prefix, a
/// second open changes nothing, verify is clean. Returns the recovered last seq.
fn check(dir: &Path, seed: u64, acked: u64) -> anyhow::Result<u64> {
    let last = {
        let store = open(dir)?;
        let last = store.last_seq();
        ensure!(last >= acked, "acknowledged seq {acked} lost: the store ends at {last}");
        for (i, rec) in store.iter(1..=last).enumerate() {
            let rec = rec?;
            ensure!(rec.seq == i as u64 + 1, "hole: seq {} where {} was due", rec.seq, i + 1);
            ensure!(rec.event == synthetic(seed, rec.seq), "seq {} is not what was appended", rec.seq);
        }
        last
    };
    let again = open(dir)?;
    ensure!(again.recovery_report().torn_tail.is_none(), "a second open cut the tail again");
    ensure!(again.last_seq() == last, "a second open changed the last seq");
    drop(again);
    let report = wfstore::verify::verify(dir)?;
    if !report.is_clean() {
        bail!("verify: {:?}", report.problems);
    }
    Ok(last)
}

/// The state recovered from snapshots + tail equals a full replay.
fn check_state(dir: &Path) -> anyhow::Result<()> {
    let store = open(dir)?;
    let (state, rec) = store.state()?;
    let events: Vec<_> = store.iter(1..=u64::MAX).collect::<Result<_, _>>()?;
    let full = EnergyState::replay(events.iter().map(|r| (r.seq, &r.event)));
    ensure!(state.hash() == full.hash(), "recovered state differs from a full replay");
    println!("state: snapshot {:?} + {} replayed = full replay", rec.snapshot.map(|s| s.seq), rec.replayed);
    Ok(())
}

/// Opens for writing without the snapshotter (the checks read; they need no snapshots).
fn open(dir: &Path) -> anyhow::Result<Store> {
    Ok(Store::open(
        dir,
        &OpenOptions {
            durability: Durability::None,
            read_only: false,
            snapshots: None,
            ..OpenOptions::default()
        },
    )?)
}
