//! The parts of the audit document taken from the replayed state: patterns and the summary
//! metrics (counts by type, tokens by model, prompts, outputs, errors, performance).

use std::collections::BTreeMap;

use serde::Serialize;

use super::energy::ExactEnergy;
use crate::state::SessionState;
use crate::state::session::Coupling;

/// The patterns seen in the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternsReport {
    /// `energy.pattern` events, by pattern name.
    pub energy: BTreeMap<String, PatternReport>,
    /// `pattern.interference` events.
    pub interference: CouplingReport,
    /// `pattern.resonance` events.
    pub resonance: CouplingReport,
}

/// One named energy pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatternReport {
    /// Times seen.
    pub count: u64,
    /// Intensity of the last one.
    pub last_intensity: ExactEnergy,
    /// Sum of the intensities.
    pub sum_intensity: ExactEnergy,
}

/// Interference or resonance between models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CouplingReport {
    /// Times seen.
    pub count: u64,
    /// Sum of the strengths.
    pub sum_strength: ExactEnergy,
    /// The models of the last one.
    pub last_models: Vec<String>,
}

/// Summary metrics of the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Events, by type string.
    pub events_by_type: BTreeMap<String, u64>,
    /// Tokens of `energy.update` events, by model.
    pub tokens_by_model: BTreeMap<String, u64>,
    /// `energy.update` events.
    pub updates: u64,
    /// The largest single `energy.update.delta`.
    pub peak_delta: ExactEnergy,
    /// `energy.amplification` events.
    pub amplifications: u64,
    /// The last amplification factor (0 before any).
    pub last_factor: ExactEnergy,
    /// `user.prompt` events.
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
    /// Code of the last error.
    pub last_error: Option<String>,
    /// `ai.model_change` events.
    pub model_changes: u64,
    /// `user.action` events.
    pub actions: u64,
    /// From `system.health` reports.
    pub performance: PerformanceSummary,
}

/// Performance figures from the session's `system.health` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerformanceSummary {
    /// Reports seen; the fields below are `null` when 0.
    pub reports: u64,
    /// CPU use of the last report, %.
    pub last_cpu_pct: Option<u8>,
    /// Memory of the last report, MB.
    pub last_mem_mb: Option<u32>,
    /// Frame time of the last report, µs.
    pub last_frame_time_us: Option<u32>,
    /// Worst frame time reported, µs.
    pub max_frame_time_us: Option<u32>,
    /// Mean of the reported frame times, µs, rounded down.
    pub mean_frame_time_us: Option<u64>,
}

/// The patterns of `s`.
pub(super) fn patterns(s: &SessionState) -> PatternsReport {
    let coupling = |c: &Coupling| CouplingReport {
        count: c.count,
        sum_strength: ExactEnergy(c.sum_strength),
        last_models: c.last_models.clone(),
    };
    PatternsReport {
        energy: s
            .patterns
            .energy
            .iter()
            .map(|(name, p)| {
                let report = PatternReport {
                    count: p.count,
                    last_intensity: ExactEnergy(i128::from(p.last_intensity)),
                    sum_intensity: ExactEnergy(p.sum_intensity),
                };
                (name.clone(), report)
            })
            .collect(),
        interference: coupling(&s.patterns.interference),
        resonance: coupling(&s.patterns.resonance),
    }
}

/// The summary metrics of `s`.
pub(super) fn summary(s: &SessionState) -> Summary {
    let (c, m, p) = (&s.context, &s.metrics, &s.performance);
    let reported = p.reports > 0;
    Summary {
        events_by_type: s.by_type.clone(),
        tokens_by_model: m.tokens_by_model.clone(),
        updates: m.updates,
        peak_delta: ExactEnergy(i128::from(m.peak_delta)),
        amplifications: m.amplifications,
        last_factor: ExactEnergy(i128::from(m.last_factor)),
        prompts: c.prompts,
        prompt_chars: c.prompt_chars,
        outputs: c.outputs,
        output_tokens: c.output_tokens,
        output_latency_us: c.output_latency_us,
        errors: c.errors,
        last_error: c.last_error.clone(),
        model_changes: c.model_changes,
        actions: c.actions,
        performance: PerformanceSummary {
            reports: p.reports,
            last_cpu_pct: reported.then_some(p.cpu_pct),
            last_mem_mb: reported.then_some(p.mem_mb),
            last_frame_time_us: reported.then_some(p.frame_time_us),
            max_frame_time_us: reported.then_some(p.max_frame_time_us),
            mean_frame_time_us: p.sum_frame_time_us.checked_div(p.reports),
        },
    }
}
