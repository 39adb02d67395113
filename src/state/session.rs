//! One session's part of the energy state, and what each event does to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{BodyView, Event, EventRef};

/// Everything the events of one session add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    /// The user of the session's first event.
    pub user: String,
    /// Seq of the session's first event.
    pub first_seq: u64,
    /// Seq of its last event.
    pub last_seq: u64,
    /// Events applied.
    pub events: u64,
    /// Events per type (`"energy.update"` → n).
    pub by_type: BTreeMap<String, u64>,
    /// Render-frame state.
    pub frame: FrameState,
    /// The accumulator: Σ `energy.update.delta` + Σ `energy.amplification.delta`, µ-units.
    pub energy_total: i128,
    /// Per-model contributions: Σ `energy.update.delta` of each model, µ-units.
    pub by_model: BTreeMap<String, i128>,
    /// The amplification bucket: Σ `energy.amplification.delta`, µ-units.
    pub amplification: i128,
    /// Energy metrics beyond the accumulator.
    pub metrics: EnergyMetrics,
    /// Session context and metadata.
    pub context: SessionContext,
    /// Performance metrics from `system.health`.
    pub performance: Performance,
    /// Patterns seen.
    pub patterns: Patterns,
}

/// Where the session's render frames stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameState {
    /// Highest frame number seen.
    pub last_frame: u64,
    /// Latest timestamp seen.
    pub last_ts_ns: i64,
    /// Events in the highest frame so far.
    pub events_in_frame: u64,
    /// Distinct frames with events (counted when the frame number changes).
    pub frames: u64,
}

/// Energy metrics beyond the accumulator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyMetrics {
    /// `energy.update` events.
    pub updates: u64,
    /// Tokens per model from `energy.update`.
    pub tokens_by_model: BTreeMap<String, u64>,
    /// Largest single `energy.update.delta`, µ-units.
    pub peak_delta: i64,
    /// `energy.amplification` events.
    pub amplifications: u64,
    /// The last amplification factor, µ-units (0 before any).
    pub last_factor: i64,
}

/// What the session is: its app, its models, how far it got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionContext {
    /// `session.start` was seen.
    pub started: bool,
    /// `app_version` from `session.start`.
    pub app_version: String,
    /// Models listed at `session.start`.
    pub models: Vec<String>,
    /// Models in use now: the start's, changed by `ai.model_change`, kept sorted.
    pub active_models: Vec<String>,
    /// The reason given by `session.end`, once ended.
    pub ended: Option<String>,
    /// `system.startup` version, if reported.
    pub system_version: Option<String>,
    /// `system.shutdown` seen, and whether clean.
    pub shutdown_clean: Option<bool>,
    /// `user.prompt` events and their characters.
    pub prompts: u64,
    /// Characters over all prompts.
    pub prompt_chars: u64,
    /// `ai.output` events.
    pub outputs: u64,
    /// Tokens over all outputs.
    pub output_tokens: u64,
    /// Total output latency, µs.
    pub output_latency_us: u64,
    /// `ai.error` events.
    pub errors: u64,
    /// The last error code.
    pub last_error: Option<String>,
    /// `ai.model_change` events.
    pub model_changes: u64,
    /// `user.action` events.
    pub actions: u64,
}

/// Performance metrics from `system.health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Performance {
    /// Reports seen.
    pub reports: u64,
    /// Last CPU use, %.
    pub cpu_pct: u8,
    /// Last memory use, MB.
    pub mem_mb: u32,
    /// Last frame time, µs.
    pub frame_time_us: u32,
    /// Worst frame time reported, µs.
    pub max_frame_time_us: u32,
    /// Sum of reported frame times, µs (mean = sum / reports).
    pub sum_frame_time_us: u64,
}

/// Patterns seen in the session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patterns {
    /// `energy.pattern` by pattern name.
    pub energy: BTreeMap<String, PatternStats>,
    /// `pattern.interference`.
    pub interference: Coupling,
    /// `pattern.resonance`.
    pub resonance: Coupling,
}

/// One named energy pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternStats {
    /// Times seen.
    pub count: u64,
    /// Last intensity, µ-units.
    pub last_intensity: i64,
    /// Sum of intensities, µ-units.
    pub sum_intensity: i128,
}

/// Interference or resonance between models.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupling {
    /// Times seen.
    pub count: u64,
    /// Sum of strengths, µ-units.
    pub sum_strength: i128,
    /// Models of the last one.
    pub last_models: Vec<String>,
}

impl SessionState {
    /// A session first seen at `seq`, by `user`.
    pub fn new(user: &str, seq: u64) -> Self {
        SessionState { user: user.to_owned(), first_seq: seq, ..SessionState::default() }
    }

    /// The conservation rule: the total is the per-model sums plus the amplification bucket.
    pub fn conservation_holds(&self) -> bool {
        self.by_model.values().sum::<i128>() + self.amplification == self.energy_total
    }

    /// Applies one event of this session. Counters saturate; sums are `i128`.
    pub fn apply(&mut self, seq: u64, event: &Event) {
        self.apply_ref(seq, &event.as_ref());
    }

    pub(crate) fn apply_ref(&mut self, seq: u64, event: &EventRef<'_>) {
        bump(&mut self.by_type, event.body.event_type().as_str());
        self.apply_uncounted(seq, event);
    }

    /// `apply_ref` but for `by_type`, which the caller counts (replay counts types in an
    /// array and adds them to the map once: `state::fold`).
    pub(crate) fn apply_uncounted(&mut self, seq: u64, event: &EventRef<'_>) {
        self.last_seq = seq;
        self.events = self.events.saturating_add(1);
        self.apply_frame(event);
        self.apply_body(&event.body);
    }

    fn apply_frame(&mut self, event: &EventRef<'_>) {
        let f = &mut self.frame;
        if f.frames == 0 || event.frame > f.last_frame {
            f.frames = f.frames.saturating_add(1);
            f.last_frame = event.frame;
            f.events_in_frame = 0;
        }
        if event.frame == f.last_frame {
            f.events_in_frame = f.events_in_frame.saturating_add(1);
        }
        f.last_ts_ns = f.last_ts_ns.max(event.ts_ns);
    }

    fn apply_body(&mut self, body: &BodyView<'_>) {
        let ctx = &mut self.context;
        match body {
            BodyView::SessionStart { app_version, models } => {
                ctx.started = true;
                (*app_version).clone_into(&mut ctx.app_version);
                ctx.models = owned(models);
                ctx.active_models = sorted(owned(models));
            }
            BodyView::SessionEnd { reason } => ctx.ended = Some((*reason).to_owned()),
            BodyView::SystemStartup { version } => ctx.system_version = Some((*version).to_owned()),
            BodyView::SystemShutdown { clean } => ctx.shutdown_clean = Some(*clean),
            BodyView::SystemHealth { cpu_pct, mem_mb, frame_time_us } => {
                let p = &mut self.performance;
                p.reports = p.reports.saturating_add(1);
                (p.cpu_pct, p.mem_mb, p.frame_time_us) = (*cpu_pct, *mem_mb, *frame_time_us);
                p.max_frame_time_us = p.max_frame_time_us.max(*frame_time_us);
                p.sum_frame_time_us = p.sum_frame_time_us.saturating_add(u64::from(*frame_time_us));
            }
            BodyView::EnergyUpdate { model, tokens, delta } => {
                let d = *delta;
                self.energy_total += i128::from(d);
                update(&mut self.by_model, model, |e| *e += i128::from(d));
                let m = &mut self.metrics;
                m.updates = m.updates.saturating_add(1);
                update(&mut m.tokens_by_model, model, |t| *t = t.saturating_add(u64::from(*tokens)));
                m.peak_delta = if m.updates == 1 { d } else { m.peak_delta.max(d) };
            }
            BodyView::EnergyAmplification { factor, delta } => {
                let d = i128::from(*delta);
                self.energy_total += d;
                self.amplification += d;
                self.metrics.amplifications = self.metrics.amplifications.saturating_add(1);
                self.metrics.last_factor = *factor;
            }
            BodyView::EnergyPattern { pattern, intensity } => {
                update(&mut self.patterns.energy, pattern, |p| {
                    p.count = p.count.saturating_add(1);
                    p.last_intensity = *intensity;
                    p.sum_intensity += i128::from(*intensity);
                });
            }
            BodyView::PatternInterference { models, strength } => {
                couple(&mut self.patterns.interference, models, *strength)
            }
            BodyView::PatternResonance { models, strength } => {
                couple(&mut self.patterns.resonance, models, *strength)
            }
            BodyView::UserPrompt { chars } => {
                ctx.prompts = ctx.prompts.saturating_add(1);
                ctx.prompt_chars = ctx.prompt_chars.saturating_add(u64::from(*chars));
            }
            BodyView::UserAction => ctx.actions = ctx.actions.saturating_add(1),
            BodyView::UserPreference { .. } => {}
            BodyView::AiOutput { tokens, latency_us } => {
                ctx.outputs = ctx.outputs.saturating_add(1);
                ctx.output_tokens = ctx.output_tokens.saturating_add(u64::from(*tokens));
                ctx.output_latency_us = ctx.output_latency_us.saturating_add(*latency_us);
            }
            BodyView::AiModelChange { from, to } => {
                ctx.model_changes = ctx.model_changes.saturating_add(1);
                if let Some(from) = from {
                    ctx.active_models.retain(|m| m != from);
                }
                if !ctx.active_models.iter().any(|m| m == to) {
                    ctx.active_models.push((*to).to_owned());
                    ctx.active_models.sort();
                }
            }
            BodyView::AiError { code } => {
                ctx.errors = ctx.errors.saturating_add(1);
                ctx.last_error = Some((*code).to_owned());
            }
        }
    }
}

fn couple(c: &mut Coupling, models: &[&str], strength: i64) {
    c.count = c.count.saturating_add(1);
    c.sum_strength += i128::from(strength);
    c.last_models = owned(models);
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|&m| m.to_owned()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Adds one to a counter keyed by a string.
pub(super) fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    add(map, key, 1);
}

/// Adds `n` to a counter keyed by a string (saturating, as `n` bumps would).
pub(super) fn add(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    update(map, key, |c| *c = c.saturating_add(n));
}

/// Runs `f` on the value for `key`, inserted as default if missing. Unlike `entry`, the
/// key is allocated only the first time, and a present key is looked up once: replay
/// looks up the same few keys millions of times.
fn update<V: Default>(map: &mut BTreeMap<String, V>, key: &str, f: impl FnOnce(&mut V)) {
    if let Some(v) = map.get_mut(key) {
        return f(v);
    }
    let mut v = V::default();
    f(&mut v);
    map.insert(key.to_owned(), v);
}
