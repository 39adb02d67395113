//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the corpus replay test, so
//! the fuzzers and `cargo test` exercise the very same code. Each takes arbitrary bytes and
//! must never panic, hang or allocate without bound; each checks what invariants it can.

use crate::event::json;
use crate::frame::{self, Decoded, Layout};
use crate::index::file::{self as index_file, IndexKey};
use crate::segment::scan::Chain;
use crate::segment::{self, SegmentHeader};
use crate::{codec, header, meta};

/// The frame decoder at every offset, keyed by the first 8 bytes as salt.
pub fn frame_decode(data: &[u8]) {
    let Some((salt, rest)) = data.split_first_chunk::<8>() else { return };
    let salt = u64::from_le_bytes(*salt);
    for at in 0..=rest.len() {
        for layout in [Layout::V1, Layout::V2] {
            if let Decoded::Frame(f) = frame::decode(rest, at, salt, layout) {
                assert!(at + f.len() <= rest.len(), "frame runs past its input");
                assert!(f.position() < 1 << 30, "reserved bit accepted");
            }
        }
    }
}

/// Recovery's view of a segment: header decode, then the scan that finds the valid tail
/// and tells a torn tail from corruption, building the index as it goes.
pub fn segment_recovery(data: &[u8]) {
    let Ok(h) = SegmentHeader::decode(data) else {
        // Also scan headerless bytes, as if they followed a valid header.
        let fake = SegmentHeader {
            version: segment::header::VERSION,
            flags: 0,
            store_id: 1,
            salt: 0,
            segment_no: 1,
            base_seq: 1,
            segment_bytes: 0,
        };
        check_scan(data, &fake);
        return;
    };
    check_scan(data, &h);
}

fn check_scan(data: &[u8], h: &SegmentHeader) {
    let path = std::path::Path::new("fuzz.seg");
    let chain = Chain::start(h.base_seq);
    if let Ok((scan, index)) = segment::scan_and_index(data, h, path, chain, true, segment::Decode::Session) {
        assert!(scan.end <= data.len().max(header::HEADER_BYTES));
        assert_eq!(index.records, scan.records);
        let encoded = index_file::encode(IndexKey { store_id: 1, salt: h.salt, segment_no: 1 }, &index);
        let back = index_file::decode(&encoded, IndexKey { store_id: 1, salt: h.salt, segment_no: 1 });
        assert_eq!(back.as_ref(), Ok(&index), "index round trip");
    }
}

/// The sidecar index decoder, and the other fixed-layout headers.
pub fn index_file(data: &[u8]) {
    let key = IndexKey { store_id: 1, salt: 2, segment_no: 3 };
    if let Ok(ix) = index_file::decode(data, key) {
        let again = index_file::decode(&index_file::encode(key, &ix), key);
        assert_eq!(again.as_ref(), Ok(&ix), "index round trip");
    }
    let _ = meta::StoreFile::decode(data, std::path::Path::new("STORE"));
    let _ = index_file::decode_header(data);
}

/// The record body decoder (bincode with its size limit).
pub fn record_body(data: &[u8]) {
    if let Ok(event) = codec::decode(0, data) {
        // Varints may arrive in a longer form than the encoder writes: compare values.
        let mut buf = vec![0u8; data.len() + 64];
        let n = codec::encode_into(&event, &mut buf).unwrap_or(0);
        assert_eq!(codec::decode(0, &buf[..n]).as_ref(), Ok(&event), "body round trip");
    }
    // The scan's hand session reader accepts only what bincode's accepts, reading the same.
    if let Ok(s) = codec::session_view(data) {
        assert_eq!(codec::decode_session_by_bincode(data), Ok(s), "session reader");
    }
    // Replay's hand decoder accepts exactly what bincode accepts, and reads the same values.
    match (codec::decode_view(data), codec::decode(0, data)) {
        (Ok(v), Ok(e)) => {
            assert_eq!((v.frame, v.session, v.user), (e.frame, e.session.as_str(), e.user.as_str()));
            assert_eq!(v.body, e.body.view(), "view of the body");
        }
        (Err(()), Err(_)) => {}
        (v, e) => panic!("replay decoder {v:?} but bincode {e:?}"),
    }
}

/// The snapshot decoder (bounded zstd) and the state decoder behind it.
pub fn snapshot_file(data: &[u8]) {
    if let Ok(snap) = crate::snapshot::file::decode(data, 1) {
        assert!(snap.state.len() <= crate::limits::STATE_BYTES_MAX);
        state_bytes(&snap.state);
    }
    state_bytes(data);
}

fn state_bytes(data: &[u8]) {
    if let Ok(state) = codec::decode_state(data) {
        let again = codec::decode_state(&codec::encode_state(&state));
        assert_eq!(again.as_ref(), Ok(&state), "state round trip");
    }
}

/// The JSON Lines event parser, on any bytes that are UTF-8.
pub fn json_line(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(event) = json::parse_line(line, 0) {
        let again = json::parse_line(&json::to_json_line(1, &event), 0);
        assert_eq!(again.as_ref(), Ok(&event), "JSON round trip");
    }
}

/// Index validation (`segment::check_index`): the input is split into a segment's bytes and
/// an index file's; whatever they hold, checking must not panic, and an index that passes
/// must lead every read to the right frame.
pub fn index_check(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else { return };
    let at = (usize::from(split) * rest.len() / 256).min(rest.len());
    let (seg, idx) = rest.split_at(at);
    let Ok(h) = SegmentHeader::decode(seg) else { return };
    let key = IndexKey { store_id: h.store_id, salt: h.salt, segment_no: h.segment_no };
    let Ok(ix) = index_file::decode(idx, key) else { return };
    if segment::check_index(seg, &h, &ix, ix.next_seq()).is_err() {
        return;
    }
    for (k, e) in ix.sparse().iter().enumerate() {
        let seq = ix.base_seq + k as u64 * crate::index::SPARSE_EVERY;
        let Decoded::Frame(f) = frame::decode(seg, e.offset as usize, h.salt, h.layout()) else {
            panic!("a checked index's sparse entry {k} points at no frame");
        };
        assert_eq!(f.seq, seq, "a checked index's sparse entry {k} points at the wrong frame");
    }
}

/// The store against a model: a random sequence of operations (appends, batches, streamed
/// batches, flushes, snapshots, a process crash, a power loss, reopen, reads) decoded from
/// the input, checked after each against a `Vec` of what was committed.
#[cfg(feature = "faultsim")]
pub fn store_model(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!("wfstore-fuzz-model-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    model::run(&dir, data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "faultsim")]
mod model {
    use std::path::Path;
    use std::sync::Arc;

    use crate::disk::Disk;
    use crate::faultsim::{crash, recorder::Recorder, workload::event};
    use crate::store::{CreateOptions, Durability, OpenOptions, Store};

    const SEED: u64 = 7;

    /// What the model knows: events 1..=committed were committed; 1..=durable were durable.
    struct Model {
        committed: u64,
        durable: u64,
    }

    fn opts(disk: Disk, durability: Durability) -> OpenOptions {
        OpenOptions { durability, snapshots: None, disk, ..OpenOptions::default() }
    }

    pub fn run(dir: &Path, data: &[u8]) {
        let store_dir = dir.join("s");
        let create = CreateOptions { segment_bytes: 64 << 10, ..CreateOptions::default() };
        if Store::create(&store_dir, &create).is_err() {
            return;
        }
        let mut m = Model { committed: 0, durable: 0 };
        let Ok(rec) = Recorder::new(&store_dir) else { return };
        let rec = Arc::new(rec);
        let durability =
            [Durability::None, Durability::Always][usize::from(data.first().copied().unwrap_or(0) & 1)];
        let open = || {
            let s = Store::open(&store_dir, &opts(Disk::hooked(rec.clone()), durability)).ok()?;
            rec.set_probe(Box::new(s.durable_probe()));
            Some(s)
        };
        let mut store = open();
        for (i, op) in data.iter().enumerate().skip(1) {
            let Some(s) = store.as_ref() else { return };
            let n = u64::from(op >> 3) + 1;
            match op & 7 {
                0 | 1 => append(s, &mut m, n, false),
                2 => append(s, &mut m, n, true),
                3 => {
                    assert!(s.flush().is_ok(), "flush failed");
                    m.durable = m.committed;
                }
                4 if m.committed > 0 => {
                    assert!(s.snapshot_now(2).is_ok(), "snapshot failed");
                    m.durable = m.committed;
                }
                5 => {
                    // A process crash: the page cache (the files as they are now) survives.
                    let copy = dir.join("crash");
                    let _ = std::fs::remove_dir_all(&copy);
                    if crate::faultsim::campaign::copy_tree(&store_dir, &copy).is_err() {
                        return;
                    }
                    check(&copy, m.committed, m.committed);
                }
                6 => {
                    // A power loss now: a crash state of the recorder's capture.
                    if rec.capture_now("fuzz").is_err() {
                        return;
                    }
                    let Some(cap) = rec.take_captures().pop() else { return };
                    let mut rng = fastrand::Rng::with_seed(i as u64);
                    let state = crash::crash_state(&cap, &mut rng);
                    let copy = dir.join("power");
                    let _ = std::fs::remove_dir_all(&copy);
                    if std::fs::create_dir_all(&copy).is_err() || crash::materialize(&state, &copy).is_err() {
                        return;
                    }
                    assert!(cap.durable_seq >= m.durable, "the store forgot what it said was durable");
                    check(&copy, cap.durable_seq, m.committed);
                }
                _ => {
                    drop(store.take());
                    store = open();
                    let s = store.as_ref().unwrap_or_else(|| panic!("reopen after close failed"));
                    assert_eq!(s.last_seq(), m.committed, "a clean reopen lost or invented events");
                    m.durable = m.committed;
                }
            }
        }
    }

    fn append(s: &Store, m: &mut Model, n: u64, streamed: bool) {
        let events: Vec<_> = (m.committed + 1..=m.committed + n).map(|q| event(SEED, q)).collect();
        let range = if streamed {
            s.batch().and_then(|mut b| b.push(&events).and_then(|()| b.commit()))
        } else {
            s.append_batch(&events)
        };
        assert_eq!(range.ok(), Some(m.committed + 1..m.committed + n + 1), "append");
        m.committed += n;
    }

    /// The store in `dir` recovers to between `at_least` and `at_most`, every event intact.
    fn check(dir: &Path, at_least: u64, at_most: u64) {
        let store = Store::open(dir, &OpenOptions { snapshots: None, ..OpenOptions::default() })
            .unwrap_or_else(|e| panic!("recovery failed: {e}"));
        let c = store.last_seq();
        assert!(c >= at_least && c <= at_most, "recovered to {c}, expected {at_least}..={at_most}");
        for (i, r) in store.iter(1..=c).enumerate() {
            let r = r.unwrap_or_else(|e| panic!("read: {e}"));
            assert_eq!((r.seq, &r.event), (i as u64 + 1, &event(SEED, i as u64 + 1)), "event");
        }
    }
}

/// `AUDIT` bytes: decoding never panics, and every record that decodes re-encodes to the
/// very bytes it came from.
pub fn audit_file(data: &[u8]) {
    let log = crate::audit::decode_all(data);
    for (i, r) in &log.records {
        let at = usize::try_from(*i).unwrap_or(usize::MAX).saturating_mul(crate::audit::RECORD_BYTES);
        assert_eq!(data.get(at..at + crate::audit::RECORD_BYTES), Some(&r.encode()[..]), "record {i}");
    }
}

/// `PURGE` bytes, decoded for the store id its header names (so the fuzzer gets past that
/// check): never panics, and a journal that decodes re-encodes to the same bytes.
pub fn purge_journal(data: &[u8]) {
    use crate::store::purge::journal::Journal;
    let mut id = [0u8; 8];
    if let Some(b) = data.get(16..24) {
        id.copy_from_slice(b);
    }
    if let Ok(j) = Journal::decode(data, u64::from_le_bytes(id)) {
        assert_eq!(j.encode(), data);
    }
}

/// A `PURGE` file's entries as (seq, segment, offset, body length), or why it does not
/// decode: for the test that the seeds follow formats/purge.md.
pub fn purge_journal_entries(data: &[u8], store_id: u64) -> Result<Vec<(u64, u64, u32, u32)>, String> {
    let j = crate::store::purge::journal::Journal::decode(data, store_id)?;
    Ok(j.entries.iter().map(|e| (e.seq, e.segment_no, e.offset, e.body_len)).collect())
}

/// `MANIFEST` bytes (formats/backup.md): never panics, never allocates past the input's
/// size; a manifest that decodes re-encodes to the same bytes, and names only files a
/// backup holds.
pub fn backup_manifest(data: &[u8]) {
    use crate::backup::manifest::{Manifest, name_ok};
    if let Ok(m) = Manifest::decode(data) {
        assert_eq!(m.encode(), data, "re-encodes to the same bytes");
        assert!(m.entries.iter().all(|e| name_ok(&e.name)), "a name a backup never holds");
        assert!(m.entries.windows(2).all(|w| w[0].name < w[1].name), "sorted and unique");
    }
}

/// `export postgres`'s reading of what a user gives it: a connection string (the first
/// line) and a password file (the rest). Never panics; the server's description does not
/// depend on the password.
#[cfg(feature = "postgres")]
pub fn conninfo(data: &[u8]) {
    use crate::export::postgres::conninfo;
    struct NoEnv;
    impl conninfo::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }
    let text = String::from_utf8_lossy(data);
    let (conn, passfile) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(mut c) = conninfo::config(conn, &NoEnv) else { return };
    if let Some(p) = conninfo::passfile_lookup(passfile, &c) {
        c.password(p);
    }
    // What describes the server does not depend on the password at all.
    let mut other = c.clone();
    other.password("another password");
    assert_eq!(conninfo::describe(&c), conninfo::describe(&other), "the description shows the password");
}
