//! `migrate`: upgrades a version-1 store to version 2 in place, crash-safe and verified
//! (formats/recovery.md, "Migrate"). The new store is built beside the old one in
//! `.migrate.tmp/` and checked; only then are files moved, and a rerun after a crash
//! finishes the move (or starts over if the build was not finished).

use std::fs;
use std::path::{Path, PathBuf};

use crate::disk::Disk;
use crate::error::{Error, IoContext, Result};
use crate::meta::{Marks, StoreFile, StoreMeta};
use crate::store::recover::files::MIGRATE_DIRS;
use crate::store::{Durability, OpenOptions, Store};

/// Events per batch while copying.
const COPY_BATCH: usize = 4096;
/// The build directory.
const BUILD: &str = MIGRATE_DIRS[0];
/// Where the old files wait until the new store checks out in place.
const OLD: &str = MIGRATE_DIRS[1];
/// In `BUILD`: the new store is complete and checked; its content is what the check saw.
const READY: &str = "READY";
/// In `OLD`: every old file has been moved in.
const MOVED: &str = "MOVED";

/// What `migrate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MigrateReport {
    /// The format version found.
    pub from_version: u16,
    /// The format version written.
    pub to_version: u16,
    /// Events copied (and checked).
    pub events: u64,
    /// The last seq.
    pub last_seq: u64,
    /// The replayed state's hash, equal before and after.
    pub state_hash: String,
    /// The store was already current: nothing to do.
    pub already_current: bool,
    /// An interrupted migration was finished.
    pub resumed: bool,
    /// Nothing was changed (`--dry-run`).
    pub dry_run: bool,
}

/// Upgrades the store in `dir`. With `dry_run`, builds and checks the new store in a
/// temporary directory and leaves the store untouched.
pub fn migrate(dir: &Path, dry_run: bool) -> Result<MigrateReport> {
    migrate_with(dir, dry_run, &Disk::default())
}

/// `migrate` through a given file-system seam (fault injection in tests).
#[doc(hidden)]
pub fn migrate_with(dir: &Path, dry_run: bool, disk: &Disk) -> Result<MigrateReport> {
    let disk = disk.clone();
    let _lock = crate::store::lock_for_maintenance(dir)?;
    let (build, old) = (dir.join(BUILD), dir.join(OLD));
    if build.join(READY).exists() && !dry_run {
        let mut report = read_ready(&build)?;
        switch(&disk, dir)?;
        report.resumed = true;
        return Ok(report);
    }
    if old.exists() && !dry_run {
        // The switch moved everything and was cleaning up: finish that.
        let mut report = check_in_place(dir, None)?;
        for d in [&build, &old] {
            if d.exists() {
                fs::remove_dir_all(d).ctx("remove", d)?;
            }
        }
        disk.sync_dir(dir)?;
        report.resumed = true;
        return Ok(report);
    }
    if build.exists() && !dry_run {
        // The build never finished: the old store is untouched; start again.
        fs::remove_dir_all(&build).ctx("remove", &build)?;
    }
    let file = StoreFile::load(&disk, dir)?;
    if file.version == crate::meta::VERSION {
        return Ok(MigrateReport {
            from_version: file.version,
            to_version: file.version,
            already_current: true,
            ..Default::default()
        });
    }
    let scratch = tempfile_dir(dir, dry_run)?;
    let target = scratch.as_ref().map_or(build.clone(), |t| t.join("store"));
    let mut report = build_and_check(&disk, dir, &target, &file)?;
    report.dry_run = dry_run;
    if dry_run {
        return Ok(report);
    }
    write_ready(&disk, &build, &report)?;
    switch(&disk, dir)?;
    Ok(report)
}

/// Where a dry run builds: a temporary directory outside the store (removed on drop).
fn tempfile_dir(dir: &Path, dry_run: bool) -> Result<Option<TempDir>> {
    if !dry_run {
        return Ok(None);
    }
    TempDir::new(dir).map(Some)
}

/// Copies every event of the old store into a new version-2 store at `target` (same
/// identity, seqs and timestamps), then checks it against the old one.
fn build_and_check(disk: &Disk, dir: &Path, target: &Path, old_file: &StoreFile) -> Result<MigrateReport> {
    let old = Store::open(dir, &OpenOptions::read_only())?;
    create_like(disk, target, &old_file.meta)?;
    let opts = OpenOptions {
        durability: Durability::None,
        snapshots: None,
        disk: disk.clone(),
        ..OpenOptions::default()
    };
    let new = Store::open(target, &opts)?;
    let mut batch = Vec::with_capacity(COPY_BATCH);
    for rec in old.iter(1..=u64::MAX) {
        batch.push(rec?.event);
        if batch.len() == COPY_BATCH {
            new.append_batch(&batch)?;
            batch.clear();
        }
    }
    new.append_batch(&batch)?;
    if new.last_seq() != old.last_seq() {
        return Err(mismatch(target, format!("copied up to seq {} of {}", new.last_seq(), old.last_seq())));
    }
    for (a, b) in old.iter(1..=u64::MAX).zip(new.iter(1..=u64::MAX)) {
        let (a, b) = (a?, b?);
        if a != b {
            return Err(mismatch(target, format!("seq {} differs after the copy", a.seq)));
        }
    }
    let (before, _) = old.state()?;
    let hash = before.hash_hex();
    if new.last_seq() > 0 {
        new.snapshot_now(3)?;
    }
    let (after, _) = new.state()?;
    if after.hash_hex() != hash {
        return Err(mismatch(target, "the replayed state differs after the copy".into()));
    }
    new.close()?;
    let v = crate::verify::verify(target)?;
    if !v.is_clean() {
        return Err(mismatch(target, format!("the new store does not verify: {:?}", v.problems)));
    }
    Ok(MigrateReport {
        from_version: old_file.version,
        to_version: crate::meta::VERSION,
        events: old.stats()?.events,
        last_seq: old.last_seq(),
        state_hash: hash,
        ..MigrateReport::default()
    })
}

/// A new empty store at `target` with `meta`'s identity (exports are keyed by it).
fn create_like(disk: &Disk, target: &Path, meta: &StoreMeta) -> Result<()> {
    fs::create_dir_all(target).ctx("create directory", target)?;
    disk.create_new(&target.join(crate::store::LOCK_FILE))?;
    crate::store::fresh_first_segment(disk, target, meta, 1, 1)?;
    StoreFile::publish(disk, target, meta, Marks::default(), 1)
}

fn mismatch(target: &Path, why: String) -> Error {
    Error::corrupt(target, 0, None, format!("migration check failed, the old store is untouched: {why}"))
}

fn write_ready(disk: &Disk, build: &Path, report: &MigrateReport) -> Result<()> {
    let json = serde_json::to_vec(report).unwrap_or_default();
    disk.write_atomic(build, READY, &json)?;
    disk.sync_dir(crate::disk::parent(build))
}

fn read_ready(build: &Path) -> Result<MigrateReport> {
    let bytes = Disk::default().read_bounded(&build.join(READY), 1 << 16)?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(MigrateReport {
        from_version: v["from_version"].as_u64().and_then(|x| u16::try_from(x).ok()).unwrap_or(1),
        to_version: crate::meta::VERSION,
        events: v["events"].as_u64().unwrap_or(0),
        last_seq: v["last_seq"].as_u64().unwrap_or(0),
        state_hash: v["state_hash"].as_str().unwrap_or_default().to_owned(),
        ..MigrateReport::default()
    })
}

/// The names a store's own files have (everything `migrate` moves; `LOCK` stays).
fn is_store_file(name: &str) -> bool {
    name == crate::meta::STORE_FILE
        || name == crate::snapshot::SNAPSHOT_DIR
        || crate::segment::parse_file_name(name, crate::segment::SEGMENT_EXT).is_some()
        || crate::segment::parse_file_name(name, crate::segment::INDEX_EXT).is_some()
}

/// Moves the old files into `OLD` and the new ones into place (`STORE` last), checks the
/// result against `READY`, then removes both directories. Every step can be redone.
fn switch(disk: &Disk, dir: &Path) -> Result<()> {
    let (build, old) = (dir.join(BUILD), dir.join(OLD));
    if !old.join(MOVED).exists() {
        if !old.exists() {
            disk.create_dir(&old)?;
        }
        for name in names(dir)?.into_iter().filter(|n| is_store_file(n)) {
            move_entry(disk, &dir.join(&name), &old.join(&name))?;
        }
        disk.sync_dir(&old)?;
        disk.sync_dir(dir)?;
        disk.write_atomic(&old, MOVED, b"")?;
    }
    let mut new = names(&build)?;
    new.retain(|n| is_store_file(n));
    new.sort_by_key(|n| n == crate::meta::STORE_FILE);
    for name in new {
        move_entry(disk, &build.join(&name), &dir.join(&name))?;
        disk.sync_dir(dir)?;
    }
    check_in_place(dir, Some(&read_ready(&build)?))?;
    // `BUILD` (with `READY`) goes first: a crash after it leaves only `OLD`, which a rerun
    // removes once the store checks out again.
    fs::remove_dir_all(&build).ctx("remove", &build)?;
    disk.sync_dir(dir)?;
    fs::remove_dir_all(&old).ctx("remove", &old)?;
    disk.sync_dir(dir)
}

/// Opens the store in place (beside the migration directories) and checks it is current,
/// and, given the build's report, that it holds what was checked.
fn check_in_place(dir: &Path, expected: Option<&MigrateReport>) -> Result<MigrateReport> {
    let store = Store::open_for_check(dir)?;
    let (state, _) = store.state()?;
    let found = MigrateReport {
        from_version: expected.map_or(1, |e| e.from_version),
        to_version: store.format_version(),
        events: store.stats()?.events,
        last_seq: store.last_seq(),
        state_hash: state.hash_hex(),
        ..MigrateReport::default()
    };
    let same = expected.is_none_or(|e| e.last_seq == found.last_seq && e.state_hash == found.state_hash);
    if found.to_version != crate::meta::VERSION || !same {
        return Err(mismatch(
            dir,
            "the store in place differs from the one checked; the old files are in .migrate.v1".into(),
        ));
    }
    Ok(found)
}

/// Moves a file, or a directory's files one by one (so each move is one rename a crash
/// either did or did not do), syncing the directories.
fn move_entry(disk: &Disk, from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        return disk.rename(from, to);
    }
    if !to.exists() {
        disk.create_dir(to)?;
    }
    for name in names(from)? {
        disk.rename(&from.join(&name), &to.join(&name))?;
    }
    disk.sync_dir(to)?;
    disk.sync_dir(from)?;
    fs::remove_dir(from).ctx("remove", from)
}

fn names(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).ctx("list", dir)? {
        if let Some(n) = e.ctx("list", dir)?.file_name().to_str() {
            out.push(n.to_owned());
        }
    }
    Ok(out)
}

/// A scratch directory for a dry run, beside the store's parent; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(store: &Path) -> Result<TempDir> {
        let parent = crate::disk::parent(store);
        let name = format!(".wfstore-migrate-dry-run-{:016x}", crate::io_util::random_u64());
        let p = parent.join(name);
        fs::create_dir(&p).ctx("create directory", &p)?;
        Ok(TempDir(p))
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
