//! [`BodyView`]: an event body as the state applies it — the fields `apply` reads, the
//! strings borrowed. Replay decodes it straight from the mapped log (`codec::view`), so a
//! replayed event allocates nothing; an owned [`EventBody`] gives one with [`EventBody::view`].
//! One `apply`, written over views, serves both: replay and live state cannot differ.

use super::body::{EventBody, EventType};

/// The fields of a body that the state reads; strings borrowed, energies in µ-units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyView<'a> {
    SessionStart { app_version: &'a str, models: Vec<&'a str> },
    SessionEnd { reason: &'a str },
    SystemStartup { version: &'a str },
    SystemShutdown { clean: bool },
    SystemHealth { cpu_pct: u8, mem_mb: u32, frame_time_us: u32 },
    EnergyUpdate { model: &'a str, tokens: u32, delta: i64 },
    EnergyPattern { pattern: &'a str, intensity: i64 },
    EnergyAmplification { factor: i64, delta: i64 },
    UserPrompt { chars: u32 },
    UserAction,
    UserPreference { key: &'a str, value: &'a str },
    AiOutput { tokens: u32, latency_us: u64 },
    AiModelChange { from: Option<&'a str>, to: &'a str },
    AiError { code: &'a str },
    PatternInterference { models: Vec<&'a str>, strength: i64 },
    PatternResonance { models: Vec<&'a str>, strength: i64 },
}

impl BodyView<'_> {
    /// The type of the body.
    pub const fn event_type(&self) -> EventType {
        match self {
            BodyView::SessionStart { .. } => EventType::SessionStart,
            BodyView::SessionEnd { .. } => EventType::SessionEnd,
            BodyView::SystemStartup { .. } => EventType::SystemStartup,
            BodyView::SystemShutdown { .. } => EventType::SystemShutdown,
            BodyView::SystemHealth { .. } => EventType::SystemHealth,
            BodyView::EnergyUpdate { .. } => EventType::EnergyUpdate,
            BodyView::EnergyPattern { .. } => EventType::EnergyPattern,
            BodyView::EnergyAmplification { .. } => EventType::EnergyAmplification,
            BodyView::UserPrompt { .. } => EventType::UserPrompt,
            BodyView::UserAction => EventType::UserAction,
            BodyView::UserPreference { .. } => EventType::UserPreference,
            BodyView::AiOutput { .. } => EventType::AiOutput,
            BodyView::AiModelChange { .. } => EventType::AiModelChange,
            BodyView::AiError { .. } => EventType::AiError,
            BodyView::PatternInterference { .. } => EventType::PatternInterference,
            BodyView::PatternResonance { .. } => EventType::PatternResonance,
        }
    }

    /// The event's contribution to its session's energy (as [`EventBody::energy_delta`]).
    pub const fn energy_delta(&self) -> Option<i64> {
        match self {
            BodyView::EnergyUpdate { delta, .. } | BodyView::EnergyAmplification { delta, .. } => {
                Some(*delta)
            }
            _ => None,
        }
    }
}

impl EventBody {
    /// The body as the state applies it.
    pub(crate) fn view(&self) -> BodyView<'_> {
        match self {
            EventBody::SessionStart(b) => {
                BodyView::SessionStart { app_version: &b.app_version, models: all(&b.models) }
            }
            EventBody::SessionEnd(b) => BodyView::SessionEnd { reason: &b.reason },
            EventBody::SystemStartup(b) => BodyView::SystemStartup { version: &b.version },
            EventBody::SystemShutdown(b) => BodyView::SystemShutdown { clean: b.clean },
            EventBody::SystemHealth(b) => BodyView::SystemHealth {
                cpu_pct: b.cpu_pct,
                mem_mb: b.mem_mb,
                frame_time_us: b.frame_time_us,
            },
            EventBody::EnergyUpdate(b) => {
                BodyView::EnergyUpdate { model: &b.model, tokens: b.tokens, delta: b.delta.micros() }
            }
            EventBody::EnergyPattern(b) => {
                BodyView::EnergyPattern { pattern: &b.pattern, intensity: b.intensity.micros() }
            }
            EventBody::EnergyAmplification(b) => {
                BodyView::EnergyAmplification { factor: b.factor.micros(), delta: b.delta.micros() }
            }
            EventBody::UserPrompt(b) => BodyView::UserPrompt { chars: b.chars },
            EventBody::UserAction(_) => BodyView::UserAction,
            EventBody::UserPreference(b) => BodyView::UserPreference { key: &b.key, value: &b.value },
            EventBody::AiOutput(b) => BodyView::AiOutput { tokens: b.tokens, latency_us: b.latency_us },
            EventBody::AiModelChange(b) => BodyView::AiModelChange { from: b.from.as_deref(), to: &b.to },
            EventBody::AiError(b) => BodyView::AiError { code: &b.code },
            EventBody::PatternInterference(b) => {
                BodyView::PatternInterference { models: all(&b.models), strength: b.strength.micros() }
            }
            EventBody::PatternResonance(b) => {
                BodyView::PatternResonance { models: all(&b.models), strength: b.strength.micros() }
            }
        }
    }
}

fn all(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
