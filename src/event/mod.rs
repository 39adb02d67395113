//! Events: the envelope, the 16 typed bodies, fixed-point energy, and the JSON Lines form.
//!
//! - [`energy`]: [`Energy`], exact fixed-point micro-units parsed from decimal text.
//! - [`id`]: [`Id`], a bounded opaque identifier for sessions and users.
//! - [`hash`]: [`Sha256Hex`], a content digest.
//! - [`body`]: one struct per event type, [`EventBody`] and [`EventType`].
//! - [`json`]: the JSON Lines form, [`parse_line`] and [`to_json_line`], written by hand so that
//!   the serde derives stay fit for bincode.
//!
//! Two encodings exist and never mix: the serde derives on [`Event`] and the bodies are the
//! binary (bincode, non-self-describing) form; JSON goes through [`json`] only.

pub mod body;
pub mod energy;
pub mod hash;
pub mod id;
pub mod json;
mod json_body;
mod json_object;
#[cfg(test)]
pub(crate) mod samples;
mod view;

use serde::{Deserialize, Serialize};

pub use body::{EventBody, EventType, UnknownEventType};
pub use energy::{Energy, EnergyParseError, format_micros};
pub use hash::{HashParseError, Sha256Hex};
pub use id::{Id, IdError};
pub use json::{JsonError, data_json, parse_line, to_json_line};
pub use json_object::RawObject;
pub(crate) use view::BodyView;

/// Version of the event body schema that this build writes.
///
/// It travels with each stored event (and as `schema_version` in JSON) so that a later build can
/// upcast bodies written under an older schema.
pub const EVENT_SCHEMA_VERSION: u16 = 1;

/// One event: the envelope and its typed body. The store assigns `seq`, so it is not here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Render-frame number (0 when the producer has no frame).
    pub frame: u64,
    /// The session the event belongs to.
    pub session: Id,
    /// The user the event belongs to.
    pub user: Id,
    /// The typed body.
    pub body: EventBody,
}

impl Event {
    /// The type of this event's body.
    pub const fn event_type(&self) -> EventType {
        self.body.event_type()
    }

    /// The event, borrowed.
    pub(crate) fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            ts_ns: self.ts_ns,
            frame: self.frame,
            session: self.session.as_str(),
            user: self.user.as_str(),
            body: self.body.view(),
        }
    }
}

/// An event as the state applies it, borrowed, e.g. from the mapped log: replay decodes
/// nothing into an allocation. The ids are checked as [`Id`]s are.
#[derive(Clone, Debug)]
pub(crate) struct EventRef<'a> {
    pub ts_ns: i64,
    pub frame: u64,
    pub session: &'a str,
    pub user: &'a str,
    pub body: BodyView<'a>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn every_type_round_trips_through_bincode() {
        let config = bincode::config::standard();
        let events = samples::events();
        let types: Vec<EventType> = events.iter().map(Event::event_type).collect();
        assert_eq!(types, EventType::ALL);
        for event in events {
            let bytes = bincode::serde::encode_to_vec(&event, config).unwrap();
            let (back, read) = bincode::serde::decode_from_slice::<Event, _>(&bytes, config).unwrap();
            assert_eq!(read, bytes.len(), "{}", event.event_type());
            assert_eq!(back, event);
        }
    }

    #[test]
    fn bincode_rejects_an_unknown_variant_and_truncation() {
        let config = bincode::config::standard();
        let event = samples::events().remove(5);
        let mut bytes = bincode::serde::encode_to_vec(&event, config).unwrap();
        assert!(bincode::serde::decode_from_slice::<Event, _>(&bytes[..bytes.len() - 1], config).is_err());
        // The variant tag follows ts_ns (varint), frame (varint), and the two ids.
        let tag_at = bytes.len() - bincode::serde::encode_to_vec(&event.body, config).unwrap().len();
        bytes[tag_at] = 16;
        assert!(bincode::serde::decode_from_slice::<Event, _>(&bytes, config).is_err());
    }
}
