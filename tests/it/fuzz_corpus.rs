//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same functions the
//! cargo-fuzz targets call, on the stable toolchain. `WFSTORE_WRITE_CORPUS=1` regenerates the
//! seed files from a real store first.

use std::path::{Path, PathBuf};

use wfstore::fuzzing;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

fn replay(target: &str, f: fn(&[u8])) {
    let dir = corpus(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        f(&std::fs::read(&path).unwrap());
        n += 1;
    }
    assert!(n >= 3, "{} has only {n} seeds", dir.display());
}

#[test]
fn replay_committed_corpus() {
    if std::env::var_os("WFSTORE_WRITE_CORPUS").is_some() {
        write_seeds();
    }
    replay("frame_decode", fuzzing::frame_decode);
    replay("segment_recovery", fuzzing::segment_recovery);
    replay("index_file", fuzzing::index_file);
    replay("record_body", fuzzing::record_body);
    replay("json_line", fuzzing::json_line);
    replay("snapshot_file", fuzzing::snapshot_file);
    replay("index_check", fuzzing::index_check);
    replay("store_model", fuzzing::store_model);
    replay("audit_file", fuzzing::audit_file);
    replay("purge_journal", fuzzing::purge_journal);
    replay("backup_manifest", fuzzing::backup_manifest);
    replay("conninfo", fuzzing::conninfo);
}

fn write_seeds() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::store_with(dir.path(), 1200, crate::util::SMALL_SEGMENT);
    let seg = std::fs::read(dir.path().join("0000000001.seg")).unwrap();
    let frames = crate::util::frame_offsets(&dir.path().join("0000000001.seg"));
    let end = frames[4].0;
    let salt = seg[24..32].to_vec();
    let put = |target: &str, name: &str, bytes: &[u8]| {
        std::fs::create_dir_all(corpus(target)).unwrap();
        std::fs::write(corpus(target).join(name), bytes).unwrap();
    };
    let head = &seg[..end + 64];
    put("segment_recovery", "four-frames", head);
    put("segment_recovery", "torn", &seg[..end - 7]);
    let mut flipped = head.to_vec();
    flipped[frames[1].0 + 30] ^= 4;
    put("segment_recovery", "mid-flip", &flipped);
    put("frame_decode", "frames", &[&salt[..], &seg[64..end]].concat());
    put("frame_decode", "one", &[&salt[..], &seg[64..frames[1].0]].concat());
    put("frame_decode", "huge-len", &[&salt[..], &u32::MAX.to_le_bytes(), &[0; 30]].concat());
    let idx = std::fs::read(dir.path().join("0000000001.idx")).unwrap();
    put("index_file", "real", &idx);
    put("index_file", "cut", &idx[..idx.len() / 2]);
    put("index_file", "store", &std::fs::read(dir.path().join("STORE")).unwrap());
    // index_check: one split byte, then a segment and its index, split where it says.
    let split = u8::try_from(seg.len() * 256 / (seg.len() + idx.len())).unwrap_or(255);
    let pair = [&[split][..], &seg[..], &idx[..]].concat();
    put("index_check", "real", &pair);
    let mut moved = pair.clone();
    let at = 1 + seg.len() + 64 + 4 + 12;
    moved[at] ^= 1;
    put("index_check", "moved-sparse-entry", &moved);
    put("index_check", "cut", &pair[..pair.len() - 9]);
    // store_model: operation bytes (low 3 bits the operation, high 5 the size).
    put("store_model", "appends-crash", &[0, 0x40, 0x41, 0xF8, 5, 0x42, 7, 0x10, 5]);
    put("store_model", "always-power-loss", &[1, 0xF8, 0xFA, 3, 0x22, 6, 0xF9, 6, 7, 6]);
    put(
        "store_model",
        "rolls",
        &[0, 0xF8, 0xF8, 0xF8, 0xF8, 0xF8, 0xF8, 0xF8, 0xF8, 0xF8, 0xF8, 4, 0xF8, 6, 5, 7],
    );
    for (i, &(at, len)) in frames.iter().take(4).enumerate() {
        put("record_body", &format!("body-{i}"), &seg[at + 32..at + len]);
    }
    let events: Vec<_> =
        wfstore::sim::Simulator::new(wfstore::sim::SimConfig { frames: 60, ..Default::default() })
            .flatten()
            .collect();
    let state =
        wfstore::state::EnergyState::replay(events.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)));
    let snap = wfstore::snapshot::file::Snapshot {
        seq: state.last_seq,
        bind: wfstore::snapshot::file::Binding { salt: 1, crc: 2 },
        state_hash: state.hash(),
        state: wfstore::codec::encode_state(&state),
    };
    let bytes = wfstore::snapshot::file::encode(1, &snap).unwrap();
    put("snapshot_file", "sim-60-frames", &bytes);
    put("snapshot_file", "cut", &bytes[..bytes.len() - 9]);
    put("snapshot_file", "state-bytes", &snap.state);
    let sim = wfstore::sim::Simulator::new(wfstore::sim::SimConfig { frames: 300, ..Default::default() });
    let mut seen = std::collections::BTreeSet::new();
    for e in sim.flatten() {
        if seen.insert(e.event_type()) {
            let line = wfstore::event::to_json_line(seen.len() as u64, &e);
            put("json_line", e.event_type().as_str(), line.as_bytes());
        }
    }
}

/// The `AUDIT` and `PURGE` seeds were written by hand from formats/audit.md and
/// formats/purge.md (with zlib's CRC-32): the code reads them as the pages say.
#[test]
fn the_lifecycle_seeds_follow_their_format_pages() {
    let audit =
        wfstore::audit::decode_all(&std::fs::read(corpus("audit_file").join("three_records")).unwrap());
    let actions: Vec<&str> = audit.records.iter().map(|(_, r)| r.action.as_str()).collect();
    assert_eq!((actions, audit.damaged.len()), (vec!["purge", "backup", "retention"], 0));
    let purge = &audit.records[0].1;
    assert_eq!((purge.store_id, purge.seq_first, purge.seq_last, purge.events), (7, 3, 9, 4));
    assert_eq!(purge.subject.map(|s| s.kind), Some(wfstore::audit::Subject::USER));
    let torn = wfstore::audit::decode_all(&std::fs::read(corpus("audit_file").join("torn_last")).unwrap());
    assert_eq!((torn.records.len(), torn.damaged), (1, vec![(1, "not 128 bytes")]));
    let bytes = std::fs::read(corpus("purge_journal").join("two_entries")).unwrap();
    assert_eq!(fuzzing::purge_journal_entries(&bytes, 9), Ok(vec![(2, 1, 64, 40), (5, 1, 200, 33)]));
    let cut = std::fs::read(corpus("purge_journal").join("cut")).unwrap();
    assert!(fuzzing::purge_journal_entries(&cut, 9).is_err());
}

/// The `MANIFEST` seeds were written by hand (Python, zlib's CRC-32, hashlib's SHA-256)
/// from formats/backup.md: the code reads them as the page says.
#[test]
fn the_backup_manifest_seeds_follow_their_format_page() {
    use wfstore::backup::manifest::{Manifest, sha256};
    let read = |name: &str| std::fs::read(corpus("backup_manifest").join(name)).unwrap();
    let m = Manifest::decode(&read("two_entries")).unwrap();
    assert_eq!(
        (m.store_id, m.seq, m.log_start, m.created_ns),
        (0x1122_3344_5566_7788, 5, 1, 1_790_000_000_000_000_000)
    );
    let names: Vec<(&str, u64)> = m.entries.iter().map(|e| (e.name.as_str(), e.size)).collect();
    assert_eq!(names, vec![("0000000001.seg", 65536), ("STORE", 8192)]);
    assert_eq!(m.get("STORE").unwrap().sha256, sha256(b"store"));
    let m = Manifest::decode(&read("with_snapshot")).unwrap();
    assert_eq!((m.seq, m.entries.len()), (600, 6));
    assert!(m.get("snapshots/snap-00000000000000000004.wfsnap").is_some());
    assert!(Manifest::decode(&read("flipped_name")).unwrap_err().contains("CRC"));
    assert!(Manifest::decode(&read("huge_count")).unwrap_err().contains("cut short"));
    assert!(Manifest::decode(&read("traversal")).unwrap_err().contains("not a name"));
}
