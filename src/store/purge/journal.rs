//! The `PURGE` journal (formats/purge.md): the content-free list of frames a purge rewrites,
//! published before the first rewrite so that a crash always finishes the purge.

use crate::audit::{self, Action, AuditRecord};
use crate::header::HEADER_BYTES;
use crate::limits::RECORD_BODY_BYTES_MAX;

/// The journal's name inside the store directory.
pub const PURGE_FILE: &str = "PURGE";
/// The most events one purge rewrites.
pub const PURGE_EVENTS_MAX: u64 = 1 << 24;
const MAGIC: &[u8; 8] = b"WFPURGE\0";
const VERSION: u16 = 1;
const ENTRY_BYTES: usize = 40;
const ENTRIES_AT: usize = HEADER_BYTES + audit::RECORD_BYTES;

/// The bytes of a journal of `entries` entries.
pub fn file_bytes(entries: u64) -> u64 {
    ENTRIES_AT as u64 + ENTRY_BYTES as u64 * entries + 4
}

/// The largest valid journal.
pub const PURGE_FILE_BYTES_MAX: u64 = ENTRIES_AT as u64 + ENTRY_BYTES as u64 * PURGE_EVENTS_MAX + 4;

/// One frame to rewrite: where it is and the header fields its tombstone keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The event's seq.
    pub seq: u64,
    /// The segment holding its frame.
    pub segment_no: u64,
    /// The frame's offset in that segment.
    pub offset: u32,
    /// The frame's body length.
    pub body_len: u32,
    /// Its timestamp.
    pub ts_ns: i64,
    /// Its durable lag.
    pub durable_lag: u32,
    /// Its batch word, purged bit clear.
    pub batch: u32,
}

/// A decoded journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// The store it belongs to.
    pub store_id: u64,
    /// The audit record the purge leaves.
    pub audit: AuditRecord,
    /// The frames, seq ascending.
    pub entries: Vec<Entry>,
}

impl Journal {
    /// The journal's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_BYTES];
        out[..8].copy_from_slice(MAGIC);
        out[8..10].copy_from_slice(&VERSION.to_le_bytes());
        out[16..24].copy_from_slice(&self.store_id.to_le_bytes());
        out[24..32].copy_from_slice(&(self.entries.len() as u64).to_le_bytes());
        let crc = crc32fast::hash(&out[..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&self.audit.encode());
        for e in &self.entries {
            out.extend_from_slice(&e.seq.to_le_bytes());
            out.extend_from_slice(&e.segment_no.to_le_bytes());
            out.extend_from_slice(&e.offset.to_le_bytes());
            out.extend_from_slice(&e.body_len.to_le_bytes());
            out.extend_from_slice(&e.ts_ns.to_le_bytes());
            out.extend_from_slice(&e.durable_lag.to_le_bytes());
            out.extend_from_slice(&e.batch.to_le_bytes());
        }
        let crc = crc32fast::hash(&out[HEADER_BYTES..]);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a journal of store `store_id`; says why it is not valid. Hostile input:
    /// the length is checked against the header's count before anything is allocated.
    pub fn decode(b: &[u8], store_id: u64) -> Result<Journal, String> {
        let header = b.get(..HEADER_BYTES).ok_or("shorter than its header")?;
        if crc32fast::hash(&header[..60]) != u32_at(header, 60) {
            return Err("header CRC mismatch".into());
        }
        if &header[..8] != MAGIC || u16::from_le_bytes([header[8], header[9]]) != VERSION {
            return Err("not a version-1 purge journal".into());
        }
        if header[10..16].iter().chain(&header[32..60]).any(|&x| x != 0) {
            return Err("reserved header bytes are not zero".into());
        }
        if u64_at(header, 16) != store_id {
            return Err("belongs to another store".into());
        }
        let n = u64_at(header, 24);
        if n > PURGE_EVENTS_MAX || b.len() as u64 != file_bytes(n) {
            return Err(format!("{} bytes for {n} entries", b.len()));
        }
        let body = &b[HEADER_BYTES..b.len() - 4];
        if crc32fast::hash(body) != u32_at(b, b.len() - 4) {
            return Err("body CRC mismatch".into());
        }
        let audit = AuditRecord::decode(&b[HEADER_BYTES..ENTRIES_AT])
            .map_err(|why| format!("audit record: {why}"))?;
        if audit.action != Action::Purge || audit.store_id != store_id {
            return Err("audit record is not this store's purge".into());
        }
        let entries = b[ENTRIES_AT..b.len() - 4].chunks_exact(ENTRY_BYTES).map(entry).collect::<Vec<_>>();
        check_entries(&entries)?;
        Ok(Journal { store_id, audit, entries })
    }
}

fn entry(c: &[u8]) -> Entry {
    Entry {
        seq: u64_at(c, 0),
        segment_no: u64_at(c, 8),
        offset: u32_at(c, 16),
        body_len: u32_at(c, 20),
        ts_ns: u64_at(c, 24) as i64,
        durable_lag: u32_at(c, 32),
        batch: u32_at(c, 36),
    }
}

fn check_entries(entries: &[Entry]) -> Result<(), String> {
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && entries[i - 1].seq >= e.seq {
            return Err(format!("entry {i}: seqs not ascending"));
        }
        if e.body_len == 0 || e.body_len > RECORD_BODY_BYTES_MAX || (e.offset as usize) < HEADER_BYTES {
            return Err(format!("entry {i}: frame of {} bytes at offset {}", e.body_len, e.offset));
        }
        if e.batch & (1 << 30) != 0 {
            return Err(format!("entry {i}: batch word has the purged bit"));
        }
    }
    Ok(())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::audit::Subject;

    fn sample() -> Journal {
        let mut audit = AuditRecord::new(Action::Purge, 9);
        audit.subject = Some(Subject::new(Subject::USER, "u-1"));
        let e = |seq, offset| Entry {
            seq,
            segment_no: 1,
            offset,
            body_len: 40,
            ts_ns: -5,
            durable_lag: 3,
            batch: 1 << 31,
        };
        Journal { store_id: 9, audit, entries: vec![e(2, 64), e(5, 200)] }
    }

    #[test]
    fn a_journal_round_trips_and_every_bit_flip_or_cut_is_refused() {
        let j = sample();
        let bytes = j.encode();
        assert_eq!(bytes.len() as u64, file_bytes(2));
        assert_eq!(Journal::decode(&bytes, 9), Ok(j));
        assert!(Journal::decode(&bytes, 8).is_err());
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(Journal::decode(&b, 9).is_err(), "bit {bit}");
        }
        for cut in 0..bytes.len() {
            assert!(Journal::decode(&bytes[..cut], 9).is_err(), "cut at {cut}");
        }
    }
}
