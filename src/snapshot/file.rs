//! A snapshot file's bytes (formats/snapshot.md): a 64-byte header, the 32-byte state hash,
//! then zstd(state bytes). Decoding is bounded: the decompressed size is declared, checked
//! against a limit and against the zstd frame before anything is allocated.

use crate::header::{HEADER_BYTES, HeaderBuf, HeaderView};
use crate::limits::STATE_BYTES_MAX;

const MAGIC: &[u8; 8] = b"WFSNAPSH";
/// Snapshot format version this build writes and reads.
pub const VERSION: u16 = 2;
const PAYLOAD_CRC_AT: usize = 12;
const STORE_ID_AT: usize = 16;
const SEQ_AT: usize = 24;
const STATE_LEN_AT: usize = 32;
const PAYLOAD_LEN_AT: usize = 36;
const BIND_SALT_AT: usize = 40;
const BIND_CRC_AT: usize = 48;
/// Bytes before the compressed payload: header and state hash.
pub const PREFIX_BYTES: usize = HEADER_BYTES + 32;
const ZSTD_LEVEL: i32 = 3;

/// What a snapshot is bound to: the frame of its seq (formats/snapshot.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    /// The salt of the segment holding that frame.
    pub salt: u64,
    /// That frame's CRC field.
    pub crc: u32,
}

/// A decoded snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last seq the state covers.
    pub seq: u64,
    /// The frame of `seq` the state was taken after.
    pub bind: Binding,
    /// SHA-256 of `state`, as the state module computes it.
    pub state_hash: [u8; 32],
    /// The state's canonical bytes (`codec::encode_state`).
    pub state: Vec<u8>,
}

/// Encodes a snapshot of `state` (canonical state bytes) for store `store_id`.
pub fn encode(store_id: u64, snap: &Snapshot) -> std::io::Result<Vec<u8>> {
    let too_big = |what| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what} over 4 GiB"));
    let state_len = u32::try_from(snap.state.len()).map_err(|_| too_big("state"))?;
    let payload = zstd::bulk::compress(&snap.state, ZSTD_LEVEL)?;
    let payload_len = u32::try_from(payload.len()).map_err(|_| too_big("payload"))?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&snap.state_hash);
    crc.update(&payload);
    let mut h = HeaderBuf::new(MAGIC, VERSION);
    h.put_u64(STORE_ID_AT, store_id)
        .put_u64(SEQ_AT, snap.seq)
        .put_u32(STATE_LEN_AT, state_len)
        .put_u32(PAYLOAD_LEN_AT, payload_len)
        .put_u32(PAYLOAD_CRC_AT, crc.finalize())
        .put_u64(BIND_SALT_AT, snap.bind.salt)
        .put_u32(BIND_CRC_AT, snap.bind.crc);
    let mut out = Vec::with_capacity(PREFIX_BYTES + payload.len());
    out.extend_from_slice(&h.finish());
    out.extend_from_slice(&snap.state_hash);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The header fields, readable without decompressing (for listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The last seq the state covers.
    pub seq: u64,
    /// Decompressed state size.
    pub state_len: u64,
    /// Compressed payload size.
    pub payload_len: u64,
    /// CRC-32 of the state hash and the payload.
    pub payload_crc: u32,
    /// The frame it is bound to.
    pub bind: Binding,
}

/// Checks the header and that the file belongs to `store_id`.
pub fn decode_header(bytes: &[u8], store_id: u64) -> Result<SnapshotHeader, String> {
    let h = HeaderView::check(bytes, MAGIC, VERSION).map_err(|e| e.to_string())?;
    if h.u64(STORE_ID_AT) != store_id {
        return Err(format!("snapshot of another store (id {:#x})", h.u64(STORE_ID_AT)));
    }
    if h.u64(SEQ_AT) == 0 || h.u64(SEQ_AT) > crate::limits::SEQ_MAX {
        return Err(format!("seq {} out of range", h.u64(SEQ_AT)));
    }
    Ok(SnapshotHeader {
        seq: h.u64(SEQ_AT),
        state_len: u64::from(h.u32(STATE_LEN_AT)),
        payload_len: u64::from(h.u32(PAYLOAD_LEN_AT)),
        payload_crc: h.u32(PAYLOAD_CRC_AT),
        bind: Binding { salt: h.u64(BIND_SALT_AT), crc: h.u32(BIND_CRC_AT) },
    })
}

/// Checks a snapshot file's header, length and payload CRC, without decompressing it.
pub fn check_payload(bytes: &[u8], store_id: u64) -> Result<SnapshotHeader, String> {
    let header = decode_header(bytes, store_id)?;
    let payload_len = header.payload_len;
    if bytes.len() < PREFIX_BYTES || (bytes.len() - PREFIX_BYTES) as u64 != payload_len {
        return Err(format!(
            "file is {} bytes, header says {}",
            bytes.len(),
            PREFIX_BYTES as u64 + payload_len
        ));
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[HEADER_BYTES..]);
    if crc.finalize() != header.payload_crc {
        return Err("payload checksum mismatch".into());
    }
    Ok(header)
}

/// Decodes and checks a whole snapshot file: header, length, CRC, bounded decompression.
pub fn decode(bytes: &[u8], store_id: u64) -> Result<Snapshot, String> {
    let header = check_payload(bytes, store_id)?;
    let (hash, payload) = bytes[HEADER_BYTES..].split_at(32);
    let state_len = usize::try_from(header.state_len).unwrap_or(usize::MAX);
    if state_len > STATE_BYTES_MAX {
        return Err(format!("state of {state_len} bytes over the {STATE_BYTES_MAX}-byte limit"));
    }
    // The frame's own size claim must agree before the buffer is allocated: a bomb that
    // inflates past `state_len` fails in the decompressor, never past the limit.
    match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) if n == header.state_len => {}
        other => return Err(format!("zstd frame size {other:?} != declared {state_len}")),
    }
    let state = zstd::bulk::decompress(payload, state_len).map_err(|e| format!("zstd: {e}"))?;
    if state.len() != state_len {
        return Err(format!("decompressed {} bytes, declared {state_len}", state.len()));
    }
    let mut state_hash = [0u8; 32];
    state_hash.copy_from_slice(hash);
    Ok(Snapshot { seq: header.seq, bind: header.bind, state_hash, state })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            seq: 42,
            bind: Binding { salt: 5, crc: 6 },
            state_hash: [7; 32],
            state: b"some state bytes".repeat(50),
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(9, &sample()).unwrap();
        assert_eq!(decode(&bytes, 9), Ok(sample()));
        let h = decode_header(&bytes, 9).unwrap();
        assert_eq!((h.seq, h.state_len, h.payload_len), (42, 800, (bytes.len() - PREFIX_BYTES) as u64));
    }

    #[test]
    fn every_truncation_and_bit_flip_is_rejected() {
        let bytes = encode(9, &sample()).unwrap();
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], 9).is_err(), "cut at {n}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&b, 9).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn foreign_and_bomb_are_rejected() {
        let bytes = encode(9, &sample()).unwrap();
        assert!(decode(&bytes, 10).unwrap_err().contains("another store"));
        let bomb = Snapshot { state: vec![0; STATE_BYTES_MAX + 1], ..sample() };
        let bytes = encode(9, &bomb).unwrap();
        assert!(decode(&bytes, 9).unwrap_err().contains("limit"));
    }
}
