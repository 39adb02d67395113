//! One user's part of the energy state: progress over all their sessions, and preferences.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{BodyView, Event};

/// A user's progress and preferences.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// Events by this user.
    pub events: u64,
    /// `session.start` events.
    pub sessions_started: u64,
    /// `session.end` events.
    pub sessions_ended: u64,
    /// `user.prompt` events.
    pub prompts: u64,
    /// `user.action` events.
    pub actions: u64,
    /// Energy of their sessions' events: Σ deltas of `energy.update` and
    /// `energy.amplification`, µ-units.
    pub energy: i128,
    /// Preferences from `user.preference` (the last value of each key wins).
    pub preferences: BTreeMap<String, String>,
}

impl UserState {
    /// Applies one event of this user.
    pub fn apply(&mut self, event: &Event) {
        self.apply_body(&event.body.view());
    }

    /// Applies the body of one event of this user.
    pub(crate) fn apply_body(&mut self, body: &BodyView<'_>) {
        self.events = self.events.saturating_add(1);
        if let Some(d) = body.energy_delta() {
            self.energy += i128::from(d);
        }
        match body {
            BodyView::SessionStart { .. } => self.sessions_started = self.sessions_started.saturating_add(1),
            BodyView::SessionEnd { .. } => self.sessions_ended = self.sessions_ended.saturating_add(1),
            BodyView::UserPrompt { .. } => self.prompts = self.prompts.saturating_add(1),
            BodyView::UserAction => self.actions = self.actions.saturating_add(1),
            BodyView::UserPreference { key, value } => {
                // Allocate the key only when it is new.
                match self.preferences.get_mut(*key) {
                    Some(v) => (*value).clone_into(v),
                    None => {
                        self.preferences.insert((*key).to_owned(), (*value).to_owned());
                    }
                }
            }
            _ => {}
        }
    }
}
