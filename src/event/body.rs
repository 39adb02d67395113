//! The 16 event bodies: one struct per event type, holding that type's `data` fields.
//!
//! Field names and types mirror `schemas/events.schema.json`; a test checks the two agree.
//! The serde derives here are the *binary* form (bincode, field order matters, no tagging
//! tricks); the JSON Lines form is written by hand in `json_body.rs`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::energy::Energy;
use super::hash::Sha256Hex;

/// `session.start`: a session began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStart {
    /// Version of the app that started the session.
    pub app_version: String,
    /// Models loaded for the session.
    pub models: Vec<String>,
}

/// `session.end`: a session ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    /// Why it ended.
    pub reason: String,
}

/// `system.startup`: the app started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStartup {
    /// Version of the app.
    pub version: String,
}

/// `system.shutdown`: the app stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemShutdown {
    /// Whether the shutdown was orderly.
    pub clean: bool,
}

/// `system.health`: a periodic resource sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemHealth {
    /// CPU use, percent.
    pub cpu_pct: u8,
    /// Resident memory, MiB.
    pub mem_mb: u32,
    /// Time the last frame took, µs.
    pub frame_time_us: u32,
}

/// `energy.update`: a model produced tokens, which became energy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyUpdate {
    /// The model that produced the tokens.
    pub model: String,
    /// Tokens produced.
    pub tokens: u32,
    /// Energy added to the session (and to this model's contribution).
    pub delta: Energy,
}

/// `energy.pattern`: a visual energy pattern appeared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyPattern {
    /// Pattern name.
    pub pattern: String,
    /// Its intensity.
    pub intensity: Energy,
}

/// `energy.amplification`: energy amplified, credited to the amplification bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyAmplification {
    /// Amplification factor.
    pub factor: Energy,
    /// Energy added to the session.
    pub delta: Energy,
}

/// `user.prompt`: the user sent a prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPrompt {
    /// SHA-256 of the prompt text.
    pub prompt_hash: Sha256Hex,
    /// Prompt length in characters.
    pub chars: u32,
    /// The prompt text, kept only by stores created with `--keep-content`.
    pub content: Option<String>,
}

/// `user.action`: the user did something in the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserAction {
    /// What the user did.
    pub action: String,
    /// What it was done to, if anything.
    pub target: Option<String>,
}

/// `user.preference`: the user changed a setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPreference {
    /// Setting name.
    pub key: String,
    /// New value.
    pub value: String,
}

/// `ai.output`: a model produced output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiOutput {
    /// The model.
    pub model: String,
    /// Tokens produced.
    pub tokens: u32,
    /// Time to produce them, µs.
    pub latency_us: u64,
    /// SHA-256 of the output text.
    pub content_hash: Sha256Hex,
    /// The output text, kept only by stores created with `--keep-content`.
    pub content: Option<String>,
}

/// `ai.model_change`: the active model changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiModelChange {
    /// The previous model; `None` when there was none. Required in JSON, where it may be `null`.
    pub from: Option<String>,
    /// The new model.
    pub to: String,
}

/// `ai.error`: a model failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiError {
    /// The model.
    pub model: String,
    /// Machine-readable error code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// `pattern.interference`: models' outputs interfered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternInterference {
    /// The models involved.
    pub models: Vec<String>,
    /// Interference strength.
    pub strength: Energy,
}

/// `pattern.resonance`: models' outputs resonated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternResonance {
    /// The models involved.
    pub models: Vec<String>,
    /// Resonance strength.
    pub strength: Energy,
}

/// Declares [`EventType`] and [`EventBody`] from one list, so the type strings, the variant
/// order (which is the bincode variant index) and [`EventType::ALL`] cannot drift apart.
macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        /// The type of an event, without its data.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventType {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl EventType {
            /// Every event type, in declaration order.
            pub const ALL: [EventType; 16] = [$(EventType::$variant,)*];

            /// The dotted type string used in JSON, e.g. `"energy.update"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }
        }

        /// An event's typed body. New variants go at the end: the position is the binary tag.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub enum EventBody {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant($variant),
            )*
        }

        impl EventBody {
            /// The type of this body.
            pub const fn event_type(&self) -> EventType {
                match self {
                    $(EventBody::$variant(_) => EventType::$variant,)*
                }
            }
        }
    };
}

event_types! {
    SessionStart => "session.start",
    SessionEnd => "session.end",
    SystemStartup => "system.startup",
    SystemShutdown => "system.shutdown",
    SystemHealth => "system.health",
    EnergyUpdate => "energy.update",
    EnergyPattern => "energy.pattern",
    EnergyAmplification => "energy.amplification",
    UserPrompt => "user.prompt",
    UserAction => "user.action",
    UserPreference => "user.preference",
    AiOutput => "ai.output",
    AiModelChange => "ai.model_change",
    AiError => "ai.error",
    PatternInterference => "pattern.interference",
    PatternResonance => "pattern.resonance",
}

impl EventBody {
    /// Drops the optional text `content` (of `user.prompt` and `ai.output`); the hashes stay.
    ///
    /// Stores created without `--keep-content` call this at append, so text never reaches disk.
    pub fn strip_content(&mut self) {
        match self {
            EventBody::UserPrompt(body) => body.content = None,
            EventBody::AiOutput(body) => body.content = None,
            _ => {}
        }
    }

    /// Whether the body carries optional text `content` that `strip_content` would drop.
    pub const fn has_content(&self) -> bool {
        match self {
            EventBody::UserPrompt(body) => body.content.is_some(),
            EventBody::AiOutput(body) => body.content.is_some(),
            _ => false,
        }
    }

    /// This event's contribution to its session's energy total, if it has one.
    ///
    /// Conservation is defined over exactly these deltas: `energy.update.delta` and
    /// `energy.amplification.delta`.
    pub const fn energy_delta(&self) -> Option<Energy> {
        match self {
            EventBody::EnergyUpdate(body) => Some(body.delta),
            EventBody::EnergyAmplification(body) => Some(body.delta),
            _ => None,
        }
    }
}

/// The type string names no known event type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type")]
#[non_exhaustive]
pub struct UnknownEventType;

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(text: &str) -> Result<EventType, UnknownEventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or(UnknownEventType)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn type_strings_round_trip() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!("energy.update".parse(), Ok(EventType::EnergyUpdate));
        assert_eq!("Energy.Update".parse::<EventType>(), Err(UnknownEventType));
        assert_eq!("".parse::<EventType>(), Err(UnknownEventType));
    }

    #[test]
    fn strip_content_keeps_hashes() {
        let hash = Sha256Hex::from_bytes([7; 32]);
        let mut body = EventBody::AiOutput(AiOutput {
            model: "m".into(),
            tokens: 1,
            latency_us: 2,
            content_hash: hash,
            content: Some("secret".into()),
        });
        body.strip_content();
        let EventBody::AiOutput(output) = &body else {
            panic!("variant changed");
        };
        assert_eq!(output.content, None);
        assert_eq!(output.content_hash, hash);
    }

    #[test]
    fn energy_delta_counts_updates_and_amplifications() {
        let one = Energy::from_micros(1);
        let update = EventBody::EnergyUpdate(EnergyUpdate { model: "m".into(), tokens: 1, delta: one });
        let amplification = EventBody::EnergyAmplification(EnergyAmplification {
            factor: Energy::from_micros(2_000_000),
            delta: one,
        });
        let pattern = EventBody::EnergyPattern(EnergyPattern { pattern: "p".into(), intensity: one });
        assert_eq!(update.energy_delta(), Some(one));
        assert_eq!(amplification.energy_delta(), Some(one));
        assert_eq!(pattern.energy_delta(), None);
    }
}
