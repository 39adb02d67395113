//! `wfstore export audit` end to end: the document of a simulated session in both formats
//! reads back, holds exactly the session's events, and its energies equal the replayed
//! state's digit for digit; the privacy filter; unknown sessions; `--out`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;
use wfstore::event::body::{AiOutput, UserPrompt};
use wfstore::event::{Event, EventBody, Sha256Hex, format_micros, parse_line, to_json_line};
use wfstore::sim::{SimConfig, Simulator};
use wfstore::{CreateOptions, Record, Store};

use crate::cli::{check, wf};
use crate::util::{self, SMALL_SEGMENT};

/// Prompt and output text with characters that need escaping in JSON and in YAML.
pub(crate) const SECRET_PROMPT: &str = "SECRET-PROMPT: what is \"energy\"?\n\tline two: #not-a-comment";
pub(crate) const SECRET_OUTPUT: &str = "SECRET-OUTPUT: 1.5 — 'quoted' \\ back\u{1}slash";

/// A store of two simulated sessions over several small segments, with a snapshot taken
/// half-way. With `keep_content`, the store keeps prompt and output text, the simulator
/// writes some, and the first session also gets [`SECRET_PROMPT`] and [`SECRET_OUTPUT`].
pub(crate) fn sim_store(tmp: &Path, keep_content: bool) -> PathBuf {
    let dir = tmp.join("store");
    Store::create(
        &dir,
        &CreateOptions { segment_bytes: SMALL_SEGMENT, keep_content, ..CreateOptions::default() },
    )
    .unwrap();
    let store = util::open(&dir);
    let cfg = SimConfig { sessions: 2, frames: 300, with_content: keep_content, ..SimConfig::default() };
    let mut first: Option<Event> = None;
    for (i, frame) in Simulator::new(cfg).enumerate() {
        first.get_or_insert_with(|| frame[0].clone());
        store.append_batch(&frame).unwrap();
        if i == 150 {
            store.snapshot_now(3).unwrap();
        }
    }
    if keep_content {
        let first = first.unwrap();
        let with = |body| Event { ts_ns: first.ts_ns + 10_000_000_000, frame: 400, body, ..first.clone() };
        let prompt = UserPrompt {
            prompt_hash: Sha256Hex::from_bytes([0xab; 32]),
            chars: SECRET_PROMPT.chars().count() as u32,
            content: Some(SECRET_PROMPT.to_owned()),
        };
        let output = AiOutput {
            model: "llama-3.1-8b".into(),
            tokens: 9,
            latency_us: 1_000,
            content_hash: Sha256Hex::from_bytes([0xcd; 32]),
            content: Some(SECRET_OUTPUT.to_owned()),
        };
        store
            .append_batch(&[with(EventBody::UserPrompt(prompt)), with(EventBody::AiOutput(output))])
            .unwrap();
    }
    store.close().unwrap();
    dir
}

/// The session ids of a store, in order.
pub(crate) fn session_ids(dir: &Path) -> Vec<String> {
    let store = util::open_ro(dir).unwrap();
    store.state().unwrap().0.sessions.into_keys().collect()
}

/// One session's stored records.
pub(crate) fn records_of(dir: &Path, id: &str) -> Vec<Record> {
    util::open_ro(dir).unwrap().session(id).map(Result::unwrap).collect()
}

/// An exact energy as the document holds it: raw JSON digits, or a YAML scalar's text.
trait Digits {
    fn digits(&self) -> String;
}

impl Digits for Box<RawValue> {
    fn digits(&self) -> String {
        self.get().to_owned()
    }
}

impl Digits for String {
    fn digits(&self) -> String {
        self.clone()
    }
}

/// The parts of the document these tests check, energies of type `E`.
#[derive(Deserialize)]
struct Doc<E> {
    format: String,
    version: u32,
    store_last_seq: u64,
    content_requested: bool,
    content_kept: bool,
    content_included: bool,
    session: SessionInfo,
    energy: Energy<E>,
    snapshots: Vec<Snapshot>,
    summary: Summary,
}

#[derive(Deserialize)]
struct SessionInfo {
    id: String,
    user: String,
    first_seq: u64,
    last_seq: u64,
    events: u64,
    started: bool,
    ended: bool,
    end_reason: Option<String>,
}

#[derive(Deserialize)]
struct Energy<E> {
    energy_total: E,
    by_model: BTreeMap<String, E>,
    amplification: E,
    conservation: Conservation<E>,
    replayed: Replayed<E>,
    matches_replay: bool,
}

#[derive(Deserialize)]
struct Conservation<E> {
    holds: bool,
    by_model_plus_amplification: E,
    energy_total: E,
}

#[derive(Deserialize)]
struct Replayed<E> {
    energy_total: E,
    by_model: BTreeMap<String, E>,
    amplification: E,
    conservation: bool,
}

#[derive(Deserialize)]
struct Snapshot {
    seq: u64,
    file: String,
    valid: bool,
    covers: String,
    session_matches_events: Option<bool>,
}

#[derive(Deserialize)]
struct Summary {
    events_by_type: BTreeMap<String, u64>,
    tokens_by_model: BTreeMap<String, u64>,
    prompts: u64,
    outputs: u64,
}

/// The JSON document's events, raw.
#[derive(Deserialize)]
struct JsonEvents {
    events: Vec<Box<RawValue>>,
}

/// Checks a read-back document against the store's state and events for session `id`.
fn check_doc<E: Digits>(dir: &Path, id: &str, doc: &Doc<E>) {
    let store = util::open_ro(dir).unwrap();
    let (state, _) = store.state().unwrap();
    let s = &state.sessions[id];
    let records = records_of(dir, id);
    assert_eq!((doc.format.as_str(), doc.version), ("wfstore-audit", 1));
    assert_eq!(doc.store_last_seq, store.last_seq());
    let info = &doc.session;
    assert_eq!((info.id.as_str(), info.user.as_str()), (id, s.user.as_str()));
    assert_eq!((info.first_seq, info.last_seq, info.events), (s.first_seq, s.last_seq, s.events));
    assert_eq!(info.events, records.len() as u64);
    assert!(info.started && info.ended, "the simulator starts and ends every session");
    assert_eq!(info.end_reason.as_deref(), s.context.ended.as_deref());

    // Energies: the replayed state's, exactly, in both the recomputed and replayed parts.
    let e = &doc.energy;
    let total = format_micros(s.energy_total);
    let by_model: BTreeMap<String, String> =
        s.by_model.iter().map(|(m, v)| (m.clone(), format_micros(*v))).collect();
    let digits = |m: &BTreeMap<String, E>| -> BTreeMap<String, String> {
        m.iter().map(|(k, v)| (k.clone(), v.digits())).collect()
    };
    assert!(s.energy_total > 0 && by_model.len() > 1, "a session with energy from several models");
    assert_eq!(e.energy_total.digits(), total);
    assert_eq!(digits(&e.by_model), by_model);
    assert_eq!(e.amplification.digits(), format_micros(s.amplification));
    assert_eq!(e.replayed.energy_total.digits(), total);
    assert_eq!(digits(&e.replayed.by_model), by_model);
    assert_eq!(e.replayed.amplification.digits(), format_micros(s.amplification));
    assert!(e.conservation.holds && e.matches_replay && e.replayed.conservation);
    assert_eq!(e.conservation.by_model_plus_amplification.digits(), total);
    assert_eq!(e.conservation.energy_total.digits(), total);

    // Snapshots: the one taken half-way and the final one, both checked.
    assert!(!doc.snapshots.is_empty());
    for snap in &doc.snapshots {
        assert!(snap.valid, "snapshot {}", snap.file);
        assert!(snap.file.starts_with("snapshots/snap-"), "{}", snap.file);
        let expected = if snap.seq < s.last_seq { "part" } else { "all" };
        assert_eq!(snap.covers, expected, "snapshot at seq {}", snap.seq);
        assert_eq!(snap.session_matches_events, Some(true), "snapshot at seq {}", snap.seq);
    }
    assert!(doc.snapshots.iter().any(|s| s.covers == "part"), "the half-way snapshot");

    let summary = &doc.summary;
    assert_eq!(summary.events_by_type, s.by_type);
    assert_eq!(summary.tokens_by_model, s.metrics.tokens_by_model);
    assert_eq!((summary.prompts, summary.outputs), (s.context.prompts, s.context.outputs));
    assert!(summary.prompts > 0 && summary.outputs > 0);
}

fn audit(dir: &Path, id: &str, format: &str, extra: &[&str]) -> String {
    let mut args = vec!["export", "audit", "--session", id, "--format", format];
    args.extend_from_slice(extra);
    let r = wf(dir, &args, None);
    check(&r, 0);
    assert_eq!(r.stderr, "");
    r.stdout
}

#[test]
fn json_document_holds_the_sessions_events_and_its_exact_energies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), false);
    let ids = session_ids(&dir);
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let text = audit(&dir, id, "json", &[]);
        let doc: Doc<Box<RawValue>> = serde_json::from_str(&text).unwrap();
        check_doc(&dir, id, &doc);
        assert_eq!((doc.content_requested, doc.content_kept, doc.content_included), (false, false, false));
        // The events: exactly the session's, each in the `tail` form, each parsing back.
        let JsonEvents { events } = serde_json::from_str(&text).unwrap();
        let records = records_of(&dir, id);
        assert_eq!(events.len(), records.len());
        for (raw, rec) in events.iter().zip(&records) {
            assert_eq!(raw.get(), to_json_line(rec.seq, &rec.event));
            assert_eq!(parse_line(raw.get(), 0).unwrap(), rec.event, "seq {}", rec.seq);
        }
    }
}

#[test]
fn yaml_document_is_the_same_tree_with_the_same_digits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), false);
    let id = &session_ids(&dir)[0];
    let yaml = audit(&dir, id, "yaml", &[]);
    let doc: Doc<String> = serde_saphyr::from_str(&yaml).unwrap();
    check_doc(&dir, id, &doc);
    // Energies are plain YAML numbers, not quoted strings.
    assert!(yaml.contains(&format!("\n  energy_total: {}\n", doc.energy.energy_total)), "{yaml:.2000}");
    // The whole tree equals the JSON document's (numbers compared as YAML and JSON readers
    // see them; their exact digits are checked above).
    let json = audit(&dir, id, "json", &[]);
    let from_yaml: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let from_json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(from_yaml, from_json);
    assert_eq!(from_yaml["events"].as_array().unwrap().len(), records_of(&dir, id).len());
}

/// Every content string and every content hash stored in session `id`.
fn contents_and_hashes(dir: &Path, id: &str) -> (Vec<String>, Vec<String>) {
    let (mut contents, mut hashes) = (Vec::new(), Vec::new());
    for rec in records_of(dir, id) {
        match rec.event.body {
            EventBody::UserPrompt(p) => {
                hashes.push(p.prompt_hash.to_string());
                contents.extend(p.content);
            }
            EventBody::AiOutput(o) => {
                hashes.push(o.content_hash.to_string());
                contents.extend(o.content);
            }
            _ => {}
        }
    }
    (contents, hashes)
}

#[test]
fn content_leaves_only_when_asked_for_and_hashes_always_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), true);
    let id = &session_ids(&dir)[0];
    let (contents, hashes) = contents_and_hashes(&dir, id);
    assert!(contents.len() > 2 && contents.iter().any(|c| c == SECRET_PROMPT), "{contents:?}");

    for format in ["json", "yaml"] {
        let out = audit(&dir, id, format, &[]);
        for c in &contents {
            let line = c.lines().next().unwrap();
            assert!(!out.contains(line), "{format}: {c:?} leaked");
        }
        assert!(!out.contains("SECRET"), "{format}");
        for h in &hashes {
            assert!(out.contains(h.as_str()), "{format}: hash {h} missing");
        }
        let v: serde_json::Value = match format {
            "json" => serde_json::from_str(&out).unwrap(),
            _ => serde_saphyr::from_str(&out).unwrap(),
        };
        assert_eq!(v["content_requested"], false, "{format}");
        assert_eq!(v["content_included"], false, "{format}");

        let out = audit(&dir, id, format, &["--include-content"]);
        let v: serde_json::Value = match format {
            "json" => serde_json::from_str(&out).unwrap(),
            _ => serde_saphyr::from_str(&out).unwrap(),
        };
        assert_eq!(v["content_included"], true);
        let shown: Vec<&str> =
            v["events"].as_array().unwrap().iter().filter_map(|e| e["data"]["content"].as_str()).collect();
        assert_eq!(shown, contents, "{format}: every text, exactly, in order");
        for h in &hashes {
            assert!(out.contains(h.as_str()), "{format}: hash {h} missing");
        }
    }
}

#[test]
fn a_store_without_content_says_so_when_content_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), false);
    let id = &session_ids(&dir)[1];
    let out = audit(&dir, id, "json", &["--include-content"]);
    let doc: Doc<Box<RawValue>> = serde_json::from_str(&out).unwrap();
    assert_eq!((doc.content_requested, doc.content_kept, doc.content_included), (true, false, false));
}

#[test]
fn unknown_session_is_an_error_naming_it_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), false);
    let out = tmp.path().join("audit.yaml");
    for extra in [&[][..], &["--out", out.to_str().unwrap()]] {
        let mut args = vec!["export", "audit", "--session", "nobody", "--format", "yaml"];
        args.extend_from_slice(extra);
        let r = wf(&dir, &args, None);
        check(&r, 1);
        assert!(r.stderr.starts_with("wfstore: error: "), "{}", r.stderr);
        assert!(r.stderr.contains("no session \"nobody\""), "{}", r.stderr);
        assert_eq!(r.stdout, "");
    }
    assert!(!out.exists());
    // A format is required, and only these two exist.
    check(&wf(&dir, &["export", "audit", "--session", "nobody"], None), 2);
    check(&wf(&dir, &["export", "audit", "--session", "x", "--format", "xml"], None), 2);
}

#[test]
fn out_writes_the_same_document_to_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = sim_store(tmp.path(), false);
    let id = &session_ids(&dir)[0];
    let out = tmp.path().join("audit.json");
    let r = wf(
        &dir,
        &["--json", "export", "audit", "--session", id, "--format", "json", "--out", out.to_str().unwrap()],
        None,
    );
    check(&r, 0);
    let summary: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(summary["session"], id.as_str());
    assert_eq!(summary["events"], records_of(&dir, id).len());
    assert_eq!(summary["checks_pass"], true);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), audit(&dir, id, "json", &[]));
}
