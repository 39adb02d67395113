//! Content hashes: SHA-256 digests written as 64 lowercase hex characters.
//!
//! The digest is held as its 32 bytes, so an invalid or non-canonical (uppercase) form cannot
//! exist in memory and the binary encoding is 32 bytes instead of 64 characters.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of the hex text form.
const HEX_LEN: usize = 64;

/// A SHA-256 digest; its text form is exactly 64 lowercase hex characters.
///
/// Serde: a hex string in human-readable formats (JSON), 32 raw bytes in binary ones (bincode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Hex([u8; 32]);

/// Why a text is not a [`Sha256Hex`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The text is not 64 bytes long.
    #[error("hash is {len} characters, expected 64 lowercase hex")]
    Length {
        /// Its length in bytes.
        len: usize,
    },
    /// The text has a byte that is not `0-9a-f` (uppercase is rejected: one canonical form).
    #[error("hash has {found:?} at {at}, expected lowercase hex 0-9a-f")]
    NotHex {
        /// The offending character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
}

impl Sha256Hex {
    /// The digest of the given 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Sha256Hex {
        Sha256Hex(bytes)
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 lowercase hex characters.
    pub fn parse(text: &str) -> Result<Sha256Hex, HashParseError> {
        if text.len() != HEX_LEN {
            return Err(HashParseError::Length { len: text.len() });
        }
        let mut bytes = [0_u8; 32];
        for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
            let high = nibble(text, 2 * i, pair[0])?;
            let low = nibble(text, 2 * i + 1, pair[1])?;
            bytes[i] = high << 4 | low;
        }
        Ok(Sha256Hex(bytes))
    }
}

/// The value of one lowercase hex digit at byte `at` of `text`.
fn nibble(text: &str, at: usize, byte: u8) -> Result<u8, HashParseError> {
    match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        _ => Err(HashParseError::NotHex {
            // A non-ASCII byte may sit mid-character; report the whole character if we can.
            found: text.get(at..).and_then(|rest| rest.chars().next()).unwrap_or(char::REPLACEMENT_CHARACTER),
            at,
        }),
    }
}

impl FromStr for Sha256Hex {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Sha256Hex, HashParseError> {
        Sha256Hex::parse(text)
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            // One length-prefixed byte string: a 32-element tuple costs 32 serde calls.
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sha256Hex, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            Sha256Hex::parse(&text).map_err(D::Error::custom)
        } else {
            deserializer.deserialize_bytes(DigestBytes)
        }
    }
}

/// Accepts exactly 32 bytes, borrowed or owned, from a binary deserializer.
struct DigestBytes;

impl serde::de::Visitor<'_> for DigestBytes {
    type Value = Sha256Hex;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("32 bytes of SHA-256 digest")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Sha256Hex, E> {
        <[u8; 32]>::try_from(v).map(Sha256Hex).map_err(|_| E::invalid_length(v.len(), &self))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DIGEST: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_lowercase_hex() {
        let hash = Sha256Hex::parse(DIGEST).unwrap();
        assert_eq!(hash.as_bytes()[0], 0xe3);
        assert_eq!(hash.to_string(), DIGEST);
        assert_eq!(Sha256Hex::from_bytes(*hash.as_bytes()), hash);
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(Sha256Hex::parse(&DIGEST[..63]), Err(HashParseError::Length { len: 63 }));
        assert_eq!(Sha256Hex::parse(&format!("{DIGEST}0")), Err(HashParseError::Length { len: 65 }));
        let upper = DIGEST.to_uppercase();
        assert_eq!(Sha256Hex::parse(&upper), Err(HashParseError::NotHex { found: 'E', at: 0 }));
        let with_g = format!("{}g", &DIGEST[..63]);
        assert_eq!(Sha256Hex::parse(&with_g), Err(HashParseError::NotHex { found: 'g', at: 63 }));
        // 62 ASCII bytes + one 2-byte character: right length in bytes, never a panic.
        let multibyte = format!("{}é", &DIGEST[..62]);
        assert_eq!(Sha256Hex::parse(&multibyte), Err(HashParseError::NotHex { found: 'é', at: 62 }));
    }

    #[test]
    fn serde_forms() {
        let config = bincode::config::standard();
        let hash = Sha256Hex::parse(DIGEST).unwrap();
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{DIGEST}\""));
        assert_eq!(serde_json::from_str::<Sha256Hex>(&json).unwrap(), hash);
        assert!(serde_json::from_str::<Sha256Hex>("\"abc\"").is_err());

        let bytes = bincode::serde::encode_to_vec(hash, config).unwrap();
        assert_eq!(bytes.len(), 33, "varint length 32, then the digest");
        assert_eq!(&bytes[1..], hash.as_bytes());
        let (back, _) = bincode::serde::decode_from_slice::<Sha256Hex, _>(&bytes, config).unwrap();
        assert_eq!(back, hash);
    }
}
