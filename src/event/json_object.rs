//! The two halves of hand-written JSON objects: [`Fields`] reads one object field by field,
//! naming each field's path in its errors; [`ObjectWriter`] writes one.
//!
//! Values are kept as raw JSON text until a field is asked for, so a number is parsed from its
//! own digits (energy never passes through a float) and each error knows which field it is about.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt::{self, Write as _};

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::json::JsonError;

/// Longest piece of user text (a key, a type string) quoted back in an error message.
const QUOTE_CHARS_MAX: usize = 64;

/// Longest reason taken from a serde error; serde quotes whole offending strings, which may be
/// megabytes long.
const REASON_CHARS_MAX: usize = 200;

/// The fields of one JSON object, not yet decoded.
pub(super) struct Fields<'a> {
    entries: BTreeMap<String, &'a RawValue>,
    /// Prepended to field names in error paths: `""` at top level, `"data."` inside `data`.
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    /// Splits `text`, which must be one JSON object, into its fields.
    ///
    /// `path` names the object in errors (`None` for the whole line).
    pub(super) fn parse(
        text: &'a str,
        path: Option<&'static str>,
        prefix: &'static str,
    ) -> Result<Fields<'a>, JsonError> {
        let RawObject(list) = serde_json::from_str(text).map_err(|err| match path {
            None => JsonError::NotAnObject { reason: short(err.to_string()) },
            Some(path) => invalid(path.to_owned(), &err),
        })?;
        let mut entries = BTreeMap::new();
        for (key, value) in list {
            match entries.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    return Err(JsonError::DuplicateField { path: format!("{prefix}{}", quote(slot.key())) });
                }
            }
        }
        Ok(Fields { entries, prefix })
    }

    /// Decodes and removes the field `name`; it must be present.
    pub(super) fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, JsonError> {
        let raw = self.required_raw(name)?;
        decode(raw, || self.path(name))
    }

    /// Decodes and removes the field `name` if present. `null` is not "absent": it is decoded
    /// like any other value, and fails unless `T` accepts it.
    pub(super) fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, JsonError> {
        match self.entries.remove(name) {
            Some(raw) => decode(raw, || self.path(name)).map(Some),
            None => Ok(None),
        }
    }

    /// Removes the field `name` undecoded; it must be present.
    pub(super) fn required_raw(&mut self, name: &str) -> Result<&'a RawValue, JsonError> {
        self.entries.remove(name).ok_or_else(|| JsonError::MissingField { path: self.path(name) })
    }

    /// Fails on the first field nobody asked for.
    pub(super) fn finish(self) -> Result<(), JsonError> {
        match self.entries.into_keys().next() {
            Some(key) => Err(JsonError::UnknownField { path: format!("{}{}", self.prefix, quote(&key)) }),
            None => Ok(()),
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// Decodes one raw value, blaming `path` on failure.
fn decode<T: DeserializeOwned>(raw: &RawValue, path: impl FnOnce() -> String) -> Result<T, JsonError> {
    serde_json::from_str(raw.get()).map_err(|err| invalid(path(), &err))
}

/// An invalid-value error at `path`, without serde_json's position, which would count from the
/// start of the field's value rather than of the line.
fn invalid(path: String, err: &serde_json::Error) -> JsonError {
    let full = err.to_string();
    let position = format!(" at line {} column {}", err.line(), err.column());
    let reason = full.strip_suffix(&position).unwrap_or(&full).to_owned();
    JsonError::InvalidValue { path, reason: short(reason) }
}

/// `text` cut to [`REASON_CHARS_MAX`] characters.
fn short(text: String) -> String {
    match text.char_indices().nth(REASON_CHARS_MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// User text made safe to print inside an error: escaped and cut to [`QUOTE_CHARS_MAX`].
pub(super) fn quote(text: &str) -> String {
    let mut out: String = text.chars().take(QUOTE_CHARS_MAX).flat_map(char::escape_debug).collect();
    if text.chars().nth(QUOTE_CHARS_MAX).is_some() {
        out.push_str("...");
    }
    out
}

/// A JSON object as an ordered list of (key, raw value), duplicates kept for the caller to
/// report with their name. Also what `export audit` walks to write YAML with exact numbers.
pub struct RawObject<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawObject<'de>, D::Error> {
        deserializer.deserialize_map(RawObjectVisitor)
    }
}

struct RawObjectVisitor;

impl<'de> Visitor<'de> for RawObjectVisitor {
    type Value = RawObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawObject<'de>, A::Error> {
        let mut list = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value: &'de RawValue = map.next_value()?;
            list.push((key, value));
        }
        Ok(RawObject(list))
    }
}

/// Writes one JSON object into a string, field by field, in call order.
pub(super) struct ObjectWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Starts an object at the end of `out`.
    pub(super) fn open(out: &'a mut String) -> ObjectWriter<'a> {
        out.push('{');
        ObjectWriter { out, empty: true }
    }

    /// Ends the object.
    pub(super) fn close(self) {
        self.out.push('}');
    }

    /// Writes `"name":` and returns the buffer for the value.
    pub(super) fn key(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_str(self.out, name);
        self.out.push(':');
        self.out
    }

    /// Writes a field whose value is a nested object, filled in by the caller.
    pub(super) fn object(&mut self, name: &str) -> ObjectWriter<'_> {
        ObjectWriter::open(self.key(name))
    }
}

/// Appends `value` as a JSON string literal.
pub(super) fn write_str(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Other control characters must be escaped in JSON strings.
            c if c < ' ' => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a value whose `Display` is already valid JSON (integers, booleans, energy).
pub(super) fn write_display(out: &mut String, value: impl fmt::Display) {
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn strings_escape_to_what_serde_json_reads_back() {
        for text in ["", "plain", "q\"b\\s", "\n\r\t\u{0}\u{1f}\u{7f}", "é€😀\u{2028}"] {
            let mut out = String::new();
            write_str(&mut out, text);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
        }
    }

    #[test]
    fn errors_name_the_field() {
        let mut fields = Fields::parse(r#"{"a": "x", "b": 1}"#, None, "data.").unwrap();
        let err = fields.required::<u32>("a").unwrap_err();
        assert_eq!(err.path(), Some("data.a"));
        assert!(!err.to_string().contains("column"), "{err}");
        assert_eq!(fields.required::<u32>("z").unwrap_err().path(), Some("data.z"));
        assert_eq!(fields.finish().unwrap_err().path(), Some("data.b"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = Fields::parse(r#"{"a": 1, "a": 2}"#, None, "").err().unwrap();
        assert_eq!(err, JsonError::DuplicateField { path: "a".into() });
    }

    #[test]
    fn quotes_are_short_and_escaped() {
        assert_eq!(quote("a\nb"), "a\\nb");
        assert_eq!(quote(&"k".repeat(1000)).len(), QUOTE_CHARS_MAX + 3);
    }
}
