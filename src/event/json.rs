//! The JSON Lines form of an event: one object per line.
//!
//! ```json
//! {"seq":12,"schema_version":1,"ts_ns":1700000000000000000,"frame":3,"session":"s-1",
//!  "user":"u-1","type":"energy.update","data":{"model":"llama","tokens":7,"delta":1.5}}
//! ```
//!
//! (shown on two lines here; it is one line). On input `ts_ns` defaults to the caller's clock,
//! `frame` to 0, and `seq` (assigned by the store) is accepted and ignored, so `tail` output
//! can be imported again. Unknown fields, duplicate fields, missing fields and wrong types are
//! errors that name the field path (`data.delta`). The caller adds the line number.
//!
//! The mapping is written by hand rather than derived: the serde derives on [`Event`] are the
//! binary form, which cannot carry `type`/`data` tagging or omitted optional fields.

use super::json_body::{self, JsonField};
use super::json_object::{Fields, ObjectWriter, quote, write_str};
use super::{EVENT_SCHEMA_VERSION, Event, EventType, Id};
use crate::limits::JSON_LINE_BYTES_MAX;

/// Why a JSON line is not an event. Paths are dotted: `session`, `type`, `data.delta`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The line is longer than [`JSON_LINE_BYTES_MAX`].
    #[error("line is {bytes} bytes, at most {JSON_LINE_BYTES_MAX} allowed")]
    LineTooLong {
        /// The line's length.
        bytes: usize,
    },
    /// The line is not one well-formed JSON object.
    #[error("not a JSON object: {reason}")]
    NotAnObject {
        /// What serde_json found, with its column in the line.
        reason: String,
    },
    /// A required field is absent.
    #[error("{path}: missing required field")]
    MissingField {
        /// The field's path.
        path: String,
    },
    /// A field this event type does not have.
    #[error("{path}: unknown field")]
    UnknownField {
        /// The field's path (its name escaped and shortened).
        path: String,
    },
    /// A field given twice.
    #[error("{path}: duplicate field")]
    DuplicateField {
        /// The field's path.
        path: String,
    },
    /// A field whose value has the wrong type or is out of range.
    #[error("{path}: {reason}")]
    InvalidValue {
        /// The field's path.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl JsonError {
    /// The path of the field at fault, if the error is about one field.
    pub fn path(&self) -> Option<&str> {
        match self {
            JsonError::LineTooLong { .. } | JsonError::NotAnObject { .. } => None,
            JsonError::MissingField { path }
            | JsonError::UnknownField { path }
            | JsonError::DuplicateField { path }
            | JsonError::InvalidValue { path, .. } => Some(path),
        }
    }
}

/// Parses one JSON Lines event; `now_ns` is the time given to an event without `ts_ns`.
///
/// Never panics, whatever `line` holds.
pub fn parse_line(line: &str, now_ns: i64) -> Result<Event, JsonError> {
    if line.len() > JSON_LINE_BYTES_MAX {
        return Err(JsonError::LineTooLong { bytes: line.len() });
    }
    let mut fields = Fields::parse(line, None, "")?;
    let _seq: Option<u64> = fields.optional("seq")?;
    if let Some(version) = fields.optional::<u16>("schema_version")? {
        check_schema_version(version)?;
    }
    let ts_ns = fields.optional("ts_ns")?.unwrap_or(now_ns);
    let frame = fields.optional("frame")?.unwrap_or(0);
    let session: Id = fields.required("session")?;
    let user: Id = fields.required("user")?;
    let type_text: String = fields.required("type")?;
    let kind = type_text.parse::<EventType>().map_err(|_| JsonError::InvalidValue {
        path: "type".to_owned(),
        reason: format!("unknown event type \"{}\"", quote(&type_text)),
    })?;
    let data = fields.required_raw("data")?;
    fields.finish()?;
    let body = json_body::read(kind, data)?;
    Ok(Event { ts_ns, frame, session, user, body })
}

/// Only the current version is readable until an upcaster for an older one exists; a newer one
/// may have fields this build would misread.
fn check_schema_version(version: u16) -> Result<(), JsonError> {
    if version == EVENT_SCHEMA_VERSION {
        return Ok(());
    }
    Err(JsonError::InvalidValue {
        path: "schema_version".to_owned(),
        reason: format!("version {version} is not supported; this build reads {EVENT_SCHEMA_VERSION}"),
    })
}

/// Writes `event` as one JSON line (without the newline), `seq` first.
///
/// Optional fields that are `None` are omitted; energies are numbers with at most 6 decimals.
pub fn to_json_line(seq: u64, event: &Event) -> String {
    let mut line = String::with_capacity(256);
    let mut out = ObjectWriter::open(&mut line);
    seq.write(&mut out, "seq");
    EVENT_SCHEMA_VERSION.write(&mut out, "schema_version");
    event.ts_ns.write(&mut out, "ts_ns");
    event.frame.write(&mut out, "frame");
    event.session.write(&mut out, "session");
    event.user.write(&mut out, "user");
    write_str(out.key("type"), event.event_type().as_str());
    let mut data = out.object("data");
    json_body::write(&event.body, &mut data);
    data.close();
    out.close();
    line
}

/// Writes an event body's `data` object alone as JSON (the relational view's `events.body`),
/// in the same form as in `to_json_line`.
pub fn data_json(body: &super::EventBody) -> String {
    let mut json = String::with_capacity(160);
    let mut out = ObjectWriter::open(&mut json);
    json_body::write(body, &mut out);
    out.close();
    json
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::event::samples;

    const NOW: i64 = 1_234;

    /// Parses `line` expecting an error at `path` whose message contains `needle`.
    fn check_err(line: &str, path: Option<&str>, needle: &str) {
        let err = parse_line(line, NOW).unwrap_err();
        assert_eq!(err.path(), path, "{line} -> {err}");
        assert!(err.to_string().contains(needle), "{line} -> {err}");
    }

    const UPDATE: &str = r#""session":"s","user":"u","type":"energy.update""#;

    #[test]
    fn every_sample_round_trips() {
        for (seq, event) in samples::events().into_iter().enumerate() {
            let line = to_json_line(seq as u64, &event);
            assert_eq!(parse_line(&line, NOW).unwrap(), event, "{line}");
        }
    }

    #[test]
    fn output_shape() {
        let event = samples::events().remove(5);
        assert_eq!(
            to_json_line(12, &event),
            r#"{"seq":12,"schema_version":1,"ts_ns":1700000000000000005,"frame":42,"session":"s-1","user":"u-1","type":"energy.update","data":{"model":"llama","tokens":7,"delta":-1.500001}}"#
        );
    }

    #[test]
    fn defaults_and_ignored_fields() {
        let line = format!(r#"{{{UPDATE},"data":{{"model":"m","tokens":1,"delta":2}}}}"#);
        let event = parse_line(&line, NOW).unwrap();
        assert_eq!((event.ts_ns, event.frame), (NOW, 0));
        let line = format!(
            r#"{{"seq":9,"schema_version":1,"ts_ns":-5,"frame":3,{UPDATE},"data":{{"model":"m","tokens":1,"delta":2}}}}"#
        );
        let event = parse_line(&line, NOW).unwrap();
        assert_eq!((event.ts_ns, event.frame), (-5, 3));
    }

    #[test]
    fn errors_name_the_field() {
        let data = |d: &str| format!(r#"{{{UPDATE},"data":{d}}}"#);
        check_err(
            &data(r#"{"model":"m","tokens":1,"delta":1.1234567}"#),
            Some("data.delta"),
            "7 decimals, at most 6 allowed",
        );
        check_err(&data(r#"{"model":"m","tokens":1,"delta":1e3}"#), Some("data.delta"), "'e'");
        check_err(&data(r#"{"model":"m","tokens":1,"delta":"1"}"#), Some("data.delta"), "number");
        check_err(&data(r#"{"model":"m","tokens":1}"#), Some("data.delta"), "missing");
        check_err(&data(r#"{"model":"m","tokens":-1,"delta":1}"#), Some("data.tokens"), "u32");
        check_err(
            &data(r#"{"model":"m","tokens":99999999999999999999999,"delta":1}"#),
            Some("data.tokens"),
            "",
        );
        check_err(&data(r#"{"model":"m","tokens":1,"delta":1,"x":1}"#), Some("data.x"), "unknown");
        check_err(&data(r#"{"model":"m","model":"m"}"#), Some("data.model"), "duplicate");
        check_err(&data("[]"), Some("data"), "expected a JSON object");
        check_err(&data("null"), Some("data"), "expected a JSON object");
        check_err(
            r#"{"session":"s","user":"u","type":"energy.nope","data":{}}"#,
            Some("type"),
            "unknown event type",
        );
        check_err(r#"{"session":"s","user":"u","type":7,"data":{}}"#, Some("type"), "string");
        check_err(r#"{"user":"u","type":"session.end","data":{"reason":"r"}}"#, Some("session"), "missing");
        check_err(
            r#"{"session":"","user":"u","type":"session.end","data":{"reason":"r"}}"#,
            Some("session"),
            "empty",
        );
        check_err(
            &format!(
                r#"{{"session":"{}","user":"u","type":"session.end","data":{{"reason":"r"}}}}"#,
                "s".repeat(129)
            ),
            Some("session"),
            "129 bytes",
        );
        check_err(r#"{"session":"s","user":"u","type":"session.end"}"#, Some("data"), "missing");
        check_err(
            r#"{"session":"s","user":"u","type":"session.end","data":{"reason":"r"},"extra":1}"#,
            Some("extra"),
            "unknown",
        );
        check_err(
            r#"{"schema_version":2,"session":"s","user":"u","type":"session.end","data":{"reason":"r"}}"#,
            Some("schema_version"),
            "not supported",
        );
        check_err(
            r#"{"ts_ns":1.5,"session":"s","user":"u","type":"session.end","data":{"reason":"r"}}"#,
            Some("ts_ns"),
            "i64",
        );
        check_err(
            r#"{"frame":null,"session":"s","user":"u","type":"session.end","data":{"reason":"r"}}"#,
            Some("frame"),
            "null",
        );
    }

    #[test]
    fn optional_and_nullable_fields() {
        let base = r#""session":"s","user":"u","type""#;
        let hash = "a".repeat(64);
        let prompt = parse_line(
            &format!(r#"{{{base}:"user.prompt","data":{{"prompt_hash":"{hash}","chars":1}}}}"#),
            NOW,
        )
        .unwrap();
        assert!(matches!(prompt.body, crate::event::EventBody::UserPrompt(ref p) if p.content.is_none()));
        check_err(
            &format!(
                r#"{{{base}:"user.prompt","data":{{"prompt_hash":"{hash}","chars":1,"content":null}}}}"#
            ),
            Some("data.content"),
            "null",
        );
        check_err(
            &format!(
                r#"{{{base}:"user.prompt","data":{{"prompt_hash":"{}","chars":1}}}}"#,
                hash.to_uppercase()
            ),
            Some("data.prompt_hash"),
            "lowercase hex",
        );
        // `from` may be null but not absent.
        parse_line(&format!(r#"{{{base}:"ai.model_change","data":{{"from":null,"to":"b"}}}}"#), NOW).unwrap();
        check_err(
            &format!(r#"{{{base}:"ai.model_change","data":{{"to":"b"}}}}"#),
            Some("data.from"),
            "missing",
        );
    }

    #[test]
    fn hostile_lines_are_errors_not_panics() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let deep_data = format!(r#"{{{UPDATE},"data":{{"model":{deep},"tokens":1,"delta":1}}}}"#);
        let long_key = format!(r#"{{"{}":1}}"#, "k".repeat(100_000));
        for line in [
            "",
            " ",
            "null",
            "[]",
            "\"x\"",
            "{",
            "{}}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\ud800"}"#,
            "{\"a\":\"\u{1}\"}",
            &deep,
            &deep_data,
            &long_key,
        ] {
            assert!(parse_line(line, NOW).is_err(), "{line:.80}");
        }
        let err = parse_line(&long_key, NOW).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }

    #[test]
    fn long_lines_are_rejected_before_parsing() {
        let line = " ".repeat(JSON_LINE_BYTES_MAX + 1);
        assert_eq!(parse_line(&line, NOW), Err(JsonError::LineTooLong { bytes: JSON_LINE_BYTES_MAX + 1 }));
    }
}
