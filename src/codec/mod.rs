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

mod view;

pub(crate) use view::{decode_view, session_view};

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

/// A record body with its ids borrowed from the bytes (`decode_ref`).
#[derive(Deserialize)]
pub(crate) struct BodyRef<'a> {
    /// The render frame.
    pub frame: u64,
    /// The session id, checked as an [`Id`].
    pub session: &'a str,
    /// The user id, checked as an [`Id`].
    pub user: &'a str,
    /// The typed body.
    pub body: EventBody,
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
    let r = decode_ref(bytes)?;
    let (session, user) = (Id::from_checked(r.session), Id::from_checked(r.user));
    Ok(Event { ts_ns, frame: r.frame, session, user, body: r.body })
}

/// Decodes a record body with its ids borrowed: what replay applies. Accepts exactly
/// what `decode` accepts.
pub(crate) fn decode_ref(bytes: &[u8]) -> Result<BodyRef<'_>, String> {
    let (version, used) = decode_version(bytes)?;
    let rest = &bytes[used..];
    match version {
        1 => {
            let (r, used): (BodyRef<'_>, usize) = decode_part(rest)?;
            if used != rest.len() {
                return Err(format!("{} trailing bytes", rest.len() - used));
            }
            Id::check(r.session).map_err(|e| e.to_string())?;
            Id::check(r.user).map_err(|e| e.to_string())?;
            Ok(r)
        }
        v => Err(format!("unsupported event schema version {v}")),
    }
}

/// Reads only the session id of a body, borrowing it: index rebuilds need nothing more.
/// Read by hand (`view::session_view`); what that reader does not accept, bincode decides.
pub fn decode_session(bytes: &[u8]) -> Result<&str, String> {
    match session_view(bytes) {
        Ok(session) => Ok(session),
        Err(()) => decode_session_by_bincode(bytes),
    }
}

/// `decode_session` through bincode: the reference the hand reader is held to.
pub(crate) fn decode_session_by_bincode(bytes: &[u8]) -> Result<&str, String> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::event::Energy;
    use crate::event::body::EnergyUpdate;

    /// A body as bincode writes it, with ids that need not be valid.
    fn body(session: &str, user: &str) -> Vec<u8> {
        let b = EventBody::EnergyUpdate(EnergyUpdate {
            model: "m".into(),
            tokens: 1,
            delta: Energy::from_micros(5),
        });
        bincode::serde::encode_to_vec((EVENT_SCHEMA_VERSION, 7u64, session, user, &b), CONFIG).unwrap()
    }

    #[test]
    fn ids_read_in_place_are_checked_as_ids_are() {
        let good = body("s", "u");
        let ok = decode_ref(&good).unwrap();
        assert_eq!((ok.frame, ok.session, ok.user), (7, "s", "u"));
        assert_eq!(decode(3, &body("s", "u")).unwrap().session.as_str(), "s");
        let long = "x".repeat(ID_BYTES_MAX + 1);
        for (session, user, why) in [
            ("", "u", "id is empty"),
            ("s", "a\nb", "id holds control character '\\n' at byte 1"),
            (long.as_str(), "u", "id is 129 bytes, at most 128 allowed"),
        ] {
            let bytes = body(session, user);
            assert_eq!(decode_ref(&bytes).err().as_deref(), Some(why));
            assert_eq!(decode(0, &bytes).err().as_deref(), Some(why));
        }
        let mut trailing = body("s", "u");
        trailing.push(0);
        assert_eq!(decode_ref(&trailing).err().as_deref(), Some("1 trailing bytes"));
    }
}
