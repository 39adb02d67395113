//! The state while replay builds it. [`EnergyState`] keeps sessions and users in ordered
//! maps keyed by their ids, which is the form that is hashed, encoded and shown; replay
//! looks up the same few ids millions of times, and an ordered map pays a string
//! comparison per level for each. A `Fold` holds the same states in slots found through a
//! hash of the id, and counts event types in an array, and gives back the very
//! `EnergyState` that `EnergyState::apply` event by event would have built (the test
//! below holds it to that).

use rustc_hash::FxHashMap;

use super::{EnergyState, SessionState, UserState, session};
use crate::event::{EventRef, EventType};

/// Event types, for the per-session count array.
const TYPES: usize = EventType::ALL.len();

/// An [`EnergyState`] being replayed into.
#[derive(Debug, Default)]
pub(crate) struct Fold {
    last_seq: u64,
    sessions: Vec<SessionSlot>,
    session_at: FxHashMap<String, usize>,
    users: Vec<(String, UserState)>,
    user_at: FxHashMap<String, usize>,
}

#[derive(Debug)]
struct SessionSlot {
    id: String,
    state: SessionState,
    /// Events of each type applied here and not yet in `state.by_type`.
    by_type: [u64; TYPES],
    /// Slot of the user of this session's last event: a session's events nearly always
    /// have one user, and comparing the id is cheaper than hashing it.
    user: usize,
}

impl Fold {
    /// Takes `state` apart into slots: the states are moved; each id is copied once, as
    /// the key it is found by.
    pub fn new(state: EnergyState) -> Fold {
        let mut fold = Fold { last_seq: state.last_seq, ..Fold::default() };
        for (id, state) in state.sessions {
            fold.session_at.insert(id.clone(), fold.sessions.len());
            fold.sessions.push(SessionSlot { id, state, by_type: [0; TYPES], user: usize::MAX });
        }
        for (id, user) in state.users {
            fold.user_at.insert(id.clone(), fold.users.len());
            fold.users.push((id, user));
        }
        fold
    }

    /// Seq of the last event applied (0: none).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// What `EnergyState::apply_ref` does, through the slots.
    pub fn apply(&mut self, seq: u64, event: &EventRef<'_>) {
        self.last_seq = seq;
        let s = match self.session_at.get(event.session) {
            Some(&i) => i,
            None => self.new_session(event.session, event.user, seq),
        };
        let u = match self.users.get(self.sessions[s].user) {
            Some((id, _)) if id == event.user => self.sessions[s].user,
            _ => self.user_slot(event.user),
        };
        let slot = &mut self.sessions[s];
        slot.user = u;
        slot.by_type[event.body.event_type() as usize] += 1;
        slot.state.apply_uncounted(seq, event);
        self.users[u].1.apply_body(&event.body);
    }

    fn new_session(&mut self, id: &str, user: &str, seq: u64) -> usize {
        let i = self.sessions.len();
        self.session_at.insert(id.to_owned(), i);
        let state = SessionState::new(user, seq);
        self.sessions.push(SessionSlot { id: id.to_owned(), state, by_type: [0; TYPES], user: usize::MAX });
        i
    }

    fn user_slot(&mut self, id: &str) -> usize {
        if let Some(&i) = self.user_at.get(id) {
            return i;
        }
        let i = self.users.len();
        self.user_at.insert(id.to_owned(), i);
        self.users.push((id.to_owned(), UserState::default()));
        i
    }

    /// The state built, in its ordered form.
    pub fn into_state(self) -> EnergyState {
        let sessions = self
            .sessions
            .into_iter()
            .map(|mut slot| {
                for (kind, n) in EventType::ALL.into_iter().zip(slot.by_type) {
                    if n > 0 {
                        session::add(&mut slot.state.by_type, kind.as_str(), n);
                    }
                }
                (slot.id, slot.state)
            })
            .collect();
        EnergyState { last_seq: self.last_seq, sessions, users: self.users.into_iter().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::samples;
    use crate::sim;

    fn fold_of(base: EnergyState, events: &[(u64, crate::event::Event)]) -> EnergyState {
        let mut fold = Fold::new(base);
        for (seq, e) in events {
            fold.apply(*seq, &e.as_ref());
        }
        fold.into_state()
    }

    #[test]
    fn a_fold_builds_the_state_that_apply_builds_from_empty_and_from_a_base() {
        let mut events: Vec<_> = samples::events().into_iter().collect();
        events.extend((0..5_000).map(|i| sim::synthetic(7, i)));
        let events: Vec<_> = events.into_iter().enumerate().map(|(i, e)| (i as u64 + 1, e)).collect();
        let whole = EnergyState::replay(events.iter().map(|(s, e)| (*s, e)));
        assert_eq!(fold_of(EnergyState::default(), &events), whole);
        // From a base that already counts types and holds the sessions and users.
        let (head, tail) = events.split_at(2_500);
        let base = EnergyState::replay(head.iter().map(|(s, e)| (*s, e)));
        assert_eq!(fold_of(base, tail), whole);
        assert_eq!(fold_of(whole.clone(), &[]), whole);
    }
}
