//! The event JSON form against `schemas/events.schema.json`: every type validates, the schema
//! and the Rust types agree field for field, and both reject the same bad input.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::Value;
use wfstore::event::body::*;
use wfstore::event::{Energy, Event, EventBody, EventType, Id, Sha256Hex, parse_line, to_json_line};

const SCHEMA_TEXT: &str = include_str!("../../schemas/events.schema.json");
const NOW: i64 = 1_700_000_000_000_000_000;

fn schema() -> Value {
    serde_json::from_str(SCHEMA_TEXT).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).unwrap()
}

fn id(text: &str) -> Id {
    Id::try_from(text).unwrap()
}

fn event(body: EventBody) -> Event {
    Event { ts_ns: NOW, frame: 7, session: id("session-1"), user: id("user-1"), body }
}

/// An example body of type `kind`; `full` sets every optional field.
fn example(kind: EventType, full: bool) -> EventBody {
    let hash = Sha256Hex::from_bytes([0x5a; 32]);
    let text = |s: &str| full.then(|| s.to_owned());
    let energy = Energy::from_micros(1_234_567);
    let models = vec!["llama".to_owned(), "qwen".to_owned()];
    match kind {
        EventType::SessionStart => {
            EventBody::SessionStart(SessionStart { app_version: "1.2.3".into(), models })
        }
        EventType::SessionEnd => EventBody::SessionEnd(SessionEnd { reason: "closed".into() }),
        EventType::SystemStartup => EventBody::SystemStartup(SystemStartup { version: "1.2.3".into() }),
        EventType::SystemShutdown => EventBody::SystemShutdown(SystemShutdown { clean: true }),
        EventType::SystemHealth => {
            EventBody::SystemHealth(SystemHealth { cpu_pct: 37, mem_mb: 2048, frame_time_us: 16_667 })
        }
        EventType::EnergyUpdate => {
            EventBody::EnergyUpdate(EnergyUpdate { model: "llama".into(), tokens: 12, delta: energy })
        }
        EventType::EnergyPattern => {
            EventBody::EnergyPattern(EnergyPattern { pattern: "spiral".into(), intensity: energy })
        }
        EventType::EnergyAmplification => EventBody::EnergyAmplification(EnergyAmplification {
            factor: Energy::from_micros(1_500_000),
            delta: Energy::from_micros(-1),
        }),
        EventType::UserPrompt => {
            EventBody::UserPrompt(UserPrompt { prompt_hash: hash, chars: 5, content: text("hello") })
        }
        EventType::UserAction => {
            EventBody::UserAction(UserAction { action: "click".into(), target: text("send-button") })
        }
        EventType::UserPreference => {
            EventBody::UserPreference(UserPreference { key: "theme".into(), value: "dark".into() })
        }
        EventType::AiOutput => EventBody::AiOutput(AiOutput {
            model: "llama".into(),
            tokens: 40,
            latency_us: 120_000,
            content_hash: hash,
            content: text("hi there"),
        }),
        EventType::AiModelChange => {
            EventBody::AiModelChange(AiModelChange { from: text("llama"), to: "qwen".into() })
        }
        EventType::AiError => EventBody::AiError(AiError {
            model: "qwen".into(),
            code: "oom".into(),
            message: "out of memory".into(),
        }),
        EventType::PatternInterference => {
            EventBody::PatternInterference(PatternInterference { models, strength: energy })
        }
        EventType::PatternResonance => {
            EventBody::PatternResonance(PatternResonance { models, strength: energy })
        }
    }
}

fn line_of(body: EventBody) -> String {
    to_json_line(3, &event(body))
}

fn keys(object: &Value) -> BTreeSet<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

/// The `data` keys Rust writes for `body`.
fn data_keys(body: EventBody) -> BTreeSet<String> {
    let value: Value = serde_json::from_str(&line_of(body)).unwrap();
    keys(&value["data"])
}

/// The schema's `$defs` entry for the data of type `kind`.
fn data_schema(kind: EventType) -> Value {
    schema()["$defs"][format!("data:{}", kind.as_str())].clone()
}

/// Asserts that `line` fails both the schema and `parse_line`, the latter at `path` with a
/// message containing `needle`.
fn check_rejected(line: &str, path: &str, needle: &str) {
    let instance: Value = serde_json::from_str(line).unwrap();
    assert!(!validator().is_valid(&instance), "schema accepted {line}");
    let err = parse_line(line, NOW).unwrap_err();
    assert_eq!(err.path(), Some(path), "{line} -> {err}");
    assert!(err.to_string().contains(needle), "{line} -> {err}");
}

/// A valid `energy.update` line, as a mutable JSON value.
fn update_value() -> Value {
    serde_json::from_str(&line_of(example(EventType::EnergyUpdate, true))).unwrap()
}

#[test]
fn schema_is_valid_draft_2020_12() {
    let schema = schema();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::meta::validate(&schema).unwrap();
}

#[test]
fn every_type_validates_and_round_trips() {
    let validator = validator();
    for kind in EventType::ALL {
        for full in [false, true] {
            let event = event(example(kind, full));
            let line = to_json_line(3, &event);
            let instance: Value = serde_json::from_str(&line).unwrap();
            if let Err(err) = validator.validate(&instance) {
                panic!("{kind} (full: {full}) fails the schema: {err}\n{line}");
            }
            assert_eq!(parse_line(&line, 0).unwrap(), event, "{line}");
        }
    }
}

#[test]
fn schema_type_enum_is_event_type_all() {
    let names: Vec<String> = EventType::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    let schema_names: Vec<String> =
        serde_json::from_value(schema()["properties"]["type"]["enum"].clone()).unwrap();
    assert_eq!(schema_names, names);
}

#[test]
fn schema_fields_match_rust_fields() {
    for kind in EventType::ALL {
        let data = data_schema(kind);
        let required: BTreeSet<String> = serde_json::from_value(data["required"].clone()).unwrap();
        assert_eq!(required, data_keys(example(kind, false)), "{kind}: required");
        assert_eq!(keys(&data["properties"]), data_keys(example(kind, true)), "{kind}: properties");
        assert_eq!(data["additionalProperties"], false, "{kind}");
    }
}

#[test]
fn envelope_fields_match() {
    let schema = schema();
    let line: Value = update_value();
    assert_eq!(keys(&schema["properties"]), keys(&line));
    let required: BTreeSet<String> = serde_json::from_value(schema["required"].clone()).unwrap();
    let expected: BTreeSet<String> = ["session", "user", "type", "data"].map(String::from).into();
    assert_eq!(required, expected);
}

#[test]
fn minimal_input_gets_defaults() {
    let line = r#"{"session":"s","user":"u","type":"session.end","data":{"reason":"r"}}"#;
    let instance: Value = serde_json::from_str(line).unwrap();
    assert!(validator().is_valid(&instance));
    let event = parse_line(line, NOW).unwrap();
    assert_eq!((event.ts_ns, event.frame), (NOW, 0));
}

#[test]
fn both_reject_a_missing_required_field() {
    let mut value = update_value();
    value["data"].as_object_mut().unwrap().remove("model");
    check_rejected(&value.to_string(), "data.model", "missing");
    let mut value = update_value();
    value.as_object_mut().unwrap().remove("user");
    check_rejected(&value.to_string(), "user", "missing");
    let line = line_of(example(EventType::AiModelChange, false)).replace(r#""from":null,"#, "");
    check_rejected(&line, "data.from", "missing");
}

#[test]
fn both_reject_a_wrong_type() {
    let mut value = update_value();
    value["data"]["tokens"] = "12".into();
    check_rejected(&value.to_string(), "data.tokens", "expected u32");
    let mut value = update_value();
    value["frame"] = (-1).into();
    check_rejected(&value.to_string(), "frame", "expected u64");
    let line = line_of(example(EventType::SystemHealth, true)).replace("37", "256");
    check_rejected(&line, "data.cpu_pct", "expected u8");
    let line = line_of(example(EventType::UserPrompt, true)).replace("5a5a", "5A5A");
    check_rejected(&line, "data.prompt_hash", "lowercase hex");
}

#[test]
fn both_reject_an_unknown_type() {
    let mut value = update_value();
    value["type"] = "energy.teleport".into();
    check_rejected(&value.to_string(), "type", "unknown event type");
}

#[test]
fn both_reject_an_extra_field() {
    let mut value = update_value();
    value["data"]["bonus"] = 1.into();
    check_rejected(&value.to_string(), "data.bonus", "unknown field");
    let mut value = update_value();
    value["extra"] = true.into();
    check_rejected(&value.to_string(), "extra", "unknown field");
}

#[test]
fn both_reject_seven_decimals() {
    let line = line_of(example(EventType::EnergyUpdate, true));
    let line = line.replace(r#""delta":1.234567"#, r#""delta":1.2345671"#);
    assert!(line.contains("1.2345671"));
    check_rejected(&line, "data.delta", "7 decimals, at most 6 allowed");
}

#[test]
fn both_reject_a_129_byte_id() {
    let mut value = update_value();
    value["session"] = "s".repeat(129).into();
    check_rejected(&value.to_string(), "session", "129 bytes");
    // 128 bytes is fine.
    value["session"] = "s".repeat(128).into();
    assert!(validator().is_valid(&value));
    parse_line(&value.to_string(), NOW).unwrap();
}

#[test]
fn multibyte_ids_are_limited_in_bytes_by_rust_only() {
    // 43 × 3 bytes = 129 bytes but 43 characters: the schema counts characters.
    let mut value = update_value();
    value["session"] = "€".repeat(43).into();
    assert!(validator().is_valid(&value));
    let err = parse_line(&value.to_string(), NOW).unwrap_err();
    assert_eq!(err.path(), Some("session"));
}

fn any_text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn any_id() -> impl Strategy<Value = Id> {
    any::<String>().prop_filter_map("id of 1..=128 bytes", |s| Id::try_from(s).ok())
}

fn any_energy() -> impl Strategy<Value = Energy> {
    any::<i64>().prop_map(Energy::from_micros)
}

fn any_hash() -> impl Strategy<Value = Sha256Hex> {
    any::<[u8; 32]>().prop_map(Sha256Hex::from_bytes)
}

fn any_models() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(any_text(), 0..4)
}

fn any_body() -> impl Strategy<Value = EventBody> {
    let opt = || proptest::option::of(any_text());
    prop_oneof![
        (any_text(), any_models())
            .prop_map(|(app_version, models)| EventBody::SessionStart(SessionStart { app_version, models })),
        any_text().prop_map(|reason| EventBody::SessionEnd(SessionEnd { reason })),
        any_text().prop_map(|version| EventBody::SystemStartup(SystemStartup { version })),
        any::<bool>().prop_map(|clean| EventBody::SystemShutdown(SystemShutdown { clean })),
        (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(cpu_pct, mem_mb, frame_time_us)| {
            EventBody::SystemHealth(SystemHealth { cpu_pct, mem_mb, frame_time_us })
        }),
        (any_text(), any::<u32>(), any_energy()).prop_map(|(model, tokens, delta)| {
            EventBody::EnergyUpdate(EnergyUpdate { model, tokens, delta })
        }),
        (any_text(), any_energy())
            .prop_map(|(pattern, intensity)| EventBody::EnergyPattern(EnergyPattern { pattern, intensity })),
        (any_energy(), any_energy()).prop_map(|(factor, delta)| EventBody::EnergyAmplification(
            EnergyAmplification { factor, delta }
        )),
        (any_hash(), any::<u32>(), opt()).prop_map(|(prompt_hash, chars, content)| {
            EventBody::UserPrompt(UserPrompt { prompt_hash, chars, content })
        }),
        (any_text(), opt()).prop_map(|(action, target)| EventBody::UserAction(UserAction { action, target })),
        (any_text(), any_text())
            .prop_map(|(key, value)| EventBody::UserPreference(UserPreference { key, value })),
        (any_text(), any::<u32>(), any::<u64>(), any_hash(), opt()).prop_map(
            |(model, tokens, latency_us, content_hash, content)| EventBody::AiOutput(AiOutput {
                model,
                tokens,
                latency_us,
                content_hash,
                content,
            })
        ),
        (opt(), any_text()).prop_map(|(from, to)| EventBody::AiModelChange(AiModelChange { from, to })),
        (any_text(), any_text(), any_text()).prop_map(|(model, code, message)| EventBody::AiError(AiError {
            model,
            code,
            message
        })),
        (any_models(), any_energy()).prop_map(|(models, strength)| {
            EventBody::PatternInterference(PatternInterference { models, strength })
        }),
        (any_models(), any_energy()).prop_map(|(models, strength)| EventBody::PatternResonance(
            PatternResonance { models, strength }
        )),
    ]
}

fn any_event() -> impl Strategy<Value = Event> {
    (any::<i64>(), any::<u64>(), any_id(), any_id(), any_body())
        .prop_map(|(ts_ns, frame, session, user, body)| Event { ts_ns, frame, session, user, body })
}

proptest! {
    #[test]
    fn arbitrary_events_round_trip_through_json(event in any_event(), seq in any::<u64>()) {
        let line = to_json_line(seq, &event);
        prop_assert!(!line.contains('\n'));
        prop_assert_eq!(parse_line(&line, 0).unwrap(), event);
    }

    #[test]
    fn arbitrary_events_round_trip_through_bincode(event in any_event()) {
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&event, config).unwrap();
        let (back, read) = bincode::serde::decode_from_slice::<Event, _>(&bytes, config).unwrap();
        prop_assert_eq!(read, bytes.len());
        prop_assert_eq!(back, event);
    }

    #[test]
    fn arbitrary_events_satisfy_the_schema(event in any_event()) {
        let line = to_json_line(0, &event);
        let instance: Value = serde_json::from_str(&line).unwrap();
        let validator = validator();
        let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
        prop_assert!(errors.is_empty(), "{:?}\n{}", errors, line);
    }

    #[test]
    fn parse_line_never_panics(line in "\\PC{0,200}") {
        let _ = parse_line(&line, 0);
    }

    #[test]
    fn mutated_lines_never_panic(cut in 0_usize..400, byte in any::<u8>()) {
        let mut line = line_of(example(EventType::AiOutput, true)).into_bytes();
        let at = cut % line.len();
        line[at] = byte;
        if let Ok(text) = std::str::from_utf8(&line) {
            let _ = parse_line(text, 0);
        }
    }
}
