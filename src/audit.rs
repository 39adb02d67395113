//! The store's audit trail, `AUDIT` (formats/audit.md): one fixed-size, CRC-checked record
//! per lifecycle operation (purge, backup, restore, retention). Records are content-free: a
//! purge names its subject only by a salted hash, never by the id.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::disk::Disk;
use crate::error::{Error, IoContext, Result};
use crate::io_util;

/// The audit file's name inside the store directory.
pub const AUDIT_FILE: &str = "AUDIT";
/// Bytes of one record.
pub const RECORD_BYTES: usize = 128;
/// The largest `AUDIT` file read: 64 MiB, half a million records.
pub const AUDIT_BYTES_MAX: u64 = 64 << 20;
const MAGIC: &[u8; 8] = b"WFAUDIT\0";
/// Record format version this build writes.
pub const VERSION: u16 = 1;
const CRC_AT: usize = RECORD_BYTES - 4;

/// What an audit record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Action {
    /// Events of a user or session were replaced by tombstones.
    Purge,
    /// The store was backed up.
    Backup,
    /// The store was restored from a backup.
    Restore,
    /// Early segments were removed (retention).
    Retention,
}

impl Action {
    /// The name `audit_log.action` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Purge => "purge",
            Action::Backup => "backup",
            Action::Restore => "restore",
            Action::Retention => "retention",
        }
    }

    fn code(self) -> u16 {
        match self {
            Action::Purge => 1,
            Action::Backup => 2,
            Action::Restore => 3,
            Action::Retention => 4,
        }
    }

    fn from_code(code: u16) -> Option<Action> {
        Some(match code {
            1 => Action::Purge,
            2 => Action::Backup,
            3 => Action::Restore,
            4 => Action::Retention,
            _ => return None,
        })
    }
}

/// Whose data a purge removed, as a salted hash: `SHA-256(salt ‖ kind ‖ id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject {
    /// 1: a user id, 2: a session id.
    pub kind: u8,
    /// Random per record.
    pub salt: [u8; 16],
    /// The digest.
    pub hash: [u8; 32],
}

impl Subject {
    /// Kind byte of a user id.
    pub const USER: u8 = 1;
    /// Kind byte of a session id.
    pub const SESSION: u8 = 2;

    /// Hashes `id` of `kind` with a fresh random salt.
    pub fn new(kind: u8, id: &str) -> Subject {
        let mut salt = [0u8; 16];
        salt[..8].copy_from_slice(&io_util::random_u64().to_le_bytes());
        salt[8..].copy_from_slice(&io_util::random_u64().to_le_bytes());
        Subject { kind, salt, hash: Self::digest(kind, &salt, id) }
    }

    /// Whether this subject is `id` of `kind`: who knows an id can check it was purged.
    pub fn is(&self, kind: u8, id: &str) -> bool {
        self.kind == kind && Self::digest(kind, &self.salt, id) == self.hash
    }

    fn digest(kind: u8, salt: &[u8; 16], id: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(salt);
        h.update([kind]);
        h.update(id.as_bytes());
        h.finalize().into()
    }
}

/// One audit record. The seq fields' meaning depends on the action (formats/audit.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRecord {
    /// What happened.
    pub action: Action,
    /// The store it happened to.
    pub store_id: u64,
    /// When, ns since the Unix epoch.
    pub at_ns: i64,
    /// First seq concerned (0: none).
    pub seq_first: u64,
    /// Last seq concerned (0: none).
    pub seq_last: u64,
    /// Events concerned.
    pub events: u64,
    /// Bytes concerned (copied, freed).
    pub bytes: u64,
    /// A purge's subject.
    pub subject: Option<Subject>,
}

impl AuditRecord {
    /// A record of `action` now, with no seqs, counts or subject.
    pub fn new(action: Action, store_id: u64) -> AuditRecord {
        AuditRecord {
            action,
            store_id,
            at_ns: io_util::now_ns(),
            seq_first: 0,
            seq_last: 0,
            events: 0,
            bytes: 0,
            subject: None,
        }
    }

    /// The record's 128 bytes.
    pub fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        b[0..8].copy_from_slice(MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[10..12].copy_from_slice(&self.action.code().to_le_bytes());
        b[16..24].copy_from_slice(&self.store_id.to_le_bytes());
        b[24..32].copy_from_slice(&self.at_ns.to_le_bytes());
        b[32..40].copy_from_slice(&self.seq_first.to_le_bytes());
        b[40..48].copy_from_slice(&self.seq_last.to_le_bytes());
        b[48..56].copy_from_slice(&self.events.to_le_bytes());
        b[56..64].copy_from_slice(&self.bytes.to_le_bytes());
        if let Some(s) = &self.subject {
            b[64..80].copy_from_slice(&s.salt);
            b[80..112].copy_from_slice(&s.hash);
            b[112] = s.kind;
        }
        let crc = crc32fast::hash(&b[..CRC_AT]);
        b[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes one record; `Err` says why it is not valid.
    pub fn decode(b: &[u8]) -> std::result::Result<AuditRecord, &'static str> {
        let b: &[u8; RECORD_BYTES] = b.try_into().map_err(|_| "not 128 bytes")?;
        if crc32fast::hash(&b[..CRC_AT]) != u32::from_le_bytes(word(b, CRC_AT)) {
            return Err("CRC mismatch");
        }
        if &b[0..8] != MAGIC {
            return Err("bad magic");
        }
        if u16::from_le_bytes([b[8], b[9]]) != VERSION {
            return Err("unknown version");
        }
        let action = Action::from_code(u16::from_le_bytes([b[10], b[11]])).ok_or("unknown action")?;
        let subject = match b[112] {
            0 if b[64..113].iter().all(|&x| x == 0) => None,
            kind @ (Subject::USER | Subject::SESSION) => Some(Subject {
                kind,
                salt: b[64..80].try_into().map_err(|_| "salt")?,
                hash: b[80..112].try_into().map_err(|_| "hash")?,
            }),
            _ => return Err("bad subject"),
        };
        if b[12..16].iter().chain(&b[113..CRC_AT]).any(|&x| x != 0) {
            return Err("reserved bytes are not zero");
        }
        let u = |at| u64::from_le_bytes(dword(b, at));
        Ok(AuditRecord {
            action,
            store_id: u(16),
            at_ns: i64::from_le_bytes(dword(b, 24)),
            seq_first: u(32),
            seq_last: u(40),
            events: u(48),
            bytes: u(56),
            subject,
        })
    }
}

fn word(b: &[u8; RECORD_BYTES], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

fn dword(b: &[u8; RECORD_BYTES], at: usize) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    w
}

/// What `read` found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditLog {
    /// The valid records, in file order; `(index, record)`, index counting from 0.
    pub records: Vec<(u64, AuditRecord)>,
    /// Records that did not decode (index, why); a torn last one is one of them.
    pub damaged: Vec<(u64, &'static str)>,
}

/// Decodes every record of an `AUDIT` file's bytes. A partial last record (a torn append)
/// counts as damaged; nothing here panics on any input.
pub fn decode_all(bytes: &[u8]) -> AuditLog {
    let mut log = AuditLog::default();
    for (i, chunk) in bytes.chunks(RECORD_BYTES).enumerate() {
        let i = i as u64;
        match AuditRecord::decode(chunk) {
            Ok(r) => log.records.push((i, r)),
            Err(why) => log.damaged.push((i, why)),
        }
    }
    log
}

/// Reads `dir/AUDIT` (empty when there is none).
pub fn read(disk: &Disk, dir: &Path) -> Result<AuditLog> {
    let path = dir.join(AUDIT_FILE);
    if !path.exists() {
        return Ok(AuditLog::default());
    }
    Ok(decode_all(&disk.read_bounded(&path, AUDIT_BYTES_MAX)?))
}

/// Appends `record` to `dir/AUDIT` and makes it durable. Appenders in several processes
/// (a writer's purge, another process's backup) take an exclusive `flock` on the file, so
/// records never overlap; a torn record left by a crash is overwritten by the next append.
pub fn append(disk: &Disk, dir: &Path, record: &AuditRecord) -> Result<()> {
    let path = dir.join(AUDIT_FILE);
    let (file, created) = open_for_append(disk, &path)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| Error::io("lock", &path, e.into()))?;
    let len = file.metadata().ctx("stat", &path)?.len();
    if len > AUDIT_BYTES_MAX {
        return Err(Error::corrupt(&path, len, None, format!("longer than {AUDIT_BYTES_MAX} bytes")));
    }
    let at = len - len % RECORD_BYTES as u64;
    disk.write_at(&file, &path, at, &record.encode())?;
    disk.sync_file(&file, &path)?;
    if created {
        disk.sync_dir(dir)?;
    }
    Ok(())
}

/// Opens `AUDIT`, creating it when missing; says whether it was created. Two processes
/// may race to create it: the loser opens the winner's file.
fn open_for_append(disk: &Disk, path: &Path) -> Result<(std::fs::File, bool)> {
    if !path.exists() {
        match disk.create_new(path) {
            Ok(f) => return Ok((f, true)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok((disk.open_rw(path)?, false))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sample() -> AuditRecord {
        AuditRecord {
            action: Action::Purge,
            store_id: 7,
            at_ns: 1_790_000_000_000_000_000,
            seq_first: 3,
            seq_last: 9,
            events: 4,
            bytes: 0,
            subject: Some(Subject::new(Subject::USER, "u-1")),
        }
    }

    #[test]
    fn a_record_round_trips_and_names_its_subject_only_by_hash() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(AuditRecord::decode(&bytes), Ok(r));
        assert!(r.subject.unwrap().is(Subject::USER, "u-1"));
        assert!(!r.subject.unwrap().is(Subject::USER, "u-2"));
        assert!(!r.subject.unwrap().is(Subject::SESSION, "u-1"));
        assert!(!bytes.windows(3).any(|w| w == b"u-1"));
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let bytes = sample().encode();
        for bit in 0..RECORD_BYTES * 8 {
            let mut b = bytes;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(AuditRecord::decode(&b).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn a_torn_append_is_damage_and_the_next_append_overwrites_it() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::default();
        append(&disk, dir.path(), &sample()).unwrap();
        let path = dir.path().join(AUDIT_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&sample().encode()[..50]);
        std::fs::write(&path, &bytes).unwrap();
        let log = read(&disk, dir.path()).unwrap();
        assert_eq!((log.records.len(), log.damaged), (1, vec![(1, "not 128 bytes")]));
        append(&disk, dir.path(), &sample()).unwrap();
        let log = read(&disk, dir.path()).unwrap();
        assert_eq!((log.records.len(), log.damaged.len()), (2, 0));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 * RECORD_BYTES as u64);
    }
}
