//! Golden bytes: the layouts of formats/ built by hand from the spec tables, compared with
//! what the code writes. If one changes without the other, this fails.

use wfstore::codec;
use wfstore::event::body::{EnergyUpdate, EventBody, SessionEnd};
use wfstore::event::{Energy, Event, Id};
use wfstore::frame::{self, Decoded};
use wfstore::index::SegmentIndex;
use wfstore::index::file::{self, IndexKey};
use wfstore::meta::StoreMeta;
use wfstore::segment::SegmentHeader;

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
fn frame_layout() {
    let body = [0x01, 0x07, 0x01, b's', 0x01, b'u', 0x01, 0x02, b'o', b'k'];
    let salt: u64 = 0x1122_3344_5566_7788;
    let mut f = vec![0u8; 24 + body.len()];
    f[24..].copy_from_slice(&body);
    frame::seal(&mut f, 5, 1000, salt);
    let mut want = Vec::new();
    want.extend_from_slice(&10u32.to_le_bytes());
    want.extend_from_slice(&[0; 4]);
    want.extend_from_slice(&5u64.to_le_bytes());
    want.extend_from_slice(&1000i64.to_le_bytes());
    want.extend_from_slice(&body);
    let mut h = crc32fast::Hasher::new();
    h.update(&salt.to_le_bytes());
    h.update(&want[0..4]);
    h.update(&want[8..]);
    want[4..8].copy_from_slice(&h.finalize().to_le_bytes());
    assert_eq!(f, want);
    assert_eq!(&f[4..8], &[59, 173, 151, 35], "CRC-32 (IEEE, as zlib computes it) pinned");
    assert!(matches!(frame::decode(&f, 0, salt), Decoded::Frame(x) if x.seq == 5 && x.ts_ns == 1000));
}

#[test]
fn segment_header() {
    let h = SegmentHeader { store_id: 0xAA, salt: 0xBB, segment_no: 3, base_seq: 101, segment_bytes: 65536 };
    let want = header(
        b"WFSEGMT\0",
        1,
        &[
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
    let want = header(
        b"WFSTORE\0",
        1,
        &[
            (10, &1u16.to_le_bytes()),
            (16, &0xCCu64.to_le_bytes()),
            (24, &(1u64 << 20).to_le_bytes()),
            (32, &42u64.to_le_bytes()),
        ],
    );
    assert_eq!(m.encode().to_vec(), want);
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
