//! Session and user identifiers: opaque UTF-8 strings of bounded length.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::limits::ID_BYTES_MAX;

/// An opaque identifier of 1..=[`ID_BYTES_MAX`] UTF-8 bytes.
///
/// The bound is checked on construction and on every deserialize, JSON or bincode, so an `Id`
/// held anywhere is known to be valid.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Id(String);

/// Why a string is not an [`Id`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string is empty.
    #[error("id is empty")]
    Empty,
    /// The string is longer than [`ID_BYTES_MAX`] bytes.
    #[error("id is {bytes} bytes, at most {ID_BYTES_MAX} allowed")]
    TooLong {
        /// Its length in UTF-8 bytes.
        bytes: usize,
    },
    /// The string holds a control character (NUL, a line break, ...), which would break the
    /// one-event-per-line exports and terminal output.
    #[error("id holds control character {ch:?} at byte {at}")]
    Control {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
}

impl Id {
    /// The identifier text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Id {
    /// Checks that `text` would make a valid [`Id`], without copying it: replay reads ids
    /// in place.
    pub fn check(text: &str) -> Result<(), IdError> {
        match text.len() {
            0 => Err(IdError::Empty),
            bytes if bytes > ID_BYTES_MAX => Err(IdError::TooLong { bytes }),
            // Printable ASCII, the common case, holds no control character: skip decoding chars.
            _ if text.bytes().all(|b| (0x20..0x7f).contains(&b)) => Ok(()),
            _ => match text.char_indices().find(|(_, c)| c.is_control()) {
                Some((at, ch)) => Err(IdError::Control { ch, at }),
                None => Ok(()),
            },
        }
    }
}

impl Id {
    /// An id of text `check` accepted.
    pub(crate) fn from_checked(text: &str) -> Id {
        debug_assert_eq!(Id::check(text), Ok(()));
        Id(text.to_owned())
    }
}

impl TryFrom<String> for Id {
    type Error = IdError;

    fn try_from(text: String) -> Result<Id, IdError> {
        Id::check(&text).map(|()| Id(text))
    }
}

impl TryFrom<&str> for Id {
    type Error = IdError;

    fn try_from(text: &str) -> Result<Id, IdError> {
        // Check before copying so a huge input is never duplicated.
        if text.len() > ID_BYTES_MAX {
            return Err(IdError::TooLong { bytes: text.len() });
        }
        Id::try_from(text.to_owned())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let text = String::deserialize(deserializer)?;
        Id::try_from(text).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn length_limits_are_in_bytes() {
        assert_eq!(Id::try_from(""), Err(IdError::Empty));
        assert_eq!(Id::try_from("a").unwrap().as_str(), "a");
        assert!(Id::try_from("a".repeat(ID_BYTES_MAX)).is_ok());
        assert_eq!(Id::try_from("a".repeat(ID_BYTES_MAX + 1)), Err(IdError::TooLong { bytes: 129 }));
        // 43 three-byte characters are 129 bytes: too long, though only 43 characters.
        assert_eq!(Id::try_from("€".repeat(43)), Err(IdError::TooLong { bytes: 129 }));
        assert_eq!(IdError::TooLong { bytes: 129 }.to_string(), "id is 129 bytes, at most 128 allowed");
        assert_eq!(Id::try_from("a\0b"), Err(IdError::Control { ch: '\0', at: 1 }));
        assert_eq!(Id::try_from("line\nbreak"), Err(IdError::Control { ch: '\n', at: 4 }));
        assert_eq!(Id::try_from("cr\r"), Err(IdError::Control { ch: '\r', at: 2 }));
    }

    #[test]
    fn deserialize_validates_json_and_bincode() {
        let config = bincode::config::standard();
        let long = "x".repeat(ID_BYTES_MAX + 1);

        let ok: Id = serde_json::from_str("\"s-1\"").unwrap();
        assert_eq!(ok.to_string(), "s-1");
        assert!(serde_json::from_str::<Id>("\"\"").is_err());
        let err = serde_json::from_str::<Id>(&format!("\"{long}\"")).unwrap_err();
        assert!(err.to_string().contains("129 bytes"), "{err}");

        let bytes = bincode::serde::encode_to_vec(&ok, config).unwrap();
        let (back, _) = bincode::serde::decode_from_slice::<Id, _>(&bytes, config).unwrap();
        assert_eq!(back, ok);
        for bad in [String::new(), long] {
            let bytes = bincode::serde::encode_to_vec(&bad, config).unwrap();
            assert!(bincode::serde::decode_from_slice::<Id, _>(&bytes, config).is_err());
        }
    }
}
