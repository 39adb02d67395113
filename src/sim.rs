//! A seeded simulator of WirthForge sessions at 60 Hz: several local models streaming tokens
//! into energy, amplification, interference and resonance, prompts and outputs, model
//! changes, errors and health reports. Same seed, same events: tests, benches and the demo
//! all draw on it.

use crate::event::body::*;
use crate::event::{Energy, Event, EventBody, Id, Sha256Hex};

/// Nanoseconds in one 60 Hz frame.
pub const FRAME_NS: i64 = 16_666_667;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The random seed.
    pub seed: u64,
    /// Concurrent sessions (each with its own user).
    pub sessions: usize,
    /// Frames to simulate (60 per second).
    pub frames: u64,
    /// Models streaming in each session.
    pub models: Vec<String>,
    /// Wall-clock time of frame 0.
    pub start_ns: i64,
    /// Keep prompt and output text in the events.
    pub with_content: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            sessions: 3,
            frames: 600,
            models: ["llama-3.1-8b", "qwen2.5-7b", "mistral-7b", "phi-3-mini"].map(String::from).to_vec(),
            start_ns: 1_790_000_000_000_000_000,
            with_content: false,
        }
    }
}

/// Generates one frame's events at a time.
pub struct Simulator {
    cfg: SimConfig,
    rng: fastrand::Rng,
    frame: u64,
    sessions: Vec<SimSession>,
}

struct SimSession {
    id: Id,
    user: Id,
    models: Vec<String>,
    streaming: Vec<bool>,
}

impl Simulator {
    /// A simulator for `cfg`.
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = fastrand::Rng::with_seed(cfg.seed);
        let sessions = (0..cfg.sessions)
            .map(|i| {
                let n = cfg.models.len().clamp(1, 3);
                let start = rng.usize(..cfg.models.len().max(1));
                let models = (0..n).map(|k| cfg.models[(start + k) % cfg.models.len()].clone()).collect();
                SimSession {
                    id: id(format!("session-{:04}-{:08x}", i, rng.u32(..))),
                    user: id(format!("user-{:03}", i % 7)),
                    models,
                    streaming: vec![false; n],
                }
            })
            .collect();
        Simulator { cfg, rng, frame: 0, sessions }
    }

    /// The events of the next frame, or `None` after the last frame.
    pub fn next_frame(&mut self) -> Option<Vec<Event>> {
        if self.frame >= self.cfg.frames {
            return None;
        }
        let mut out = Vec::new();
        let ts = self.cfg.start_ns + self.frame as i64 * FRAME_NS;
        for s in 0..self.sessions.len() {
            let bodies = self.session_frame(s);
            let sess = &self.sessions[s];
            for (k, body) in bodies.into_iter().enumerate() {
                out.push(Event {
                    ts_ns: ts + k as i64 * 1_000,
                    frame: self.frame,
                    session: sess.id.clone(),
                    user: sess.user.clone(),
                    body,
                });
            }
        }
        self.frame += 1;
        Some(out)
    }

    fn session_frame(&mut self, s: usize) -> Vec<EventBody> {
        let (frame, last) = (self.frame, self.cfg.frames - 1);
        let mut b = Vec::new();
        if frame == 0 {
            // A session's first event is its start; `validate` holds the store to that.
            let models = self.sessions[s].models.clone();
            b.push(EventBody::SessionStart(SessionStart { app_version: "0.9.3".into(), models }));
            b.push(EventBody::SystemStartup(SystemStartup { version: "wirthforge 0.9.3".into() }));
        }
        if frame % 240 == 1 {
            b.push(self.prompt());
            let n = self.sessions[s].streaming.len();
            self.sessions[s].streaming = vec![true; n];
        }
        self.stream(s, &mut b);
        self.occasional(s, &mut b);
        if frame % 60 == 59 {
            b.push(EventBody::SystemHealth(SystemHealth {
                cpu_pct: self.rng.u8(20..95),
                mem_mb: self.rng.u32(2_000..14_000),
                frame_time_us: self.rng.u32(9_000..16_500),
            }));
        }
        if frame == last {
            b.push(EventBody::SessionEnd(SessionEnd { reason: "user closed the window".into() }));
            b.push(EventBody::SystemShutdown(SystemShutdown { clean: true }));
        }
        b
    }

    /// Token streaming: energy per model, an output when a model finishes its answer.
    fn stream(&mut self, s: usize, b: &mut Vec<EventBody>) {
        for m in 0..self.sessions[s].models.len() {
            if !self.sessions[s].streaming[m] {
                continue;
            }
            let model = self.sessions[s].models[m].clone();
            let tokens = self.rng.u32(1..6);
            let delta = Energy::from_micros(i64::from(tokens) * self.rng.i64(40_000..160_000));
            b.push(EventBody::EnergyUpdate(EnergyUpdate { model: model.clone(), tokens, delta }));
            if self.rng.u32(..90) == 0 {
                self.sessions[s].streaming[m] = false;
                let content = self.cfg.with_content.then(|| format!("answer from {model}"));
                b.push(EventBody::AiOutput(AiOutput {
                    model,
                    tokens: self.rng.u32(50..900),
                    latency_us: self.rng.u64(80_000..4_000_000),
                    content_hash: self.hash(),
                    content,
                }));
            }
        }
    }

    /// The rarer events: amplification, patterns, actions, model changes, errors.
    fn occasional(&mut self, s: usize, b: &mut Vec<EventBody>) {
        let models = self.sessions[s].models.clone();
        match self.rng.u32(..400) {
            0..=9 => {
                let factor = Energy::from_micros(self.rng.i64(1_050_000..1_800_000));
                let delta = Energy::from_micros(self.rng.i64(10_000..400_000));
                b.push(EventBody::EnergyAmplification(EnergyAmplification { factor, delta }));
            }
            10..=15 => {
                let strength = Energy::from_micros(self.rng.i64(0..1_000_000));
                b.push(EventBody::PatternInterference(PatternInterference { models, strength }));
            }
            16..=19 => {
                let strength = Energy::from_micros(self.rng.i64(0..1_000_000));
                b.push(EventBody::PatternResonance(PatternResonance { models, strength }));
            }
            20..=23 => {
                let intensity = Energy::from_micros(self.rng.i64(0..2_000_000));
                let pattern = ["spiral", "pulse", "cascade"][self.rng.usize(..3)].into();
                b.push(EventBody::EnergyPattern(EnergyPattern { pattern, intensity }));
            }
            24..=26 => b.push(EventBody::UserAction(UserAction {
                action: "focus".into(),
                target: Some(format!("panel-{}", self.rng.u8(..4))),
            })),
            27 => b.push(EventBody::UserPreference(UserPreference {
                key: "theme".into(),
                value: ["dark", "light"][self.rng.usize(..2)].into(),
            })),
            28 => {
                let m = self.rng.usize(..models.len().max(1));
                let to = self.cfg.models[self.rng.usize(..self.cfg.models.len())].clone();
                let from = models.get(m).cloned();
                self.sessions[s].models[m] = to.clone();
                b.push(EventBody::AiModelChange(AiModelChange { from, to }));
            }
            29 => b.push(EventBody::AiError(AiError {
                model: models.first().cloned().unwrap_or_default(),
                code: "ctx_overflow".into(),
                message: "context window exceeded; truncating".into(),
            })),
            _ => {}
        }
    }

    fn prompt(&mut self) -> EventBody {
        let chars = self.rng.u32(10..2_000);
        let content = self.cfg.with_content.then(|| format!("prompt of {chars} characters"));
        EventBody::UserPrompt(UserPrompt { prompt_hash: self.hash(), chars, content })
    }

    fn hash(&mut self) -> Sha256Hex {
        let mut h = [0u8; 32];
        self.rng.fill(&mut h);
        Sha256Hex::from_bytes(h)
    }
}

impl Iterator for Simulator {
    type Item = Vec<Event>;

    fn next(&mut self) -> Option<Vec<Event>> {
        self.next_frame()
    }
}

/// Event number `i` of a synthetic stream: a pure function of `(seed, i)`, so a crash test
/// can check every byte of what it gets back. Bodies are about 128 bytes.
pub fn synthetic(seed: u64, i: u64) -> Event {
    let mut rng = fastrand::Rng::with_seed(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let body = if i % 4 == 3 {
        let mut h = [0u8; 32];
        rng.fill(&mut h);
        EventBody::AiOutput(AiOutput {
            model: "llama-3.1-8b-instruct-q4".into(),
            tokens: rng.u32(1..1000),
            latency_us: rng.u64(..10_000_000),
            content_hash: Sha256Hex::from_bytes(h),
            content: None,
        })
    } else {
        EventBody::EnergyUpdate(EnergyUpdate {
            model: ["llama-3.1-8b-instruct-q4", "qwen2.5-7b-instruct-q5"][rng.usize(..2)].into(),
            tokens: rng.u32(1..8),
            delta: Energy::from_micros(rng.i64(1..1_000_000)),
        })
    };
    Event {
        ts_ns: 1_790_000_000_000_000_000 + i as i64 * 16_000,
        frame: i / 1000,
        session: id(format!("session-{:04}-wirthforge-desktop", i % 8)),
        user: id(format!("user-{:03}-local", i % 3)),
        body,
    }
}

fn id(s: String) -> Id {
    // Every id built here is short ASCII, inside the 1..=128 byte limit.
    Id::try_from(s).unwrap_or_else(|_| unreachable!("simulator ids are valid"))
}
