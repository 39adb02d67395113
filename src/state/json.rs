//! The JSON form of the state (`replay --json`, schemas/energy-state.schema.json). Built as
//! text so energies stay exact: an `i128` of micro-units is printed as a decimal number
//! with at most 6 decimals, never through a float.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::EnergyState;
use super::session::{Coupling, PatternStats, SessionState};
use super::user::UserState;
use crate::event::format_micros;

/// Renders the whole state as one JSON object.
pub(super) fn render(state: &EnergyState) -> String {
    let mut o = Obj::new();
    o.raw("last_seq", state.last_seq.to_string());
    o.raw("hash", quote(&state.hash_hex()));
    o.raw("sessions", map(&state.sessions, session));
    o.raw("users", map(&state.users, user));
    o.finish()
}

fn session(s: &SessionState) -> String {
    let mut o = Obj::new();
    o.raw("energy_total", format_micros(s.energy_total));
    o.raw("by_model", map(&s.by_model, |e| format_micros(*e)));
    o.raw("amplification", format_micros(s.amplification));
    o.raw("conservation", s.conservation_holds().to_string());
    o.raw("events", s.events.to_string());
    o.raw("user", quote(&s.user));
    o.raw("first_seq", s.first_seq.to_string());
    o.raw("last_seq", s.last_seq.to_string());
    o.raw("by_type", map(&s.by_type, u64::to_string));
    let f = &s.frame;
    o.raw(
        "frame",
        obj(&[
            ("last_frame", f.last_frame.to_string()),
            ("last_ts_ns", f.last_ts_ns.to_string()),
            ("events_in_frame", f.events_in_frame.to_string()),
            ("frames", f.frames.to_string()),
        ]),
    );
    let m = &s.metrics;
    o.raw(
        "metrics",
        obj(&[
            ("updates", m.updates.to_string()),
            ("tokens_by_model", map(&m.tokens_by_model, u64::to_string)),
            ("peak_delta", format_micros(i128::from(m.peak_delta))),
            ("amplifications", m.amplifications.to_string()),
            ("last_factor", format_micros(i128::from(m.last_factor))),
        ]),
    );
    o.raw("context", context(s));
    let p = &s.performance;
    o.raw(
        "performance",
        obj(&[
            ("reports", p.reports.to_string()),
            ("cpu_pct", p.cpu_pct.to_string()),
            ("mem_mb", p.mem_mb.to_string()),
            ("frame_time_us", p.frame_time_us.to_string()),
            ("max_frame_time_us", p.max_frame_time_us.to_string()),
            ("sum_frame_time_us", p.sum_frame_time_us.to_string()),
        ]),
    );
    o.raw(
        "patterns",
        obj(&[
            ("energy", map(&s.patterns.energy, pattern)),
            ("interference", coupling(&s.patterns.interference)),
            ("resonance", coupling(&s.patterns.resonance)),
        ]),
    );
    o.finish()
}

fn context(s: &SessionState) -> String {
    let c = &s.context;
    let opt = |v: &Option<String>| v.as_deref().map_or("null".to_owned(), quote);
    obj(&[
        ("started", c.started.to_string()),
        ("app_version", quote(&c.app_version)),
        ("models", list(&c.models)),
        ("active_models", list(&c.active_models)),
        ("ended", opt(&c.ended)),
        ("system_version", opt(&c.system_version)),
        ("shutdown_clean", c.shutdown_clean.map_or("null".to_owned(), |b| b.to_string())),
        ("prompts", c.prompts.to_string()),
        ("prompt_chars", c.prompt_chars.to_string()),
        ("outputs", c.outputs.to_string()),
        ("output_tokens", c.output_tokens.to_string()),
        ("output_latency_us", c.output_latency_us.to_string()),
        ("errors", c.errors.to_string()),
        ("last_error", opt(&c.last_error)),
        ("model_changes", c.model_changes.to_string()),
        ("actions", c.actions.to_string()),
    ])
}

fn pattern(p: &PatternStats) -> String {
    obj(&[
        ("count", p.count.to_string()),
        ("last_intensity", format_micros(i128::from(p.last_intensity))),
        ("sum_intensity", format_micros(p.sum_intensity)),
    ])
}

fn coupling(c: &Coupling) -> String {
    obj(&[
        ("count", c.count.to_string()),
        ("sum_strength", format_micros(c.sum_strength)),
        ("last_models", list(&c.last_models)),
    ])
}

fn user(u: &UserState) -> String {
    obj(&[
        ("events", u.events.to_string()),
        ("sessions_started", u.sessions_started.to_string()),
        ("sessions_ended", u.sessions_ended.to_string()),
        ("prompts", u.prompts.to_string()),
        ("actions", u.actions.to_string()),
        ("energy", format_micros(u.energy)),
        ("preferences", map(&u.preferences, |v| quote(v))),
    ])
}

/// A JSON object being built from already-rendered values.
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Obj(String::from("{"))
    }

    fn raw(&mut self, key: &str, value: String) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        let _ = write!(self.0, "{}:{value}", quote(key));
    }

    fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn obj(fields: &[(&str, String)]) -> String {
    let mut o = Obj::new();
    for (k, v) in fields {
        o.raw(k, v.clone());
    }
    o.finish()
}

fn map<V>(m: &BTreeMap<String, V>, render: impl Fn(&V) -> String) -> String {
    let mut o = Obj::new();
    for (k, v) in m {
        o.raw(k, render(v));
    }
    o.finish()
}

fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", inner.join(","))
}

/// A JSON string literal (serde_json does the escaping).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}
