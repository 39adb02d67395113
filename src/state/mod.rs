//! The energy state: what replaying the events gives, per session and per user.
//!
//! - `session`: one session's accumulator, frames, context, performance, patterns.
//! - `user`: one user's progress and preferences.
//! - `json`: the `replay --json` form, energies exact.
//! - `fold`: the state while replay builds it (slots found by hash, types counted).
//!
//! `apply` is pure and deterministic: no I/O, no clock, no randomness, ordered maps and
//! integers only (energy sums in `i128` micro-units, so conservation is exact). The state
//! has a stable hash: SHA-256 of its canonical bytes (schemas/state.md).

mod fold;
mod json;
pub mod session;
pub mod user;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub(crate) use self::fold::Fold;
pub use self::session::SessionState;
pub use self::user::UserState;
use crate::codec;
use crate::event::{Event, EventRef};

/// The state of everything: sessions and users, and the last seq applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergyState {
    /// Seq of the last event applied (0: none).
    pub last_seq: u64,
    /// Per session id.
    pub sessions: BTreeMap<String, SessionState>,
    /// Per user id.
    pub users: BTreeMap<String, UserState>,
}

impl EnergyState {
    /// Applies the event with this seq. Never fails and never panics: validation of order
    /// and conservation is `validate`'s job.
    pub fn apply(&mut self, seq: u64, event: &Event) {
        self.apply_ref(seq, &event.as_ref());
    }

    /// `apply` of an event whose ids are borrowed (replay reads them in place).
    pub(crate) fn apply_ref(&mut self, seq: u64, event: &EventRef<'_>) {
        self.last_seq = seq;
        let (sid, uid) = (event.session, event.user);
        // get_mut first: the key is allocated once per session, not once per event.
        match self.sessions.get_mut(sid) {
            Some(s) => s.apply_ref(seq, event),
            None => {
                let mut s = SessionState::new(uid, seq);
                s.apply_ref(seq, event);
                self.sessions.insert(sid.to_owned(), s);
            }
        }
        match self.users.get_mut(uid) {
            Some(u) => u.apply_body(&event.body),
            None => {
                let mut u = UserState::default();
                u.apply_body(&event.body);
                self.users.insert(uid.to_owned(), u);
            }
        }
    }

    /// The state after `events`, in order.
    pub fn replay<'a>(events: impl IntoIterator<Item = (u64, &'a Event)>) -> EnergyState {
        let mut s = EnergyState::default();
        for (seq, e) in events {
            s.apply(seq, e);
        }
        s
    }

    /// A copy holding only session `id` and its user (for `replay --session`).
    pub fn session_only(&self, id: &str) -> EnergyState {
        let sessions: BTreeMap<_, _> =
            self.sessions.iter().filter(|(k, _)| *k == id).map(|(k, v)| (k.clone(), v.clone())).collect();
        let users = sessions
            .values()
            .filter_map(|s| self.users.get_key_value(&s.user))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        EnergyState { last_seq: self.last_seq, sessions, users }
    }

    /// SHA-256 of the canonical bytes (`codec::encode_state`).
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(codec::encode_state(self)).into()
    }

    /// The hash as 64 lowercase hex digits.
    pub fn hash_hex(&self) -> String {
        self.hash().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The `replay --json` form (see `json`).
    pub fn to_json_string(&self) -> String {
        json::render(self)
    }
}
