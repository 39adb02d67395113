//! The `data` object of each event type in JSON: which fields it reads and writes, and how.
//!
//! Field lists are written once per type and drive both directions. Optional fields
//! (`Option<String>`) are omitted when `None` and, when present, must be strings (not `null`),
//! as in the schema. `ai.model_change.from` is the exception: required, and nullable.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::body::*;
use super::energy::Energy;
use super::hash::Sha256Hex;
use super::id::Id;
use super::json::JsonError;
use super::json_object::{Fields, ObjectWriter, write_display, write_str};

/// Decodes the `data` object of an event of type `kind`.
pub(super) fn read(kind: EventType, data: &RawValue) -> Result<EventBody, JsonError> {
    let mut fields = Fields::parse(data.get(), Some("data"), "data.")?;
    let body = read_body(kind, &mut fields)?;
    fields.finish()?;
    Ok(body)
}

/// Writes `body`'s fields into the `data` object.
pub(super) fn write(body: &EventBody, out: &mut ObjectWriter<'_>) {
    write_body(body, out);
}

/// A body type's JSON field mapping.
trait JsonBody: Sized {
    fn read(fields: &mut Fields<'_>) -> Result<Self, JsonError>;
    fn write(&self, out: &mut ObjectWriter<'_>);
}

/// How one field is read and written.
pub(super) trait JsonField: Sized {
    fn read(fields: &mut Fields<'_>, name: &str) -> Result<Self, JsonError>;
    fn write(&self, out: &mut ObjectWriter<'_>, name: &str);
}

/// A value that is always present when its field is: decoded with serde, written by hand.
pub(super) trait JsonValue: DeserializeOwned {
    fn write_value(&self, out: &mut String);
}

impl<T: JsonValue> JsonField for T {
    fn read(fields: &mut Fields<'_>, name: &str) -> Result<T, JsonError> {
        fields.required(name)
    }

    fn write(&self, out: &mut ObjectWriter<'_>, name: &str) {
        self.write_value(out.key(name));
    }
}

/// An optional field: absent means `None`.
impl JsonField for Option<String> {
    fn read(fields: &mut Fields<'_>, name: &str) -> Result<Option<String>, JsonError> {
        fields.optional(name)
    }

    fn write(&self, out: &mut ObjectWriter<'_>, name: &str) {
        if let Some(value) = self {
            write_str(out.key(name), value);
        }
    }
}

impl JsonValue for String {
    fn write_value(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl JsonValue for Vec<String> {
    fn write_value(&self, out: &mut String) {
        out.push('[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_str(out, item);
        }
        out.push(']');
    }
}

impl JsonValue for Id {
    fn write_value(&self, out: &mut String) {
        write_str(out, self.as_str());
    }
}

impl JsonValue for Sha256Hex {
    fn write_value(&self, out: &mut String) {
        // Hex digits need no escaping.
        out.push('"');
        write_display(out, self);
        out.push('"');
    }
}

/// Types whose `Display` is their JSON text.
macro_rules! display_values {
    ($($ty:ty),*) => {
        $(
            impl JsonValue for $ty {
                fn write_value(&self, out: &mut String) {
                    write_display(out, self);
                }
            }
        )*
    };
}

display_values!(bool, u8, u16, u32, u64, i64, Energy);

/// Implements [`JsonBody`] from a field list; the struct literal in `read` makes the compiler
/// reject a list that misses a field.
macro_rules! json_bodies {
    ($($ty:ident { $($field:ident),* $(,)? },)*) => {
        $(
            impl JsonBody for $ty {
                fn read(fields: &mut Fields<'_>) -> Result<$ty, JsonError> {
                    Ok($ty { $($field: JsonField::read(fields, stringify!($field))?,)* })
                }

                fn write(&self, out: &mut ObjectWriter<'_>) {
                    $(JsonField::write(&self.$field, out, stringify!($field));)*
                }
            }
        )*
    };
}

json_bodies! {
    SessionStart { app_version, models },
    SessionEnd { reason },
    SystemStartup { version },
    SystemShutdown { clean },
    SystemHealth { cpu_pct, mem_mb, frame_time_us },
    EnergyUpdate { model, tokens, delta },
    EnergyPattern { pattern, intensity },
    EnergyAmplification { factor, delta },
    UserPrompt { prompt_hash, chars, content },
    UserAction { action, target },
    UserPreference { key, value },
    AiOutput { model, tokens, latency_us, content_hash, content },
    AiError { model, code, message },
    PatternInterference { models, strength },
    PatternResonance { models, strength },
}

/// `from` is required but may be `null`, unlike the optional fields the macro handles.
impl JsonBody for AiModelChange {
    fn read(fields: &mut Fields<'_>) -> Result<AiModelChange, JsonError> {
        Ok(AiModelChange { from: fields.required("from")?, to: JsonField::read(fields, "to")? })
    }

    fn write(&self, out: &mut ObjectWriter<'_>) {
        let value = out.key("from");
        match &self.from {
            Some(from) => write_str(value, from),
            None => value.push_str("null"),
        }
        JsonField::write(&self.to, out, "to");
    }
}

/// Dispatches on the event type; the matches are exhaustive, so a new type must be added here.
macro_rules! dispatch {
    ($($variant:ident),* $(,)?) => {
        fn read_body(kind: EventType, fields: &mut Fields<'_>) -> Result<EventBody, JsonError> {
            Ok(match kind {
                $(EventType::$variant => EventBody::$variant($variant::read(fields)?),)*
            })
        }

        fn write_body(body: &EventBody, out: &mut ObjectWriter<'_>) {
            match body {
                $(EventBody::$variant(body) => body.write(out),)*
            }
        }
    };
}

dispatch!(
    SessionStart,
    SessionEnd,
    SystemStartup,
    SystemShutdown,
    SystemHealth,
    EnergyUpdate,
    EnergyPattern,
    EnergyAmplification,
    UserPrompt,
    UserAction,
    UserPreference,
    AiOutput,
    AiModelChange,
    AiError,
    PatternInterference,
    PatternResonance,
);
