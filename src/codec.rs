//! The record body codec: the one place bincode is called (formats/record.md).
//!
//! A body is `bincode(version: u16, frame: u64, session, user, body)` with bincode 2's
//! `standard()` configuration (little-endian, varint integers) and a size limit, so a hostile
//! length inside a body can never make the decoder allocate more than a record's bytes.

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use serde::{Deserialize, Serialize};

use crate::event::{EVENT_SCHEMA_VERSION, Event, EventBody, Id};
use crate::limits::{ID_BYTES_MAX, RECORD_BODY_BYTES_MAX, STATE_BYTES_MAX};
use crate::state::EnergyState;

const CONFIG: Configuration<LittleEndian, Varint, Limit<{ RECORD_BODY_BYTES_MAX as usize }>> =
    config::standard().with_limit::<{ RECORD_BODY_BYTES_MAX as usize }>();

/// The state's configuration: the same encoding, a larger limit.
const STATE_CONFIG: Configuration<LittleEndian, Varint, Limit<STATE_BYTES_MAX>> =
    config::standard().with_limit::<STATE_BYTES_MAX>();

#[derive(Serialize)]
struct RecordRef<'a> {
    version: u16,
    frame: u64,
    session: &'a Id,
    user: &'a Id,
    body: &'a EventBody,
}

#[derive(Deserialize)]
struct RecordV1 {
    frame: u64,
    session: Id,
    user: Id,
    body: EventBody,
}

/// Why a body could not be encoded into the space given.
#[derive(Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The destination is too small.
    NoRoom,
    /// Any other encoder failure.
    Other(String),
}

/// Encodes an event's body into `dst`, returning the bytes written. The timestamp and seq
/// live in the frame header, not here.
pub fn encode_into(event: &Event, dst: &mut [u8]) -> Result<usize, EncodeError> {
    bincode::serde::encode_into_slice(record_ref(event), dst, CONFIG).map_err(|e| match e {
        bincode::error::EncodeError::UnexpectedEnd => EncodeError::NoRoom,
        other => EncodeError::Other(other.to_string()),
    })
}

/// The encoded size of an event's body (for error messages: it encodes the event once).
pub fn encoded_len(event: &Event) -> usize {
    let mut counter = bincode::enc::write::SizeWriter::default();
    let cfg = config::standard();
    let _ = bincode::serde::encode_into_writer(record_ref(event), &mut counter, cfg);
    counter.bytes_written
}

/// The record body of `event`, borrowed, as it is encoded.
fn record_ref(event: &Event) -> RecordRef<'_> {
    RecordRef {
        version: EVENT_SCHEMA_VERSION,
        frame: event.frame,
        session: &event.session,
        user: &event.user,
        body: &event.body,
    }
}

/// Decodes a record body into an event with the frame header's timestamp.
pub fn decode(ts_ns: i64, bytes: &[u8]) -> Result<Event, String> {
    let (version, used) = decode_version(bytes)?;
    let rest = &bytes[used..];
    match version {
        1 => {
            let (r, used): (RecordV1, usize) = decode_part(rest)?;
            if used != rest.len() {
                return Err(format!("{} trailing bytes", rest.len() - used));
            }
            Ok(Event { ts_ns, frame: r.frame, session: r.session, user: r.user, body: r.body })
        }
        v => Err(format!("unsupported event schema version {v}")),
    }
}

/// Reads only the session id of a body, borrowing it: index rebuilds need nothing more.
pub fn decode_session(bytes: &[u8]) -> Result<&str, String> {
    let ((version, _frame, session), _): ((u16, u64, &str), usize) =
        bincode::serde::borrow_decode_from_slice(bytes, CONFIG).map_err(|e| e.to_string())?;
    if version != EVENT_SCHEMA_VERSION {
        return Err(format!("unsupported event schema version {version}"));
    }
    if session.is_empty() || session.len() > ID_BYTES_MAX {
        return Err(format!("session id of {} bytes", session.len()));
    }
    Ok(session)
}

/// Reads only the session and user ids of a body, borrowing them: what a purge matches on.
pub fn decode_ids(bytes: &[u8]) -> Result<(&str, &str), String> {
    let ((version, _frame, session, user), _): ((u16, u64, &str, &str), usize) =
        bincode::serde::borrow_decode_from_slice(bytes, CONFIG).map_err(|e| e.to_string())?;
    if version != EVENT_SCHEMA_VERSION {
        return Err(format!("unsupported event schema version {version}"));
    }
    Ok((session, user))
}

/// The leading varint u16 (formats/record.md): one byte below 251, or 251 and two bytes.
/// Read by hand so the body is decoded in one bincode call, not two.
fn decode_version(bytes: &[u8]) -> Result<(u16, usize), String> {
    match bytes {
        [b, ..] if *b < 251 => Ok((u16::from(*b), 1)),
        [251, lo, hi, ..] => Ok((u16::from_le_bytes([*lo, *hi]), 3)),
        [] => Err("empty record body".into()),
        _ => Err("bad schema version prefix".into()),
    }
}

/// Decodes from a borrowed slice: strings and byte strings are read in place (one copy
/// into the owned value, no intermediate buffer).
fn decode_part<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<(T, usize), String> {
    bincode::serde::borrow_decode_from_slice(bytes, CONFIG).map_err(|e| e.to_string())
}

/// The state's canonical bytes: what snapshots store and what its hash is taken over.
pub fn encode_state(state: &EnergyState) -> Vec<u8> {
    // Encoding plain structs, maps and integers into a Vec cannot fail.
    bincode::serde::encode_to_vec(state, STATE_CONFIG).unwrap_or_default()
}

/// Decodes canonical state bytes; all of them must be used.
pub fn decode_state(bytes: &[u8]) -> Result<EnergyState, String> {
    let (state, used): (EnergyState, usize) =
        bincode::serde::decode_from_slice(bytes, STATE_CONFIG).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} trailing bytes after the state", bytes.len() - used));
    }
    Ok(state)
}
