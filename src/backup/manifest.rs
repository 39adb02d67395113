//! The backup manifest, `MANIFEST` (formats/backup.md): every file of a backup with its
//! size and SHA-256, the backup's seq, log start and store id, under a header CRC and a
//! trailing CRC. The decoder is hostile: every length and count is bounded and checked
//! against the bytes left before anything is allocated, and nothing panics.

use sha2::{Digest as _, Sha256};

use crate::header::HEADER_BYTES;
use crate::limits::SEQ_MAX;

/// The manifest's file name inside a backup (a directory, or the last entry of a tar).
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Manifest format version this build writes and reads.
pub const VERSION: u16 = 1;
const MAGIC: &[u8; 8] = b"WFBACKUP";
/// Most entries a manifest may list.
pub const ENTRIES_MAX: u32 = 1 << 16;
/// Longest entry name, in bytes.
pub const NAME_BYTES_MAX: usize = 128;
/// Largest file a manifest may list: a segment is at most `u32::MAX` bytes.
pub const FILE_BYTES_MAX: u64 = u32::MAX as u64;
/// Bytes of one entry besides its name: name length (2), size (8), SHA-256 (32).
const ENTRY_FIXED: usize = 2 + 8 + 32;
/// The largest manifest file: the header, `ENTRIES_MAX` entries of the longest name, the CRC.
pub const MANIFEST_BYTES_MAX: u64 =
    (HEADER_BYTES + ENTRIES_MAX as usize * (ENTRY_FIXED + NAME_BYTES_MAX) + 4) as u64;

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name relative to the store directory (`STORE`, `0000000001.seg`,
    /// `snapshots/snap-….wfsnap`, ...).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its content.
    pub sha256: [u8; 32],
}

/// A decoded manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The store's id (`STORE`).
    pub store_id: u64,
    /// The seq the backup is consistent as of: its log ends there.
    pub seq: u64,
    /// The first seq its log holds.
    pub log_start: u64,
    /// When the backup was taken, ns since the Unix epoch.
    pub created_ns: i64,
    /// The files, sorted by name, names unique.
    pub entries: Vec<Entry>,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of a digest, for messages and reports.
pub fn hex(d: &[u8; 32]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `name` is a name a backup may hold: `STORE`, `AUDIT`, a segment or index file
/// name, or `snapshots/` followed by a snapshot file name. Nothing else: no `..`, no
/// absolute path, no other directory, so a restore never writes outside its target.
pub fn name_ok(name: &str) -> bool {
    use crate::segment::{INDEX_EXT, SEGMENT_EXT, parse_file_name};
    if name == crate::meta::STORE_FILE || name == crate::audit::AUDIT_FILE {
        return true;
    }
    if parse_file_name(name, SEGMENT_EXT).is_some() || parse_file_name(name, INDEX_EXT).is_some() {
        return true;
    }
    match name.split_once('/') {
        Some((dir, file)) => {
            dir == crate::snapshot::SNAPSHOT_DIR && crate::snapshot::parse_name(file).is_some()
        }
        None => false,
    }
}

impl Manifest {
    /// The entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.binary_search_by(|e| e.name.as_str().cmp(name)).ok().map(|i| &self.entries[i])
    }

    /// Total bytes of the files listed.
    pub fn total_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The manifest's bytes. Entries are written sorted by name.
    pub fn encode(&self) -> Vec<u8> {
        let mut entries = self.entries.clone();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut h = [0u8; HEADER_BYTES];
        h[0..8].copy_from_slice(MAGIC);
        h[8..10].copy_from_slice(&VERSION.to_le_bytes());
        let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
        h[12..16].copy_from_slice(&count.to_le_bytes());
        h[16..24].copy_from_slice(&self.store_id.to_le_bytes());
        h[24..32].copy_from_slice(&self.seq.to_le_bytes());
        h[32..40].copy_from_slice(&self.log_start.to_le_bytes());
        h[40..48].copy_from_slice(&self.created_ns.to_le_bytes());
        let total: u64 = entries.iter().map(|e| e.size).sum();
        h[48..56].copy_from_slice(&total.to_le_bytes());
        let crc = crc32fast::hash(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        let mut out = h.to_vec();
        for e in &entries {
            let len = u16::try_from(e.name.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(e.name.as_bytes());
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&e.sha256);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a manifest; `Err` says what is wrong and where. Never panics, never
    /// allocates more than the input's size justifies.
    pub fn decode(b: &[u8]) -> Result<Manifest, String> {
        if (b.len() as u64) > MANIFEST_BYTES_MAX {
            return Err(format!("{} bytes, over the {MANIFEST_BYTES_MAX}-byte limit", b.len()));
        }
        if b.len() < HEADER_BYTES + 4 {
            return Err(format!("{} bytes: shorter than a header and its CRC", b.len()));
        }
        let (body, tail) = b.split_at(b.len() - 4);
        if crc32fast::hash(body) != u32_at(tail, 0)? {
            return Err(format!("trailing CRC mismatch (offset {})", b.len() - 4));
        }
        let h = &body[..HEADER_BYTES];
        if &h[0..8] != MAGIC {
            return Err("bad magic (not a wfstore backup manifest)".into());
        }
        if crc32fast::hash(&h[..60]) != u32_at(h, 60)? {
            return Err("header CRC mismatch".into());
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version != VERSION {
            return Err(format!("unknown manifest version {version}"));
        }
        if h[10..12] != [0, 0] || h[56..60] != [0, 0, 0, 0] {
            return Err("reserved header bytes are not zero".into());
        }
        let count = u32_at(h, 12)?;
        let store_id = u64_at(h, 16)?;
        let seq = u64_at(h, 24)?;
        let log_start = u64_at(h, 32)?;
        let created_ns = i64::from_le_bytes(bytes8(h, 40)?);
        let total = u64_at(h, 48)?;
        if count > ENTRIES_MAX {
            return Err(format!("{count} entries, over the limit of {ENTRIES_MAX}"));
        }
        if store_id == 0 {
            return Err("store id is 0".into());
        }
        if seq > SEQ_MAX || log_start == 0 || log_start > seq.saturating_add(1) {
            return Err(format!("seq {seq} and log start {log_start} are out of range"));
        }
        let mut rest = &body[HEADER_BYTES..];
        // Every entry takes at least ENTRY_FIXED + 1 bytes: the count cannot ask for more.
        let cap = (count as usize).min(rest.len() / (ENTRY_FIXED + 1));
        let mut entries: Vec<Entry> = Vec::with_capacity(cap);
        let mut sum: u64 = 0;
        for i in 0..count {
            let at = b.len() - 4 - rest.len();
            let len =
                usize::from(u16::from_le_bytes(bytes2(rest, 0).map_err(|e| format!("entry {i}: {e}"))?));
            if len == 0 || len > NAME_BYTES_MAX {
                return Err(format!(
                    "entry {i} (offset {at}): name length {len} out of 1..={NAME_BYTES_MAX}"
                ));
            }
            let need = ENTRY_FIXED + len;
            let Some(raw) = rest.get(..need) else {
                return Err(format!("entry {i} (offset {at}): cut short"));
            };
            let name = std::str::from_utf8(&raw[2..2 + len])
                .map_err(|_| format!("entry {i} (offset {at}): name is not UTF-8"))?;
            if !name_ok(name) {
                return Err(format!("entry {i} (offset {at}): {name:?} is not a name a backup holds"));
            }
            if entries.last().is_some_and(|p| p.name.as_str() >= name) {
                return Err(format!("entry {i} (offset {at}): {name:?} is out of order or repeated"));
            }
            let size = u64_at(raw, 2 + len)?;
            if size > FILE_BYTES_MAX {
                return Err(format!("entry {i} ({name}): size {size} over the {FILE_BYTES_MAX}-byte limit"));
            }
            let mut sha256 = [0u8; 32];
            sha256.copy_from_slice(&raw[2 + len + 8..need]);
            sum = sum.saturating_add(size);
            entries.push(Entry { name: name.to_owned(), size, sha256 });
            rest = &rest[need..];
        }
        if !rest.is_empty() {
            return Err(format!("{} bytes after the last entry", rest.len()));
        }
        if sum != total {
            return Err(format!("entries add up to {sum} bytes, the header says {total}"));
        }
        let m = Manifest { store_id, seq, log_start, created_ns, entries };
        if m.get(crate::meta::STORE_FILE).is_none() {
            return Err(format!("no {} entry", crate::meta::STORE_FILE));
        }
        if !m.entries.iter().any(|e| e.name.ends_with(".seg")) {
            return Err("no segment entry".into());
        }
        Ok(m)
    }
}

fn bytes2(b: &[u8], at: usize) -> Result<[u8; 2], String> {
    b.get(at..at + 2).and_then(|s| s.try_into().ok()).ok_or_else(|| "cut short".to_owned())
}

fn bytes8(b: &[u8], at: usize) -> Result<[u8; 8], String> {
    b.get(at..at + 8).and_then(|s| s.try_into().ok()).ok_or_else(|| "cut short".to_owned())
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| "cut short".to_owned())
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    bytes8(b, at).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            store_id: 0x1234,
            seq: 99,
            log_start: 1,
            created_ns: 1_790_000_000_000_000_000,
            entries: vec![
                Entry { name: "0000000001.seg".into(), size: 65536, sha256: sha256(b"a") },
                Entry { name: "0000000001.idx".into(), size: 300, sha256: sha256(b"b") },
                Entry { name: "STORE".into(), size: 8192, sha256: sha256(b"c") },
                Entry {
                    name: "snapshots/snap-00000000000000000050.wfsnap".into(),
                    size: 1000,
                    sha256: sha256(b"d"),
                },
            ],
        }
    }

    #[test]
    fn a_manifest_round_trips_sorted() {
        let m = sample();
        let back = Manifest::decode(&m.encode()).unwrap();
        assert_eq!(back.entries.len(), 4);
        assert_eq!(back.entries[0].name, "0000000001.idx");
        assert_eq!(back.get("STORE").unwrap().size, 8192);
        assert_eq!(back.total_bytes(), 65536 + 300 + 8192 + 1000);
        assert_eq!(back.encode(), m.encode());
    }

    #[test]
    fn every_flipped_bit_and_every_cut_is_refused() {
        let bytes = sample().encode();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(Manifest::decode(&b).is_err(), "bit {bit}");
        }
        for len in 0..bytes.len() {
            assert!(Manifest::decode(&bytes[..len]).is_err(), "cut at {len}");
        }
    }

    #[test]
    fn hostile_names_and_counts_are_refused() {
        for bad in ["../STORE", "/etc/passwd", "snapshots/../../x", "LOCK", "PURGE", "a.tmp", "quarantine/x"]
        {
            assert!(!name_ok(bad), "{bad}");
        }
        let mut m = sample();
        m.entries[0].name = "../0000000001.seg".into();
        assert!(Manifest::decode(&m.encode()).unwrap_err().contains("not a name"));
        // A count far beyond the bytes present allocates nothing and fails.
        let mut b = sample().encode();
        b[12..16].copy_from_slice(&ENTRIES_MAX.to_le_bytes());
        let crc = crc32fast::hash(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        let n = b.len() - 4;
        let crc = crc32fast::hash(&b[..n]);
        b[n..].copy_from_slice(&crc.to_le_bytes());
        assert!(Manifest::decode(&b).unwrap_err().contains("cut short"));
    }

    /// A poor man's fuzzer on the stable toolchain: mutated manifests, their CRCs fixed up
    /// half of the time so the mutations reach past them, never panic the decoder.
    #[test]
    fn mutated_manifests_never_panic() {
        let base = sample().encode();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..100_000 {
            let mut b = base.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(..b.len());
                b[i] = rng.u8(..);
            }
            if rng.u8(..4) == 0 {
                b.truncate(rng.usize(..=b.len()));
            }
            if rng.bool() && b.len() >= HEADER_BYTES + 4 {
                let crc = crc32fast::hash(&b[..60]);
                b[60..64].copy_from_slice(&crc.to_le_bytes());
                let n = b.len() - 4;
                let crc = crc32fast::hash(&b[..n]);
                b[n..].copy_from_slice(&crc.to_le_bytes());
            }
            crate::fuzzing::backup_manifest(&b);
        }
    }
}
