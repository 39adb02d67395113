//! The migrate phase: copies of the version-1 fixture (`tests/fixtures/store-v1`) are
//! migrated by a child that is killed at random moments and rerun until it completes.
//!
//! While a migration is interrupted (its `.migrate.tmp/` or `.migrate.v1/` exists), every
//! open must refuse with "a migration ... was interrupted"; otherwise the store must be the
//! version-1 store, untouched, or the migrated one, whole. After completion it is format
//! version 2, verifies clean, and holds the fixture's events exactly: `tail` hashes as the
//! fixture's README says.

use std::path::Path;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};
use wfstore::event::to_json_line;
use wfstore::{Error, OpenOptions, Store};

use crate::kill::Role;
use crate::restartable::{self, Job};
use crate::tally::Tally;

/// Events in the fixture (its README).
const EVENTS: u64 = 2_927;
/// SHA-256 of `wfstore tail` of the fixture (its README).
const TAIL_SHA256: &str = "f7904f5ed696f401f4445f0907fe3a326940be29962844f80393c58aa0dd9b3a";
/// The hash of the fixture's replayed state (its README).
const STATE_HASH: &str = "f991ab7f88b021004e9118875421c58f07e65b350b75a0fcba6d778a26c00c2c";
/// The directories of an interrupted migration (formats/recovery.md, "Migrate").
const MIGRATE_DIRS: [&str; 2] = [".migrate.tmp", ".migrate.v1"];

/// Migrates copies of `fixture`, killing each migration at random moments (see `restartable`),
/// until `kills` kills are done.
pub fn phase(
    work: &Path,
    fixture: &Path,
    kills: u64,
    rng: &mut fastrand::Rng,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    if kills == 0 {
        return Ok(());
    }
    let before = Content::of(fixture).context("reading the fixture")?;
    if before.version != 1 || before.tail_sha256 != TAIL_SHA256 || before.events != EVENTS {
        bail!("{} is not the version-1 fixture: {before:?}", fixture.display());
    }
    let (copies, span) = restartable::phase(&Fixture(fixture), work, kills, rng, tally)?;
    println!(
        "migrate: {} kills over {copies} copies (a whole migration: {span:?}), all migrated",
        tally.kills
    );
    Ok(())
}

/// The version-1 fixture, migrated.
struct Fixture<'a>(&'a Path);

impl Job for Fixture<'_> {
    const NAME: &'static str = "migrate";
    const ROLE: Role = Role::Migrate;

    fn source(&self) -> &Path {
        self.0
    }

    fn child_args(&self) -> (u64, u32) {
        (0, 0)
    }

    fn check_done(&self, dir: &Path, tally: &mut Tally) -> anyhow::Result<()> {
        check_migrated(dir, tally)
    }

    fn check_interrupted(&self, dir: &Path, tally: &mut Tally) {
        check_interrupted(dir, tally);
    }
}

/// What a store holds, as far as these checks care.
#[derive(Debug)]
struct Content {
    version: u16,
    events: u64,
    tail_sha256: String,
}

impl Content {
    /// Opens `dir` read-only and hashes its `tail`.
    fn of(dir: &Path) -> wfstore::Result<Content> {
        let store = Store::open(dir, &OpenOptions::read_only())?;
        let mut hash = Sha256::new();
        let mut events = 0;
        for rec in store.iter(1..=u64::MAX) {
            let rec = rec?;
            hash.update(to_json_line(rec.seq, &rec.event).as_bytes());
            hash.update(b"\n");
            events += 1;
        }
        let tail_sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Content { version: store.format_version(), events, tail_sha256 })
    }

    fn is_fixture(&self) -> bool {
        self.events == EVENTS && self.tail_sha256 == TAIL_SHA256
    }
}

/// An interrupted migration is refused by every open; otherwise the store is the old one
/// untouched or the new one whole.
fn check_interrupted(dir: &Path, tally: &mut Tally) {
    let pending = MIGRATE_DIRS.iter().any(|d| dir.join(d).exists());
    if pending {
        for (what, opts) in [("read-only", OpenOptions::read_only()), ("writable", OpenOptions::default())] {
            match Store::open(dir, &opts) {
                Err(e @ Error::MigrationPending { .. })
                    if e.to_string().contains("a migration of store")
                        && e.to_string().contains("was interrupted") => {}
                Err(e) if e.is_corruption() => {
                    tally.false_corruption(format!("an interrupted migration: {what} open: {e}"));
                }
                Err(e) => tally.other(format!("an interrupted migration: {what} open failed otherwise: {e}")),
                Ok(s) => tally.other(format!(
                    "an interrupted migration opened {what} (format {}, {} events): a mix",
                    s.format_version(),
                    s.last_seq()
                )),
            }
        }
        return;
    }
    match Content::of(dir) {
        Ok(c) if c.is_fixture() && (c.version == 1 || c.version == 2) => {}
        Ok(c) => tally
            .other(format!("after a killed migration the store is neither the old nor the new one: {c:?}")),
        Err(e) if e.is_corruption() => tally.false_corruption(format!("after a killed migration: {e}")),
        Err(e) => tally.other(format!("after a killed migration the store does not open: {e}")),
    }
}

/// After a migration completed: format 2, the fixture's events and state, verify clean, no
/// migration directory left, a writable open works, a rerun has nothing to do.
fn check_migrated(dir: &Path, tally: &mut Tally) -> anyhow::Result<()> {
    if let Some(d) = MIGRATE_DIRS.iter().find(|d| dir.join(d).exists()) {
        tally.other(format!("a completed migration left {d}"));
    }
    let content = match Content::of(dir) {
        Ok(c) => c,
        Err(e) if e.is_corruption() => {
            tally.false_corruption(format!("the migrated store: {e}"));
            return Ok(());
        }
        Err(e) => {
            tally.other(format!("the migrated store does not open: {e}"));
            return Ok(());
        }
    };
    if content.version != 2 {
        tally.other(format!("the migrated store is format version {}", content.version));
    }
    if content.events < EVENTS {
        tally.loss(
            EVENTS - content.events,
            format!("the migrated store holds {} events of {EVENTS}", content.events),
        );
    } else if content.tail_sha256 != TAIL_SHA256 {
        tally.reuse(format!("the migrated store's tail hashes to {}", content.tail_sha256));
    }
    let report = wfstore::verify::verify(dir)?;
    if !report.is_clean() {
        tally.false_corruption(format!("the migrated store: verify: {:?}", report.problems));
    }
    match crate::log_phases::open(dir) {
        Ok(store) => {
            let hash = store.state()?.0.hash_hex();
            if hash != STATE_HASH {
                tally.other(format!("the migrated store's state hash is {hash}"));
            }
        }
        Err(e) => tally.other(format!("the migrated store refuses a writer: {e}")),
    }
    let again = wfstore::migrate::migrate(dir, false)?;
    if !again.already_current {
        tally.other(format!("a second migration did something: {again:?}"));
    }
    Ok(())
}
