//! One sample event of every type, with every optional field set, for unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::body::*;
use super::{Energy, Event, Id, Sha256Hex};

/// One event per type, in [`EventType::ALL`] order.
pub(crate) fn events() -> Vec<Event> {
    bodies()
        .into_iter()
        .enumerate()
        .map(|(i, body)| Event {
            ts_ns: 1_700_000_000_000_000_000 + i64::try_from(i).unwrap(),
            frame: 42,
            session: Id::try_from("s-1").unwrap(),
            user: Id::try_from("u-1").unwrap(),
            body,
        })
        .collect()
}

fn bodies() -> Vec<EventBody> {
    let energy = Energy::from_micros(-1_500_001);
    let hash = Sha256Hex::from_bytes([0xab; 32]);
    let models = vec!["llama".to_owned(), "qwen \"3\"\n".to_owned()];
    vec![
        EventBody::SessionStart(SessionStart { app_version: "1.0".into(), models: models.clone() }),
        EventBody::SessionEnd(SessionEnd { reason: "user".into() }),
        EventBody::SystemStartup(SystemStartup { version: "1.0".into() }),
        EventBody::SystemShutdown(SystemShutdown { clean: true }),
        EventBody::SystemHealth(SystemHealth { cpu_pct: 255, mem_mb: u32::MAX, frame_time_us: 16_667 }),
        EventBody::EnergyUpdate(EnergyUpdate { model: "llama".into(), tokens: 7, delta: energy }),
        EventBody::EnergyPattern(EnergyPattern { pattern: "spiral".into(), intensity: energy }),
        EventBody::EnergyAmplification(EnergyAmplification {
            factor: Energy::from_micros(i64::MAX),
            delta: Energy::from_micros(i64::MIN),
        }),
        EventBody::UserPrompt(UserPrompt { prompt_hash: hash, chars: 5, content: Some("héllo".into()) }),
        EventBody::UserAction(UserAction { action: "click".into(), target: Some("button".into()) }),
        EventBody::UserPreference(UserPreference { key: "theme".into(), value: "dark".into() }),
        EventBody::AiOutput(AiOutput {
            model: "llama".into(),
            tokens: 3,
            latency_us: u64::MAX,
            content_hash: hash,
            content: Some("out\u{0}".into()),
        }),
        EventBody::AiModelChange(AiModelChange { from: None, to: "qwen".into() }),
        EventBody::AiError(AiError {
            model: "qwen".into(),
            code: "oom".into(),
            message: "out of memory".into(),
        }),
        EventBody::PatternInterference(PatternInterference { models: models.clone(), strength: energy }),
        EventBody::PatternResonance(PatternResonance { models: Vec::new(), strength: Energy::ZERO }),
    ]
}
