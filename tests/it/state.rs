//! The energy state: determinism, exact conservation, stable hash, canonical bytes, and the
//! JSON form against schemas/energy-state.schema.json.

use proptest::prelude::*;
use wfstore::event::body::*;
use wfstore::event::{Energy, Event, EventBody, Id, Sha256Hex};
use wfstore::sim::{SimConfig, Simulator};
use wfstore::state::EnergyState;

fn sim(seed: u64) -> Vec<Event> {
    Simulator::new(SimConfig { seed, frames: 600, ..SimConfig::default() }).flatten().collect()
}

fn replay(events: &[Event]) -> EnergyState {
    EnergyState::replay(events.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)))
}

#[test]
fn replay_is_deterministic_and_the_hash_stable() {
    let events = sim(1);
    let (a, b) = (replay(&events), replay(&events));
    assert_eq!(a, b);
    assert_eq!(a.hash(), b.hash());
    let back = wfstore::codec::decode_state(&wfstore::codec::encode_state(&a)).unwrap();
    assert_eq!((back.hash(), &back), (a.hash(), &a));
    let mut changed = events.clone();
    let k = changed.iter().position(|e| matches!(e.body, EventBody::EnergyUpdate(_))).unwrap();
    if let EventBody::EnergyUpdate(u) = &mut changed[k].body {
        u.delta = Energy::from_micros(u.delta.micros() + 1);
    }
    assert_ne!(replay(&changed).hash(), a.hash(), "one micro-unit changes the hash");
}

#[test]
fn conservation_is_exact_against_independent_sums() {
    let events = sim(2);
    let state = replay(&events);
    assert_eq!(state.sessions.len(), 3);
    for (id, s) in &state.sessions {
        assert!(s.conservation_holds(), "{id}");
        let mine: Vec<&Event> = events.iter().filter(|e| e.session.as_str() == id).collect();
        let sum = |f: &dyn Fn(&EventBody) -> Option<i64>| {
            mine.iter().filter_map(|e| f(&e.body)).map(i128::from).sum::<i128>()
        };
        let updates =
            sum(&|b| if let EventBody::EnergyUpdate(u) = b { Some(u.delta.micros()) } else { None });
        let amps =
            sum(&|b| if let EventBody::EnergyAmplification(a) = b { Some(a.delta.micros()) } else { None });
        assert_eq!((s.energy_total, s.amplification), (updates + amps, amps));
        assert_eq!(s.events, mine.len() as u64);
    }
}

#[test]
fn session_only_keeps_one_session_and_its_user() {
    let state = replay(&sim(3));
    let id = state.sessions.keys().next().unwrap().clone();
    let one = state.session_only(&id);
    assert_eq!(one.sessions.keys().collect::<Vec<_>>(), [&id]);
    assert_eq!(one.users.len(), 1);
    assert!(one.users.contains_key(&state.sessions[&id].user));
}

#[test]
fn json_form_matches_its_schema_and_is_exact() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schemas/energy-state.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let state = replay(&sim(4));
    let json: serde_json::Value = serde_json::from_str(&state.to_json_string()).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(json["hash"], state.hash_hex());
    // 0.1 + 0.2 is 0.3, and a sum past f64's exact range prints exactly.
    let mut s = EnergyState::default();
    let mut e = sim(5)[0].clone();
    for (seq, micros) in [(1, 100_000), (2, 200_000)] {
        e.body = EventBody::EnergyUpdate(EnergyUpdate {
            model: "m".into(),
            tokens: 1,
            delta: Energy::from_micros(micros),
        });
        s.apply(seq, &e);
    }
    let text = s.to_json_string();
    assert!(text.contains(r#""energy_total":0.3,"#), "{text}");
    for seq in 3..6 {
        e.body = EventBody::EnergyUpdate(EnergyUpdate {
            model: "m".into(),
            tokens: 1,
            delta: Energy::from_micros(i64::MAX),
        });
        s.apply(seq, &e);
    }
    let big = i128::from(i64::MAX) * 3 + 300_000;
    assert!(
        s.to_json_string().contains(&format!(r#""energy_total":{},"#, wfstore::event::format_micros(big)))
    );
    assert!(s.to_json_string().contains(r#""energy_total":27670116110564.627421,"#));
}

fn any_event() -> impl Strategy<Value = Event> {
    let energy = prop_oneof![any::<i64>(), -1_000_000i64..1_000_000].prop_map(Energy::from_micros);
    let name = prop::sample::select(vec!["llama", "qwen", "phi"]).prop_map(String::from);
    let body = prop_oneof![
        (name.clone(), any::<u32>(), energy.clone()).prop_map(|(model, tokens, delta)| {
            EventBody::EnergyUpdate(EnergyUpdate { model, tokens, delta })
        }),
        (energy.clone(), energy.clone()).prop_map(|(factor, delta)| EventBody::EnergyAmplification(
            EnergyAmplification { factor, delta }
        )),
        (name.clone(), energy.clone())
            .prop_map(|(pattern, intensity)| EventBody::EnergyPattern(EnergyPattern { pattern, intensity })),
        (prop::collection::vec(name.clone(), 0..3), energy.clone()).prop_map(|(models, strength)| {
            EventBody::PatternResonance(PatternResonance { models, strength })
        }),
        (prop::collection::vec(name.clone(), 0..3), energy).prop_map(|(models, strength)| {
            EventBody::PatternInterference(PatternInterference { models, strength })
        }),
        prop::collection::vec(name.clone(), 0..3)
            .prop_map(|models| EventBody::SessionStart(SessionStart { app_version: "1".into(), models })),
        (prop::option::of(name.clone()), name.clone())
            .prop_map(|(from, to)| EventBody::AiModelChange(AiModelChange { from, to })),
        (any::<u8>(), any::<u32>(), any::<u32>()).prop_map(|(cpu_pct, mem_mb, frame_time_us)| {
            EventBody::SystemHealth(SystemHealth { cpu_pct, mem_mb, frame_time_us })
        }),
        (name.clone(), any::<u32>(), any::<u64>()).prop_map(|(model, tokens, latency_us)| {
            EventBody::AiOutput(AiOutput {
                model,
                tokens,
                latency_us,
                content_hash: Sha256Hex::from_bytes([1; 32]),
                content: None,
            })
        }),
        (name.clone(), name)
            .prop_map(|(key, value)| EventBody::UserPreference(UserPreference { key, value })),
        Just(EventBody::SessionEnd(SessionEnd { reason: "done".into() })),
    ];
    (any::<i64>(), any::<u64>(), 0u8..3, 0u8..2, body).prop_map(|(ts_ns, frame, s, u, body)| Event {
        ts_ns,
        frame,
        session: Id::try_from(format!("s{s}")).unwrap(),
        user: Id::try_from(format!("u{u}")).unwrap(),
        body,
    })
}

proptest! {
    #[test]
    fn any_stream_conserves_and_round_trips(events in prop::collection::vec(any_event(), 0..60)) {
        let state = replay(&events);
        for s in state.sessions.values() {
            prop_assert!(s.conservation_holds());
        }
        let bytes = wfstore::codec::encode_state(&state);
        let back = wfstore::codec::decode_state(&bytes).unwrap();
        prop_assert_eq!(back.hash(), state.hash());
        prop_assert_eq!(back, state.clone());
        let mut split = replay(&events[..events.len() / 2]);
        for (i, e) in events.iter().enumerate().skip(events.len() / 2) {
            split.apply(i as u64 + 1, e);
        }
        prop_assert_eq!(split, state);
    }
}
