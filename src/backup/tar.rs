//! The tar format: the backup's files as one `.tar` (zstd-compressed when the name ends
//! `.zst`), `MANIFEST` last. Written to a temp file beside the target, synced, read back
//! and checked entry by entry, then renamed into place. Reading (for the check and for
//! restore) is hostile: only names a backup holds, regular files, bounded sizes and counts.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::copy::{DiskWriter, Found, check_found};
use super::dir::{TAR_ZST, check_keep, ensure_dir, rotate, unique_dated};
use super::manifest::{
    self, ENTRIES_MAX, Entry, FILE_BYTES_MAX, MANIFEST_BYTES_MAX, MANIFEST_FILE, Manifest,
};
use super::plan::{self, Content};
use super::{BackupOptions, BackupReport, Progress, advance, phase};
use crate::disk::Disk;
use crate::error::{Error, Result};
use crate::io_util;
use crate::snapshot::SNAPSHOT_DIR;
use crate::store::Store;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const BUF_BYTES: usize = 1 << 20;

/// Writes the tar at `dest` (or a dated `.tar.zst` in `dest` with `keep`).
pub(crate) fn backup(store: &Store, dest: &Path, opts: &BackupOptions<'_>) -> Result<BackupReport> {
    let disk = store.disk();
    let (target, root) = match opts.keep {
        Some(keep) => {
            check_keep(keep)?;
            ensure_dir(disk, dest)?;
            (None, Some(dest))
        }
        None if dest.is_dir() => {
            let why = "a directory: give a file name ending .tar or .tar.zst (or use --keep)";
            return Err(Error::BackupTarget { path: dest.to_owned(), why: why.into() });
        }
        None => (Some(dest.to_owned()), None),
    };
    let zstd = target.as_ref().is_none_or(|t| t.to_string_lossy().ends_with(".zst"));
    let dir = root.map_or_else(|| crate::disk::parent(dest).to_owned(), Path::to_owned);
    let (tmp, file) = disk.create_temp(&dir, "wfstore-backup")?;
    let written = write(store, &tmp, &file, zstd, opts);
    drop(file);
    let mut report = match written {
        Ok(r) => r,
        Err(e) => {
            let _ = disk.remove(&tmp);
            return Err(e);
        }
    };
    let target = target.unwrap_or_else(|| unique_dated(&dir, report.seq, TAR_ZST));
    disk.rename(&tmp, &target)?;
    disk.sync_dir(&dir)?;
    if let Some(keep) = opts.keep {
        report.rotated_out = rotate(disk, &dir, keep, true)?;
    }
    report.format = if zstd { "tar.zst" } else { "tar" }.into();
    report.path = target;
    Ok(report)
}

/// The output stream: plain, or through zstd.
enum Out<'a> {
    Plain(BufWriter<DiskWriter<'a>>),
    Zstd(zstd::Encoder<'static, BufWriter<DiskWriter<'a>>>),
}

impl Write for Out<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Plain(w) => w.write(buf),
            Out::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.flush(),
            Out::Zstd(w) => w.flush(),
        }
    }
}

impl Out<'_> {
    fn finish(self) -> io::Result<()> {
        let mut w = match self {
            Out::Plain(w) => w,
            Out::Zstd(z) => z.finish()?,
        };
        w.flush()
    }
}

/// Hashes what passes through.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

fn tar_err(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |e| Error::io("write tar", path, e)
}

/// Writes every file of the plan, then `MANIFEST`, into `file`; syncs; reads it back.
fn write(
    store: &Store,
    tmp: &Path,
    file: &File,
    zstd: bool,
    opts: &BackupOptions<'_>,
) -> Result<BackupReport> {
    let disk = store.disk();
    let progress = opts.progress;
    let sink = BufWriter::with_capacity(BUF_BYTES, DiskWriter { disk, file, path: tmp, offset: 0 });
    let out =
        if zstd { Out::Zstd(zstd::Encoder::new(sink, 3).map_err(tar_err(tmp))?) } else { Out::Plain(sink) };
    let mut builder = tar::Builder::new(out);
    let mtime = u64::try_from(io_util::now_ns() / 1_000_000_000).unwrap_or(0);
    let mut entries = Vec::new();
    let lifecycle = store.lifecycle_guard();
    let plan = plan::make(store)?;
    phase(progress, "copy", plan.total());
    for item in &plan.items {
        let len = item.len();
        let reader: Box<dyn Read> = match &item.content {
            Content::Bytes(b) => Box::new(&b[..]),
            Content::File { path, len } => Box::new(disk.open(path)?.take(*len)),
        };
        let mut hashing = Hashing { inner: reader, hasher: Sha256::new(), bytes: 0 };
        builder.append_data(&mut header(len, mtime), &item.name, &mut hashing).map_err(tar_err(tmp))?;
        if hashing.bytes != len {
            let e = io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} bytes, expected {len}", hashing.bytes),
            );
            return Err(Error::io("read", item.name.as_str(), e));
        }
        advance(progress, len);
        entries.push(Entry { name: item.name.clone(), size: len, sha256: hashing.hasher.finalize().into() });
    }
    drop(lifecycle);
    let manifest = plan::manifest(store, &plan, entries)?;
    let bytes = manifest.encode();
    builder
        .append_data(&mut header(bytes.len() as u64, mtime), MANIFEST_FILE, &bytes[..])
        .map_err(tar_err(tmp))?;
    builder.into_inner().and_then(Out::finish).map_err(tar_err(tmp))?;
    disk.sync_file(file, tmp)?;
    phase(progress, "verify", manifest.total_bytes());
    let (read_back, found) = read(disk, tmp, None, progress)?;
    if read_back != manifest {
        return Err(Error::corrupt(tmp, 0, None, "its MANIFEST does not read back as written"));
    }
    check_found(&found, &manifest, tmp)?;
    let total = manifest.total_bytes();
    Ok(BackupReport {
        seq: manifest.seq,
        log_start: manifest.log_start,
        store_id: format!("{:016x}", manifest.store_id),
        files: manifest.entries.len(),
        files_copied: manifest.entries.len(),
        bytes: total,
        bytes_copied: total,
        verified: true,
        ..BackupReport::default()
    })
}

fn header(len: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h
}

/// Reads the tar at `path`: every entry hashed (and written under `into` when given), the
/// manifest decoded. Checks what a hostile archive could do: names outside a backup's,
/// links and devices, repeated names, sizes and counts past the limits. Damage names the
/// tar and the entry.
pub(crate) fn read(
    disk: &Disk,
    path: &Path,
    into: Option<&Path>,
    progress: Option<&dyn Progress>,
) -> Result<(Manifest, Found)> {
    let damaged = |what: String| Error::corrupt(path, 0, None, what);
    let file = disk.open(path)?;
    let mut head = BufReader::with_capacity(BUF_BYTES, file);
    let magic = {
        let buf = head.fill_buf_checked(path)?;
        buf.get(..4) == Some(&ZSTD_MAGIC[..])
    };
    let input: Box<dyn Read> = if magic {
        Box::new(zstd::Decoder::with_buffer(head).map_err(|e| Error::io("read", path, e))?)
    } else {
        Box::new(head)
    };
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| damaged(format!("not a tar: {e}")))?;
    let mut found = Found::new();
    let mut manifest = None;
    let mut count = 0u32;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("entry {count}: {e}")))?;
        count += 1;
        if count > ENTRIES_MAX + 1 {
            return Err(damaged(format!("more than {} entries", ENTRIES_MAX + 1)));
        }
        let name = entry
            .path()
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
            .ok_or_else(|| damaged(format!("entry {count}: a name that is not UTF-8")))?;
        let size = entry.size();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(damaged(format!("{name}: not a regular file")));
        }
        if found.contains_key(&name) || (name == MANIFEST_FILE && manifest.is_some()) {
            return Err(damaged(format!("{name}: repeated")));
        }
        if name == MANIFEST_FILE {
            if size > MANIFEST_BYTES_MAX {
                return Err(damaged(format!("{name}: {size} bytes, longer than a manifest can be")));
            }
            let mut bytes = Vec::new();
            entry
                .by_ref()
                .take(MANIFEST_BYTES_MAX)
                .read_to_end(&mut bytes)
                .map_err(|e| damaged(format!("{name}: {e}")))?;
            let m = Manifest::decode(&bytes).map_err(|why| damaged(format!("{name}: {why}")))?;
            manifest = Some(m);
            continue;
        }
        if !manifest::name_ok(&name) {
            return Err(damaged(format!("{name:?}: not a name a backup holds")));
        }
        if size > FILE_BYTES_MAX {
            return Err(damaged(format!("{name}: {size} bytes, over the limit")));
        }
        let digest =
            extract(disk, &mut entry, size, into.map(|d| d.join(&name)), progress).map_err(|e| match e {
                Error::Io { op: "read", source, .. } => damaged(format!("{name}: {source}")),
                other => other,
            })?;
        found.insert(name, (size, digest));
    }
    let manifest = manifest.ok_or_else(|| damaged(format!("no {MANIFEST_FILE} entry")))?;
    Ok((manifest, found))
}

/// Hashes one entry's bytes, writing them to `to` (a new file, synced) when given.
fn extract(
    disk: &Disk,
    entry: &mut impl Read,
    size: u64,
    to: Option<PathBuf>,
    progress: Option<&dyn Progress>,
) -> Result<[u8; 32]> {
    let out = match &to {
        Some(p) => {
            if let Some(parent) = p.parent().filter(|d| d.ends_with(SNAPSHOT_DIR) && !d.exists()) {
                disk.create_dir(parent)?;
            }
            Some((disk.create_new(p)?, p.as_path()))
        }
        None => None,
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_BYTES];
    let mut done = 0u64;
    let src = Path::new("tar entry");
    loop {
        let n = entry.read(&mut buf).map_err(|e| Error::io("read", src, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some((f, p)) = &out {
            disk.write_at(f, p, done, &buf[..n])?;
        }
        done += n as u64;
        advance(progress, n as u64);
    }
    if done != size {
        let e = io::Error::new(io::ErrorKind::UnexpectedEof, format!("{done} bytes, the header says {size}"));
        return Err(Error::io("read", src, e));
    }
    if let Some((f, p)) = &out {
        disk.sync_file(f, p)?;
    }
    Ok(hasher.finalize().into())
}

/// `BufRead::fill_buf` with the error named.
trait FillChecked {
    fn fill_buf_checked(&mut self, path: &Path) -> Result<&[u8]>;
}

impl<R: Read> FillChecked for BufReader<R> {
    fn fill_buf_checked(&mut self, path: &Path) -> Result<&[u8]> {
        io::BufRead::fill_buf(self).map_err(|e| Error::io("read", path, e))
    }
}
