//! Starting a child of this binary in a role, and killing it with SIGKILL at a moment.

use std::io::{BufRead, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Whole runs timed before a phase kills repairs or migrations: the shortest bounds the
/// kill moments (one run alone may be slowed by a cold cache or a busy machine).
pub const CALIBRATION_RUNS: u32 = 3;

/// What a child does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Append small batches forever, acknowledging each.
    Writer,
    /// Append a batch, then take a snapshot, forever.
    Snapshot,
    /// Repair the store once.
    Repair,
    /// Migrate the store once.
    Migrate,
}

/// How a child run ended.
#[derive(Debug)]
pub struct Ended {
    /// Killed by us (false: it exited by itself first).
    pub killed: bool,
    /// Its exit status.
    pub status: ExitStatus,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Ended {
    /// A child that exited by itself with an error, said in one line.
    pub fn failure(&self) -> Option<String> {
        (!self.killed && !self.status.success())
            .then(|| format!("child exited by itself with {}: {}", self.status, self.stderr.trim()))
    }
}

/// The command that runs this binary as a child in `role` on `dir`.
pub fn child(role: Role, dir: &Path, seed: u64, round: u32) -> anyhow::Result<Command> {
    let mut cmd = Command::new(std::env::current_exe().context("finding this binary")?);
    let role = clap::ValueEnum::to_possible_value(&role).context("role name")?;
    cmd.args(["--child", role.get_name(), "--child-dir"]).arg(dir).args([
        "--seed",
        &seed.to_string(),
        "--round",
        &round.to_string(),
    ]);
    Ok(cmd)
}

/// A child that runs, its output being read.
pub struct Running {
    child: Child,
    lines: JoinHandle<()>,
    errors: JoinHandle<String>,
}

/// Starts `cmd`, handing each line it prints on stdout to `on_line` (on another thread).
pub fn start(mut cmd: Command, mut on_line: impl FnMut(&str) + Send + 'static) -> anyhow::Result<Running> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut stderr = child.stderr.take().context("child stderr")?;
    let lines = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            on_line(&line);
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    Ok(Running { child, lines, errors })
}

impl Running {
    /// Kills the child with SIGKILL at `deadline`, unless it exits by itself before.
    pub fn kill_at(mut self, deadline: Instant) -> anyhow::Result<Ended> {
        let killed = loop {
            if self.child.try_wait()?.is_some() {
                break false;
            }
            let now = Instant::now();
            if now >= deadline {
                self.child.kill().context("killing the child")?;
                break true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
        };
        let status = self.child.wait()?;
        // A child that exited between the last look and the kill was not killed.
        let killed = killed && status.code().is_none();
        let _ = self.lines.join();
        let stderr = self.errors.join().unwrap_or_default();
        Ok(Ended { killed, status, stderr })
    }
}

/// Runs `cmd` and kills it with SIGKILL once `after` has passed, unless it exits first.
pub fn run_killed_after(cmd: Command, after: Duration) -> anyhow::Result<Ended> {
    let deadline = Instant::now() + after;
    start(cmd, |_| {})?.kill_at(deadline)
}

/// Runs `cmd` to its end, however long it takes.
pub fn run_to_end(cmd: Command) -> anyhow::Result<Ended> {
    run_killed_after(cmd, Duration::from_secs(3600))
}

/// A moment in `0..=span`, uniform.
pub fn moment(rng: &mut fastrand::Rng, span: Duration) -> Duration {
    span.mul_f64(rng.f64())
}
