//! What a purge in the store's `AUDIT` means for an export made before it, whatever the
//! database: which exported events are gone, and which sessions and users they touched.
//!
//! Among the exported seqs in the purge's range, an event is gone when the store no longer
//! returns it (a tombstone; `store.iter` skips them) or when its user or session id matches
//! the purge's salted subject hash (which still finds it once retention has removed its
//! segment).

use std::collections::{BTreeSet, HashMap};

use crate::audit::{AuditRecord, Subject};
use crate::error::Result;
use crate::store::Store;

/// The exported events a purge removed, with their sessions and users.
#[derive(Debug, Default)]
pub struct Doomed {
    pub seqs: Vec<u64>,
    pub sessions: BTreeSet<String>,
    pub users: BTreeSet<String>,
}

/// The seqs among those exported (up to `exported`) where `purge` may have removed events;
/// `None` when there are none.
pub fn range(purge: &AuditRecord, exported: u64) -> Option<(u64, u64)> {
    let (lo, hi) = (purge.seq_first.max(1), purge.seq_last.min(exported));
    (purge.events > 0 && lo <= hi).then_some((lo, hi))
}

/// Which of the exported `candidates` (seq, session, user; seqs in `lo..=hi`) `purge`
/// removed.
pub fn doomed(
    store: &Store,
    purge: &AuditRecord,
    (lo, hi): (u64, u64),
    candidates: Vec<(u64, String, String)>,
) -> Result<Doomed> {
    // Tombstones: seqs of the log (from its start) that the store no longer returns.
    let start = store.first_seq().max(lo);
    let mut present = BTreeSet::new();
    if start >= 1 && start <= hi {
        for record in store.iter(start..=hi) {
            present.insert(record?.seq);
        }
    }
    let mut matches: HashMap<(u8, String), bool> = HashMap::new();
    let mut is_subject = |kind: u8, id: &str| {
        *matches.entry((kind, id.to_owned())).or_insert_with(|| purge.subject.is_some_and(|s| s.is(kind, id)))
    };
    let mut out = Doomed::default();
    for (seq, session, user) in candidates {
        let tombstone = seq >= start && !present.contains(&seq);
        if tombstone || is_subject(Subject::USER, &user) || is_subject(Subject::SESSION, &session) {
            out.seqs.push(seq);
            out.sessions.insert(session);
            out.users.insert(user);
        }
    }
    Ok(out)
}

/// The record's CRC, as its last 4 bytes hold it: with its index, the key that imports it
/// once.
pub fn crc(r: &AuditRecord) -> u32 {
    let b = r.encode();
    u32::from_le_bytes([b[124], b[125], b[126], b[127]])
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `audit_log.subject_kind` of a purge's subject.
pub fn subject_kind(s: &Subject) -> &'static str {
    if s.kind == Subject::USER { "user" } else { "session" }
}
