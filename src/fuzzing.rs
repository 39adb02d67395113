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
    let _ = codec::decode_session(data);
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
