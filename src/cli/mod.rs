//! The command line's table of contents: the clap definitions and the dispatch.
//!
//! - `output`: human and JSON printing, error lines and exit codes.
//! - `init`, `append`, `tail`, `stats`, `verify`, `replay`, `validate`, `snapshot`, `repair`,
//!   `migrate`, `purge`, `retain`, `backup`, `restore`, `demo`:
//!   one file per command (`demo/` holds the demo's writer child and its report).
//! - `bench`: the frame-budget benchmark; its code lives with the other tools, in
//!   `tools/frame_bench/`.
//! - `export/`: the `export` subcommands, one file each.

mod append;
mod backup;
#[path = "../../tools/frame_bench/mod.rs"]
mod bench;
mod demo;
mod export;
mod init;
mod migrate;
mod output;
mod purge;
mod repair;
mod replay;
mod restore;
mod retain;
mod snapshot;
mod stats;
mod tail;
mod validate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `wfstore [--store DIR] [--json] COMMAND`.
#[derive(Debug, Parser)]
#[command(name = "wfstore", version, about = "Operate a wfstore event store")]
pub struct Cli {
    /// The store directory.
    #[arg(long, global = true, env = "WFSTORE_DIR", default_value = "./wfstore-data", value_name = "DIR")]
    pub store: PathBuf,
    /// Print machine-readable JSON instead of human text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a store (refuses a non-empty directory that is not a store).
    Init(init::Args),
    /// Import events as JSON Lines from FILE, or stdin; all or nothing.
    Append(append::Args),
    /// Print events as JSON Lines (with `seq`).
    Tail(tail::Args),
    /// Segments, events, bytes, sessions, last seq.
    Stats,
    /// Check every frame, CRC, seq and index; exit 3 when a problem is found.
    Verify,
    /// Semantic checks: schemas, energy conservation, order, snapshots = replay; exit 3
    /// when a rule is broken.
    Validate,
    /// Rebuild the energy state from the events and print it with its hash.
    Replay(replay::Args),
    /// Take a snapshot of the energy state now, or list the snapshots.
    Snapshot {
        /// `create` or `list`.
        #[command(subcommand)]
        action: snapshot::Action,
    },
    /// Export events: the relational view in SQLite, an audit document of one session, or
    /// every event as JSON Lines.
    Export {
        /// `sqlite`, `audit` or `jsonl`.
        #[command(subcommand)]
        action: export::Action,
    },
    /// Salvage a damaged store: keep every valid record up to the first damage, move the
    /// rest to quarantine/, report what was lost; then verify.
    Repair(repair::Args),
    /// Upgrade a store of an older format version in place (crash-safe, verified).
    Migrate(migrate::Args),
    /// Remove every event of a user or a session for good: no byte of their ids or content
    /// is left in any file of the store (asks first; `--yes` to skip).
    Purge(purge::Args),
    /// Remove whole early segments (by seq, age, bytes or count) once a snapshot covers
    /// them; the log's start moves durably.
    Retain(retain::Args),
    /// Back the store up while it runs: a consistent store as of one durable seq, checked
    /// file by file (incremental into an existing backup; `--keep N` rotates dated ones).
    Backup(backup::Args),
    /// Restore a backup into a new or empty directory (optionally up to a seq); checks
    /// every file, then verify and validate; exit 3 on a damaged backup.
    Restore(restore::Args),
    /// Simulate a 60 Hz WirthForge session in a child writer, kill it, recover, verify,
    /// validate and report.
    Demo(demo::Args),
    /// The demo's writer child (internal).
    #[command(hide = true)]
    DemoWriter(demo::writer::Args),
    /// The frame-budget benchmark: wfstore vs SQLite, every durability policy.
    Bench(bench::Args),
    /// The bench's writer child for its recovery run (internal).
    #[command(hide = true)]
    BenchWriter(bench::writer::Args),
}

/// Parses the arguments (clap exits 2 on a usage error), runs the command and turns its
/// outcome into the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Init(args) => init::run(&cli.store, cli.json, &args),
        Command::Append(args) => append::run(&cli.store, cli.json, &args),
        Command::Tail(args) => tail::run(&cli.store, &args),
        Command::Stats => stats::run(&cli.store, cli.json),
        Command::Verify => verify::run(&cli.store, cli.json),
        Command::Validate => validate::run(&cli.store, cli.json),
        Command::Replay(args) => replay::run(&cli.store, cli.json, &args),
        Command::Snapshot { action } => snapshot::run(&cli.store, cli.json, &action),
        Command::Export { action } => export::run(&cli.store, cli.json, &action),
        Command::Repair(args) => repair::run(&cli.store, cli.json, &args),
        Command::Migrate(args) => migrate::run(&cli.store, cli.json, &args),
        Command::Purge(args) => purge::run(&cli.store, cli.json, &args),
        Command::Retain(args) => retain::run(&cli.store, cli.json, &args),
        Command::Backup(args) => backup::run(&cli.store, cli.json, &args),
        Command::Restore(args) => restore::run(cli.json, &args),
        Command::Demo(args) => demo::run(cli.json, &args),
        Command::DemoWriter(args) => demo::writer::run(&args),
        Command::Bench(args) => bench::run(cli.json, &args),
        Command::BenchWriter(args) => bench::writer::run(&args),
    };
    output::finish(outcome)
}
