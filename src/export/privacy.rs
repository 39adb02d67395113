//! The privacy filter every export goes through: prompt and output text leaves the store
//! only when asked for. The hashes of that text always stay, so an auditor can still match
//! a prompt or an output against a copy they hold.

use crate::event::Event;

/// What an export does with the text `content` of `user.prompt` and `ai.output` events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContentPolicy {
    /// Leave the text out (the default: local-first, nothing private leaves unasked).
    #[default]
    Strip,
    /// Keep the text, where the store kept it (`init --keep-content`).
    Include,
}

impl ContentPolicy {
    /// `Include` when `include` is true, else `Strip`.
    pub const fn from_include(include: bool) -> ContentPolicy {
        if include { ContentPolicy::Include } else { ContentPolicy::Strip }
    }
}

/// Makes `event` fit for export under `policy`: with `Strip`, the text `content` of a prompt
/// or an output is removed (its hash stays); with `Include`, the event is left as stored.
pub fn filter(event: &mut Event, policy: ContentPolicy) {
    if policy == ContentPolicy::Strip {
        event.body.strip_content();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::event::body::UserPrompt;
    use crate::event::{EventBody, Id, Sha256Hex};

    fn prompt(content: Option<&str>) -> Event {
        Event {
            ts_ns: 1,
            frame: 2,
            session: Id::try_from("s".to_owned()).unwrap(),
            user: Id::try_from("u".to_owned()).unwrap(),
            body: EventBody::UserPrompt(UserPrompt {
                prompt_hash: Sha256Hex::from_bytes([9; 32]),
                chars: 6,
                content: content.map(str::to_owned),
            }),
        }
    }

    #[test]
    fn strip_removes_the_text_and_keeps_the_hash() {
        let mut event = prompt(Some("secret"));
        filter(&mut event, ContentPolicy::Strip);
        assert_eq!(event, prompt(None));
        assert!(!event.body.has_content());
    }

    #[test]
    fn include_keeps_the_event_as_stored() {
        let mut event = prompt(Some("secret"));
        filter(&mut event, ContentPolicy::Include);
        assert_eq!(event, prompt(Some("secret")));
        assert_eq!(ContentPolicy::from_include(false), ContentPolicy::default());
    }
}
