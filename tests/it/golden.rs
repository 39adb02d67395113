//! Golden bytes: the layouts of formats/ built by hand from the spec tables, compared with
//! what the code writes. If one changes without the other, this fails.

use wfstore::codec;
use wfstore::event::body::{
    AiModelChange, AiOutput, EnergyAmplification, EnergyUpdate, EventBody, SessionEnd, SessionStart,
    SystemHealth, SystemShutdown,
};
use wfstore::event::{Energy, Event, Id, Sha256Hex};
use wfstore::frame::{self, Decoded, Layout, SaltKey, Stamp};
use wfstore::index::SegmentIndex;
use wfstore::index::file::{self, IndexKey};
use wfstore::meta::{Marks, StoreFile, StoreMeta, encode_copy, encode_file};
use wfstore::segment::SegmentHeader;
use wfstore::snapshot::file::{Binding, Snapshot};

fn event(body: EventBody) -> Event {
    Event {
        ts_ns: 1000,
        frame: 7,
        session: Id::try_from("s").unwrap(),
        user: Id::try_from("u").unwrap(),
        body,
    }
}

fn encode(e: &Event) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = codec::encode_into(e, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// A 64-byte header: magic, version, fields, CRC of bytes 0..60 at 60.
fn header(magic: &[u8; 8], version: u16, fields: &[(usize, &[u8])]) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..8].copy_from_slice(magic);
    h[8..10].copy_from_slice(&version.to_le_bytes());
    for (at, bytes) in fields {
        h[*at..at + bytes.len()].copy_from_slice(bytes);
    }
    let crc = crc32fast::hash(&h[..60]);
    h[60..].copy_from_slice(&crc.to_le_bytes());
    h
}

#[test]
fn record_body() {
    let body = encode(&event(EventBody::SessionEnd(SessionEnd { reason: "ok".into() })));
    // version 1, frame 7, "s", "u", variant 1 (session.end), "ok".
    assert_eq!(body, [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x01, 0x02, b'o', b'k']);
    let e = event(EventBody::EnergyUpdate(EnergyUpdate {
        model: "m".into(),
        tokens: 300,
        delta: Energy::from_micros(-2),
    }));
    // variant 5 (energy.update), "m", tokens 300 = 251 marker + u16 LE, delta -2 zig-zag = 3.
    assert_eq!(encode(&e), [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x05, 0x01, b'm', 251, 0x2c, 0x01, 0x03]);
    assert_eq!(codec::decode(1000, &encode(&e)).unwrap(), e);
}

#[test]
fn record_body_with_every_field_type() {
    // A raw u8, varints with each marker, bool, Option, a sequence of strings, a hash and
    // zig-zag i64s: every encoding formats/record.md lists.
    let health =
        event(EventBody::SystemHealth(SystemHealth { cpu_pct: 250, mem_mb: 70_000, frame_time_us: 7 }));
    assert_eq!(
        encode(&health),
        [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x04, 250, 252, 0x70, 0x11, 0x01, 0x00, 0x07],
        "cpu_pct is one raw byte even at 250; mem_mb 70,000 is marker 252 + u32"
    );
    let shutdown = event(EventBody::SystemShutdown(SystemShutdown { clean: true }));
    assert_eq!(encode(&shutdown), [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x03, 0x01]);
    let start = event(EventBody::SessionStart(SessionStart {
        app_version: "v".into(),
        models: vec!["a".into(), "b".into()],
    }));
    assert_eq!(
        encode(&start),
        [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x00, 0x01, b'v', 0x02, 0x01, b'a', 0x01, b'b']
    );
    let change = event(EventBody::AiModelChange(AiModelChange { from: None, to: "m".into() }));
    assert_eq!(encode(&change), [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x0C, 0x00, 0x01, b'm']);
    let change = event(EventBody::AiModelChange(AiModelChange { from: Some("x".into()), to: "m".into() }));
    assert_eq!(encode(&change), [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x0C, 0x01, 0x01, b'x', 0x01, b'm']);
    let output = event(EventBody::AiOutput(AiOutput {
        model: "m".into(),
        tokens: 1,
        latency_us: 1 << 40,
        content_hash: Sha256Hex::from_bytes([0xAB; 32]),
        content: None,
    }));
    let mut want = vec![0x01, 0x07, 0x01, b's', 0x01, b'u', 0x0B, 0x01, b'm', 0x01, 253];
    want.extend_from_slice(&(1u64 << 40).to_le_bytes());
    want.push(32);
    want.extend_from_slice(&[0xAB; 32]);
    want.push(0x00);
    assert_eq!(encode(&output), want, "u64 above u32 is marker 253 + 8 bytes; the hash is length 32 + bytes");
    let amp = event(EventBody::EnergyAmplification(EnergyAmplification {
        factor: Energy::from_micros(1_500_000),
        delta: Energy::from_micros(-300),
    }));
    // 1,500,000 zig-zag = 3,000,000 = 252 + u32; -300 zig-zag = 599 = 251 + u16.
    let mut want = vec![0x01, 0x07, 0x01, b's', 0x01, b'u', 0x07, 252];
    want.extend_from_slice(&3_000_000u32.to_le_bytes());
    want.extend_from_slice(&[251, 0x57, 0x02]);
    assert_eq!(encode(&amp), want);
    for e in [health, shutdown, start, change, output, amp] {
        assert_eq!(codec::decode(1000, &encode(&e)).unwrap(), e);
    }
}

#[test]
fn frame_layout() {
    let body = [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x01, 0x02, b'o', b'k'];
    let salt: u64 = 0x1122_3344_5566_7788;
    let mut f = vec![0u8; 32 + body.len()];
    f[32..].copy_from_slice(&body);
    let stamp = Stamp { seq: 5, ts_ns: 1000, durable_lag: 2, batch: frame::batch_word(1, true) };
    let crc = frame::seal(&mut f, stamp, SaltKey::new(salt));
    let mut want = Vec::new();
    want.extend_from_slice(&10u32.to_le_bytes());
    want.extend_from_slice(&[0; 4]);
    want.extend_from_slice(&5u64.to_le_bytes());
    want.extend_from_slice(&1000i64.to_le_bytes());
    want.extend_from_slice(&2u32.to_le_bytes()); // durable lag: seq 3 was durable
    want.extend_from_slice(&(1u32 | 1 << 31).to_le_bytes()); // position 1, continues
    want.extend_from_slice(&body);
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&want[0..4]);
    h.update(&want[8..]);
    want[4..8].copy_from_slice(&h.finalize().to_le_bytes());
    assert_eq!(f, want);
    assert_eq!(crc, u32::from_le_bytes([f[4], f[5], f[6], f[7]]));
    assert_eq!(&f[4..8], &[250, 146, 85, 96], "CRC-32/ISO-HDLC pinned");
    let Decoded::Frame(x) = frame::decode(&f, 0, salt, Layout::V2) else { panic!("not a frame") };
    assert_eq!((x.seq, x.ts_ns, x.position(), x.continues(), x.durable_claim()), (5, 1000, 1, true, Some(3)));
}

#[test]
fn segment_header() {
    let h = SegmentHeader {
        version: 2,
        flags: 1,
        store_id: 0xAA,
        salt: 0xBB,
        segment_no: 3,
        base_seq: 101,
        segment_bytes: 65536,
    };
    let want = header(
        b"WFSEGMT\0",
        2,
        &[
            (10, &1u16.to_le_bytes()),
            (16, &0xAAu64.to_le_bytes()),
            (24, &0xBBu64.to_le_bytes()),
            (32, &3u64.to_le_bytes()),
            (40, &101u64.to_le_bytes()),
            (48, &65536u64.to_le_bytes()),
        ],
    );
    assert_eq!(h.encode().to_vec(), want);
    assert_eq!(SegmentHeader::decode(&want).unwrap(), h);
}

#[test]
fn store_file() {
    let m = StoreMeta { store_id: 0xCC, segment_bytes: 1 << 20, keep_content: true, created_ns: 42 };
    let marks = Marks { high_water: 77, log_start: 5 };
    let copy = header(
        b"WFSTORE\0",
        2,
        &[
            (10, &1u16.to_le_bytes()),
            (12, &(1u32 << 20).to_le_bytes()),
            (16, &0xCCu64.to_le_bytes()),
            (24, &42u64.to_le_bytes()),
            (32, &9u64.to_le_bytes()),
            (40, &77u64.to_le_bytes()),
            (48, &5u64.to_le_bytes()),
        ],
    );
    assert_eq!(encode_copy(&m, marks, 9).to_vec(), copy);
    let mut want = vec![0u8; 8192];
    want[..64].copy_from_slice(&copy);
    want[4096..4160].copy_from_slice(&copy);
    assert_eq!(encode_file(&m, marks, 9), want);
    let back = StoreFile::decode(&want, std::path::Path::new("STORE")).unwrap();
    assert_eq!((back.meta, back.marks, back.generation, back.version), (m, marks, 9, 2));
}

#[test]
fn snapshot_header() {
    let snap = Snapshot {
        seq: 12,
        bind: Binding { salt: 0xDD, crc: 0xEE },
        state_hash: [3; 32],
        state: b"st".to_vec(),
    };
    let bytes = wfstore::snapshot::file::encode(0x99, &snap).unwrap();
    let payload = zstd::bulk::compress(b"st", 3).unwrap();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[3; 32]);
    crc.update(&payload);
    let want = header(
        b"WFSNAPSH",
        2,
        &[
            (12, &crc.finalize().to_le_bytes()),
            (16, &0x99u64.to_le_bytes()),
            (24, &12u64.to_le_bytes()),
            (32, &2u32.to_le_bytes()),
            (36, &(payload.len() as u32).to_le_bytes()),
            (40, &0xDDu64.to_le_bytes()),
            (48, &0xEEu32.to_le_bytes()),
        ],
    );
    assert_eq!(&bytes[..64], &want[..]);
    assert_eq!(&bytes[64..96], &[3; 32]);
    assert_eq!(&bytes[96..], &payload[..]);
    assert_eq!(wfstore::snapshot::file::decode(&bytes, 0x99).unwrap(), snap);
}

#[test]
fn index_file() {
    let mut ix = SegmentIndex::new(10, 64);
    ix.note(-5, 64, 40, "b");
    ix.note(6, 104, 30, "a");
    let key = IndexKey { store_id: 1, salt: 2, segment_no: 3 };
    let mut want = header(
        b"WFINDEX\0",
        1,
        &[
            (12, &134u32.to_le_bytes()),
            (16, &1u64.to_le_bytes()),
            (24, &2u64.to_le_bytes()),
            (32, &3u64.to_le_bytes()),
            (40, &10u64.to_le_bytes()),
            (48, &2u64.to_le_bytes()),
            (56, &104u32.to_le_bytes()),
        ],
    );
    let mut body = Vec::new();
    body.extend_from_slice(&1u32.to_le_bytes()); // one sparse entry: record 0
    body.extend_from_slice(&64u32.to_le_bytes());
    body.extend_from_slice(&(-5i64).to_le_bytes());
    body.extend_from_slice(&2u32.to_le_bytes()); // two sessions, sorted
    for (id, off) in [(b"a", 104u32), (b"b", 64u32)] {
        body.push(1);
        body.extend_from_slice(id);
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&off.to_le_bytes());
    }
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    want.extend_from_slice(&body);
    assert_eq!(file::encode(key, &ix), want);
    assert_eq!(file::decode(&want, key).unwrap(), ix);
}
