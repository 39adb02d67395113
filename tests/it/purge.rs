//! Purge (formats/purge.md): afterwards no file under the store holds a byte of the purged
//! user's ids or content, in the plain or in the forms the codec writes them; everybody
//! else's events, seqs and state are intact; a power loss at any step of the purge leaves
//! the store as it was or fully purged.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wfstore::disk::Disk;
use wfstore::event::body::{AiOutput, EnergyUpdate, SessionEnd, SessionStart, UserPrompt};
use wfstore::event::{Energy, Event, EventBody, Id, Sha256Hex};
use wfstore::faultsim::crash;
use wfstore::faultsim::recorder::Recorder;
use wfstore::state::EnergyState;
use wfstore::{CreateOptions, OpenOptions, Store};

use crate::util::{SMALL_SEGMENT, open, open_with};

const USERS: [&str; 3] = ["alice-7f3a", "bob-11c2", "carol-9e0d"];

/// The raw bytes of a user's prompt and output hashes in round `r`: the codec writes them
/// as a length-prefixed byte string, so they must go too.
fn hash_of(user: usize, r: u64, output: bool) -> [u8; 32] {
    let mut h = [0u8; 32];
    fastrand::Rng::with_seed(user as u64 * 1_000_003 + r * 2 + u64::from(output)).fill(&mut h);
    h
}

fn event(user: usize, r: u64, k: u64, body: EventBody) -> Event {
    Event {
        ts_ns: 1_790_000_000_000_000_000 + (r * 100 + k) as i64 * 1000 + user as i64,
        frame: r * 10 + k,
        session: Id::try_from(format!("{}-session-{r}", USERS[user])).unwrap(),
        user: Id::try_from(USERS[user]).unwrap(),
        body,
    }
}

/// One session of `user` in round `r`: start, energy, a prompt and an answer with their
/// text, end.
fn session(user: usize, r: u64) -> Vec<Event> {
    let name = USERS[user];
    let prompt = format!("{name} secret prompt {r}");
    vec![
        event(
            user,
            r,
            0,
            EventBody::SessionStart(SessionStart { app_version: "1.0".into(), models: vec!["llama".into()] }),
        ),
        event(
            user,
            r,
            1,
            EventBody::EnergyUpdate(EnergyUpdate {
                model: "llama".into(),
                tokens: 3,
                delta: Energy::from_micros(1_250_000 + r as i64),
            }),
        ),
        event(
            user,
            r,
            2,
            EventBody::UserPrompt(UserPrompt {
                prompt_hash: Sha256Hex::from_bytes(hash_of(user, r, false)),
                chars: prompt.len() as u32,
                content: Some(prompt),
            }),
        ),
        event(
            user,
            r,
            3,
            EventBody::AiOutput(AiOutput {
                model: "llama".into(),
                tokens: 40,
                latency_us: 900,
                content_hash: Sha256Hex::from_bytes(hash_of(user, r, true)),
                content: Some(format!("{name} private answer {r}")),
            }),
        ),
        event(
            user,
            r,
            4,
            EventBody::EnergyUpdate(EnergyUpdate {
                model: "llama".into(),
                tokens: 5,
                delta: Energy::from_micros(-250_000),
            }),
        ),
        event(user, r, 5, EventBody::SessionEnd(SessionEnd { reason: "user".into() })),
    ]
}

/// Rounds of interleaved sessions of every user, seqs from 1.
fn workload(rounds: u64) -> Vec<Event> {
    (0..rounds).flat_map(|r| (0..USERS.len()).flat_map(move |u| session(u, r))).collect()
}

/// A keep-content store with small segments (so sealed segments and index files exist)
/// holding `events`, with a snapshot.
fn store_of(dir: &Path, events: &[Event]) {
    let opts = CreateOptions { segment_bytes: SMALL_SEGMENT, keep_content: true, ..CreateOptions::default() };
    Store::create(dir, &opts).unwrap();
    let s = open(dir);
    for chunk in events.chunks(7) {
        s.append_batch(chunk).unwrap();
    }
    s.snapshot_now(3).unwrap();
    s.close().unwrap();
}

/// Every byte string that must not survive a purge of `user` (index into `USERS`): the ids,
/// the content, the hashes raw and in hex.
fn needles(user: usize, rounds: u64) -> Vec<Vec<u8>> {
    let name = USERS[user];
    let mut out = vec![name.as_bytes().to_vec()];
    for r in 0..rounds {
        out.push(format!("{name}-session-{r}").into_bytes());
        out.push(format!("{name} secret prompt {r}").into_bytes());
        for output in [false, true] {
            let h = hash_of(user, r, output);
            out.push(h.to_vec());
            out.push(h.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes());
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

/// Where any needle occurs in any file under `dir`: (file, needle as lossy text).
fn occurrences(dir: &Path, needles: &[Vec<u8>]) -> Vec<(PathBuf, String)> {
    let mut hits = Vec::new();
    for path in files_under(dir) {
        let mut bytes = std::fs::read(&path).unwrap();
        // A snapshot's state is zstd-compressed after its 96-byte head (formats/snapshot.md):
        // the ids would not show in the plain bytes, so search the state bytes too.
        if bytes.starts_with(b"WFSNAPSH") && bytes.len() > 96 {
            let state = zstd::decode_all(&bytes[96..]).unwrap();
            bytes.extend_from_slice(&state);
        }
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_slice()) {
                hits.push((path.clone(), String::from_utf8_lossy(n).into_owned()));
            }
        }
    }
    hits
}

/// The state a replay of `events` (seqs from 1) gives, keeping those `keep` says.
fn replay(events: &[Event], keep: impl Fn(&Event) -> bool) -> EnergyState {
    let mut state = EnergyState::default();
    for (i, e) in events.iter().enumerate() {
        if keep(e) {
            state.apply(i as u64 + 1, e);
        }
    }
    state
}

/// What the store shows: every seq with its event, or `None` for a purged one.
fn shown(store: &Store, n: u64) -> Vec<Option<Event>> {
    (1..=n).map(|seq| store.get(seq).unwrap().map(|r| r.event)).collect()
}

fn expected_after(events: &[Event], gone: impl Fn(&Event) -> bool) -> Vec<Option<Event>> {
    events.iter().map(|e| (!gone(e)).then(|| e.clone())).collect()
}

#[test]
fn purging_a_user_leaves_no_byte_of_their_ids_or_content_and_everyone_else_intact() {
    let dir = tempfile::tempdir().unwrap();
    let events = workload(40);
    store_of(dir.path(), &events);
    let alice = needles(0, 40);
    // The search finds what is there: every needle but the hex forms (which the codec
    // does not write) is in the store before the purge.
    for n in alice.iter().filter(|n| n.len() != 64) {
        assert!(!occurrences(dir.path(), std::slice::from_ref(n)).is_empty(), "{n:?} not found before");
    }

    let store = open(dir.path());
    let report = store.purge_user(USERS[0]).unwrap();
    let is_alice = |e: &Event| e.user.as_str() == USERS[0];
    let purged = events.iter().filter(|e| is_alice(e)).count() as u64;
    assert_eq!(report.events, purged);
    assert_eq!(report.seqs, Some((1, events.iter().rposition(is_alice).unwrap() as u64 + 1)));
    assert!(report.segments > 1, "the purge rewrote sealed segments and the last one");
    assert!(report.snapshot.is_some(), "a snapshot without her was written");
    let n = events.len() as u64;
    assert_eq!(shown(&store, n), expected_after(&events, is_alice));
    assert_eq!(store.last_seq(), n, "seqs are kept: the log is gap-free");
    let want = replay(&events, |e| !is_alice(e));
    assert_eq!(store.state().unwrap().0.hash(), want.hash());
    assert_eq!(store.session(&format!("{}-session-3", USERS[0])).count(), 0);
    assert_eq!(store.session(&format!("{}-session-3", USERS[1])).count(), 6);
    // Appends go on after the purge, at the next seq.
    assert_eq!(store.append(&session(1, 99)[0]).unwrap(), n + 1);
    store.close().unwrap();

    assert_eq!(occurrences(dir.path(), &alice), vec![]);
    assert!(!occurrences(dir.path(), &needles(1, 40)).is_empty(), "bob's data is still there");
    let store = open(dir.path());
    assert!(store.recovery_report().finished_purge.is_none());
    // The rewritten index files (postings for fewer frames than the segment holds) are used
    // as they are, not rebuilt.
    store.check_indexes().unwrap();
    assert_eq!(store.warnings(), Vec::<String>::new());
    let v = wfstore::validate::validate(&store).unwrap();
    assert!(v.is_valid(), "{:?}", v.violations);
    assert_eq!(v.events, n + 1 - purged);
    let audit = wfstore::audit::read(&Disk::default(), dir.path()).unwrap();
    let rec = audit.records.last().unwrap().1;
    assert_eq!((rec.action, rec.events), (wfstore::audit::Action::Purge, purged));
    assert!(rec.subject.unwrap().is(wfstore::audit::Subject::USER, USERS[0]));
    store.close().unwrap();
    let verify = wfstore::verify::verify(dir.path()).unwrap();
    assert!(verify.is_clean(), "{verify:?}");
}

#[test]
fn purging_a_session_removes_that_session_only() {
    let dir = tempfile::tempdir().unwrap();
    let events = workload(12);
    store_of(dir.path(), &events);
    let store = open(dir.path());
    let target = format!("{}-session-5", USERS[1]);
    let report = store.purge_session(&target).unwrap();
    assert_eq!(report.events, 6);
    let gone = |e: &Event| e.session.as_str() == target;
    assert_eq!(shown(&store, events.len() as u64), expected_after(&events, gone));
    assert_eq!(store.state().unwrap().0.hash(), replay(&events, |e| !gone(e)).hash());
    store.close().unwrap();
    let hits = occurrences(
        dir.path(),
        &[target.clone().into_bytes(), format!("{} secret prompt 5", USERS[1]).into_bytes()],
    );
    assert_eq!(hits, vec![]);
    assert_eq!(store_session_count(dir.path(), &format!("{}-session-4", USERS[1])), 6);
}

fn store_session_count(dir: &Path, session: &str) -> usize {
    let store = open(dir);
    store.session(session).count()
}

#[test]
fn a_purge_of_nobody_changes_no_event_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let events = workload(3);
    store_of(dir.path(), &events);
    let store = open(dir.path());
    let report = store.purge_user("nobody").unwrap();
    assert_eq!((report.events, report.seqs), (0, None));
    assert_eq!(shown(&store, events.len() as u64), expected_after(&events, |_| false));
    store.close().unwrap();
    let audit = wfstore::audit::read(&Disk::default(), dir.path()).unwrap();
    assert_eq!(audit.records.len(), 1);
}

#[test]
fn a_read_only_handle_cannot_purge_and_a_pending_purge_blocks_readers() {
    let dir = tempfile::tempdir().unwrap();
    store_of(dir.path(), &workload(2));
    let ro = crate::util::open_ro(dir.path()).unwrap();
    assert!(matches!(ro.purge_user(USERS[0]), Err(wfstore::Error::ReadOnly)));
    drop(ro);
    std::fs::write(dir.path().join("PURGE"), b"not a journal").unwrap();
    assert!(matches!(crate::util::open_ro(dir.path()), Err(wfstore::Error::PurgePending { .. })));
    // A writer finds a damaged journal: damage, refused, never guessed at.
    let err = open_with(dir.path(), &OpenOptions::default()).err().unwrap();
    assert!(err.is_corruption(), "{err}");
}

/// Opens the store at `at` (a crash state or a store whose purge failed) and checks that it
/// shows every event of `events` (then purges alice and checks again) or exactly the log
/// with alice purged; either way the state and the files are then alice-free. Removes the
/// directory. True when it was the old store. `events` is `workload(rounds)`.
fn old_or_purged(at: &Path, events: &[Event], rounds: u64, what: &str) -> bool {
    let n = events.len() as u64;
    let is_alice = |e: &Event| e.user.as_str() == USERS[0];
    let new = expected_after(events, is_alice);
    let store = open(at);
    let seen = shown(&store, n);
    let was_old = seen == expected_after(events, |_| false);
    if was_old {
        store.purge_user(USERS[0]).unwrap();
        assert_eq!(shown(&store, n), new, "{what}");
    } else {
        assert_eq!(seen, new, "neither old nor new: {what}");
    }
    assert_eq!(store.state().unwrap().0.hash(), replay(events, |e| !is_alice(e)).hash(), "{what}");
    store.close().unwrap();
    assert_eq!(occurrences(at, &needles(0, rounds)), vec![], "{what}");
    std::fs::remove_dir_all(at).unwrap();
    was_old
}

/// Power loss at captured moments of a purge: each crash state, opened, shows either every
/// event (the purge never committed; running it again purges) or exactly the purged log
/// with no byte of the user left; never a mix.
#[test]
fn power_loss_at_every_purge_step_leaves_the_old_store_or_the_purged_one() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("store");
    let events = workload(10);
    store_of(&dir, &events);

    let rec = Arc::new(Recorder::new(&dir).unwrap());
    let opts = OpenOptions { snapshots: None, disk: Disk::hooked(rec.clone()), ..OpenOptions::default() };
    let store = open_with(&dir, &opts).unwrap();
    rec.capture_rate(1.0, 7);
    store.purge_user(USERS[0]).unwrap();
    rec.capture_now("after purge").unwrap();
    let captures = rec.take_captures();
    drop(store);
    assert!(captures.len() > 40, "{} captures", captures.len());

    let mut rng = fastrand::Rng::with_seed(11);
    let (mut olds, mut news) = (0, 0);
    for (i, cap) in captures.iter().enumerate() {
        for k in 0..3 {
            let state = crash::crash_state(cap, &mut rng);
            let at = scratch.path().join(format!("crash-{i}-{k}"));
            crash::materialize(&state, &at).unwrap();
            if old_or_purged(&at, &events, 10, &state.description) {
                olds += 1;
            } else {
                news += 1;
            }
        }
    }
    assert!(olds > 0 && news > 0, "old {olds}, new {news}");
}

/// An I/O error at every operation a purge performs, of every kind (the Nth write, sync,
/// rename, remove, ...; the disk stays dead after it): the purge reports the error, and the
/// store reopened on a healthy disk is the old one (a purge then completes) or the purged
/// one; never a mix, and never a byte of the user left once it reports success.
#[test]
fn an_io_error_at_every_purge_operation_leaves_the_old_store_or_the_purged_one() {
    use wfstore::disk::OpKind;
    use wfstore::faultsim::inject::{EIO, Fault, Faults};
    let scratch = tempfile::tempdir().unwrap();
    let pristine = scratch.path().join("pristine");
    let events = workload(4);
    store_of(&pristine, &events);
    let kinds = [
        OpKind::Open,
        OpKind::Create,
        OpKind::SetLen,
        OpKind::SyncFile,
        OpKind::SyncDir,
        OpKind::Write,
        OpKind::Rename,
        OpKind::Remove,
        OpKind::Preallocate,
        OpKind::Map,
        OpKind::SyncRange,
        OpKind::CreateDir,
    ];

    // How many operations of each kind a clean purge performs.
    let faults = Arc::new(Faults::new());
    let opts = OpenOptions { snapshots: None, disk: Disk::hooked(faults.clone()), ..OpenOptions::default() };
    let probe = scratch.path().join("probe");
    crate::util::copy_dir(&pristine, &probe);
    let store = open_with(&probe, &opts).unwrap();
    faults.set(None);
    store.purge_user(USERS[0]).unwrap();
    let counts: Vec<(OpKind, u64)> = kinds.iter().map(|&k| (k, faults.count(k))).collect();
    drop(store);
    let total: u64 = counts.iter().map(|c| c.1).sum();
    assert!(total > 20, "a purge performs {total} operations: {counts:?}");

    let (mut olds, mut news, mut runs) = (0, 0, 0);
    for &(kind, count) in &counts {
        for nth in 1..=count {
            let at = scratch.path().join(format!("{kind:?}-{nth}"));
            crate::util::copy_dir(&pristine, &at);
            let faults = Arc::new(Faults::new());
            let opts =
                OpenOptions { snapshots: None, disk: Disk::hooked(faults.clone()), ..OpenOptions::default() };
            let store = open_with(&at, &opts).unwrap();
            faults.set(Some(Fault { kind, nth, forever: true, errno: EIO }));
            let result = store.purge_user(USERS[0]);
            let fired = faults.fired();
            drop(store);
            let what = format!("EIO from the {nth}th {kind:?} on: {:?}", faults.fired_on());
            assert_eq!(result.is_err(), fired, "{what}: {result:?}");
            if old_or_purged(&at, &events, 4, &what) {
                olds += 1;
            } else {
                news += 1;
            }
            runs += 1;
        }
    }
    assert!(olds > 0 && news > 0, "old {olds}, new {news} of {runs}");
}

/// A segment sealed while a purge runs: its index file is written from the purged index
/// (the seal and the purge take turns), so no index file holds the purged user's sessions.
#[test]
fn a_segment_sealed_during_a_purge_gets_an_index_without_the_purged_sessions() {
    let dir = tempfile::tempdir().unwrap();
    store_of(dir.path(), &workload(4));
    let hook = Arc::new(crate::util::PausedSeal::until_removed("PURGE"));
    let opts = OpenOptions { snapshots: None, disk: Disk::hooked(hook.clone()), ..OpenOptions::default() };
    let store = open_with(dir.path(), &opts).unwrap();
    let mut r = 100;
    while !hook.paused() {
        assert!(r < 2000, "no segment was sealed");
        store.append_batch(&(0..USERS.len()).flat_map(|u| session(u, r)).collect::<Vec<_>>()).unwrap();
        r += 1;
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    store.purge_user(USERS[0]).unwrap();
    store.close().unwrap();
    assert_eq!(occurrences(dir.path(), &needles(0, r)), vec![]);
}

#[test]
fn the_purge_command_refuses_without_yes_off_a_terminal_and_purges_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let events = workload(4);
    store_of(dir.path(), &events);
    let wf = |args: &[&str]| crate::cli::wf(dir.path(), args, None);

    let refused = wf(&["purge", "--user", USERS[2]]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("refusing to purge without --yes"), "{}", refused.stderr);
    assert!(!occurrences(dir.path(), &needles(2, 4)).is_empty(), "nothing was changed");
    assert_eq!(wf(&["purge", "--user", "x", "--session", "y", "--yes"]).code, 2);

    let done = wf(&["--json", "purge", "--user", USERS[2], "--yes"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let v: serde_json::Value = serde_json::from_str(done.stdout.trim()).unwrap();
    assert_eq!(v["purge"]["events"], 24);
    assert_eq!(v["subject"], "user");
    assert!(!done.stdout.contains(USERS[2]), "the id is never printed");
    assert_eq!(occurrences(dir.path(), &needles(2, 4)), vec![]);

    let human = wf(&["purge", "--session", &format!("{}-session-1", USERS[0]), "--yes"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(human.stdout.starts_with("purged 6 events of the session (seqs 19..=24)"), "{}", human.stdout);
}

/// A purge while producers append and the snapshotter snapshots: nothing appended is lost,
/// no snapshot written during or after it holds the purged user, the state is a replay.
#[test]
fn a_purge_beside_appenders_and_the_snapshotter_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let events = workload(20);
    store_of(dir.path(), &events);
    let opts = OpenOptions {
        snapshots: Some(wfstore::SnapshotPolicy { every_events: 25, every: None, keep: 3, history: 0 }),
        ..OpenOptions::default()
    };
    let store = Arc::new(open_with(dir.path(), &opts).unwrap());
    let producer = std::thread::spawn({
        let store = Arc::clone(&store);
        move || {
            let mut appended = Vec::new();
            for r in 100..160 {
                for e in session(1, r) {
                    appended.push((store.append(&e).unwrap(), e));
                }
            }
            appended
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(5));
    let report = store.purge_user(USERS[0]).unwrap();
    assert_eq!(report.events, 20 * 6);
    let appended = producer.join().unwrap();
    for (seq, e) in &appended {
        assert_eq!(store.get(*seq).unwrap().map(|r| r.event).as_ref(), Some(e));
    }
    store.flush().unwrap();
    let mut all: Vec<(u64, Event)> =
        events.iter().cloned().enumerate().map(|(i, e)| (i as u64 + 1, e)).chain(appended).collect();
    all.sort_by_key(|(s, _)| *s);
    let mut want = EnergyState::default();
    for (seq, e) in all.iter().filter(|(_, e)| e.user.as_str() != USERS[0]) {
        want.apply(*seq, e);
    }
    assert_eq!(store.state().unwrap().0.hash(), want.hash());
    Arc::try_unwrap(store).ok().unwrap().close().unwrap();
    assert_eq!(occurrences(dir.path(), &needles(0, 20)), vec![]);
    let store = open(dir.path());
    let v = wfstore::validate::validate(&store).unwrap();
    assert!(v.is_valid() && v.snapshots > 0, "{v:?}");
}
