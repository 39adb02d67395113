//! Fixed-point energy: an `i64` count of micro-units, parsed from and printed as decimal text.
//!
//! No float ever touches an energy value: the state, its hash and the conservation check all sum
//! exact integers, so the text form is parsed digit by digit.
//!
//! The accepted text is the JSON number grammar without an exponent, with at most 6 decimals:
//! `-?(0|[1-9][0-9]*)(\.[0-9]{1,6})?`. Leading zeros (`01`) are rejected because JSON rejects
//! them, so every accepted text is also a valid JSON number. `-0` and `-0.0` are accepted (JSON
//! allows them) and mean zero. Seven or more decimals are rejected even when the extra digits
//! are zeros: the rule is about the text, so a writer learns it sent too much precision instead
//! of having it rounded silently.

use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Number of decimal places an energy value carries.
pub const ENERGY_DECIMALS: usize = 6;

/// Micro-units per whole unit of energy.
const MICROS_PER_UNIT: i64 = 1_000_000;

/// An energy value in fixed-point micro-units (6 decimals).
///
/// Serde: in human-readable formats (JSON) it is a JSON *number* written with its exact decimal
/// text; a JSON string such as `"1.5"` is rejected, matching the schema, which says `number`.
/// In binary formats (bincode) it is a plain `i64` of micro-units.
///
/// Caveats of the RawValue route: `serde_json::to_value` turns the number into an `f64` and
/// rounds large values (9223372036854.775807 becomes 9223372036854.775), so write energies with
/// `serde_json::to_string`/`to_writer`, never through `Value`. Other human-readable formats
/// (YAML) do not understand RawValue; print energies there with `Display` instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Energy(i64);

/// Why a decimal text is not an energy value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnergyParseError {
    /// The text is empty (or only a sign).
    #[error("empty energy value")]
    Empty,
    /// The text has a character outside the decimal grammar (an exponent, `+`, a space, ...).
    #[error("invalid character {found:?} at byte {at}; expected -?digits[.digits]")]
    InvalidChar {
        /// The offending character.
        found: char,
        /// Its byte offset in the text.
        at: usize,
    },
    /// The integer part has a leading zero (`01`), which JSON does not allow.
    #[error("leading zero in the integer part")]
    LeadingZero,
    /// The text has no digit before the `.` (`.5`) or none after it (`1.`).
    #[error("a decimal point needs digits on both sides")]
    MissingDigits,
    /// More decimals than fixed point can hold.
    #[error("{decimals} decimals, at most {ENERGY_DECIMALS} allowed")]
    TooManyDecimals {
        /// Number of digits after the decimal point.
        decimals: usize,
    },
    /// The value does not fit an `i64` of micro-units.
    #[error("out of range: energy must lie within ±9223372036854.775807")]
    Overflow,
}

impl Energy {
    /// Zero energy.
    pub const ZERO: Energy = Energy(0);

    /// The energy of `micros` micro-units.
    pub const fn from_micros(micros: i64) -> Energy {
        Energy(micros)
    }

    /// The value in micro-units.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// `self + other`, or `None` on `i64` overflow.
    pub const fn checked_add(self, other: Energy) -> Option<Energy> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Energy(sum)),
            None => None,
        }
    }

    /// Parses decimal text; see the module docs for the grammar.
    pub fn parse(text: &str) -> Result<Energy, EnergyParseError> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if unsigned.is_empty() {
            return Err(EnergyParseError::Empty);
        }
        let sign_len = text.len() - unsigned.len();
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (unsigned, None),
        };
        check_digits(int_part, sign_len)?;
        if let Some(frac) = frac_part {
            check_digits(frac, sign_len + int_part.len() + 1)?;
        }
        if int_part.is_empty() || frac_part.is_some_and(str::is_empty) {
            return Err(EnergyParseError::MissingDigits);
        }
        if int_part.len() > 1 && int_part.starts_with('0') {
            return Err(EnergyParseError::LeadingZero);
        }
        let frac = frac_part.unwrap_or("");
        if frac.len() > ENERGY_DECIMALS {
            return Err(EnergyParseError::TooManyDecimals { decimals: frac.len() });
        }
        // Accumulate toward the sign so that i64::MIN, whose magnitude exceeds i64::MAX,
        // still parses.
        let step = |acc: i64, digit: u8| -> Result<i64, EnergyParseError> {
            let digit = i64::from(digit - b'0');
            let digit = if negative { -digit } else { digit };
            acc.checked_mul(10).and_then(|scaled| scaled.checked_add(digit)).ok_or(EnergyParseError::Overflow)
        };
        let mut micros: i64 = 0;
        for &digit in int_part.as_bytes().iter().chain(frac.as_bytes()) {
            micros = step(micros, digit)?;
        }
        for _ in frac.len()..ENERGY_DECIMALS {
            micros = micros.checked_mul(10).ok_or(EnergyParseError::Overflow)?;
        }
        Ok(Energy(micros))
    }
}

/// Checks that `part` holds only ASCII digits; `offset` locates it in the whole text.
fn check_digits(part: &str, offset: usize) -> Result<(), EnergyParseError> {
    match part.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, found)) => Err(EnergyParseError::InvalidChar { found, at: offset + at }),
        None => Ok(()),
    }
}

impl FromStr for Energy {
    type Err = EnergyParseError;

    fn from_str(text: &str) -> Result<Energy, EnergyParseError> {
        Energy::parse(text)
    }
}

impl fmt::Display for Energy {
    /// Prints the shortest exact decimal form: `12`, `-1.5`, `0.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_micros(i128::from(self.0)))
    }
}

/// The shortest exact decimal text of an amount of micro-units, for energies and for sums
/// of energies (which need `i128`): `12`, `-1.5`, `0.000001`.
pub fn format_micros(micros: i128) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    // unsigned_abs: the minimum has no positive counterpart.
    let magnitude = micros.unsigned_abs();
    let per_unit = MICROS_PER_UNIT.unsigned_abs() as u128;
    let (whole, frac) = (magnitude / per_unit, magnitude % per_unit);
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{frac:06}");
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

impl Serialize for Energy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            // A RawValue keeps the exact decimal text; a float would round.
            let raw = RawValue::from_string(self.to_string()).map_err(S::Error::custom)?;
            raw.serialize(serializer)
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Energy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Energy, D::Error> {
        if deserializer.is_human_readable() {
            let raw = Box::<RawValue>::deserialize(deserializer)?;
            let text = raw.get();
            if !text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
                return Err(D::Error::custom("energy must be a JSON number"));
            }
            Energy::parse(text).map_err(D::Error::custom)
        } else {
            i64::deserialize(deserializer).map(Energy)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn check(text: &str, micros: i64, printed: &str) {
        let energy: Energy = text.parse().unwrap();
        assert_eq!(energy.micros(), micros, "{text}");
        assert_eq!(energy.to_string(), printed, "{text}");
    }

    fn check_err(text: &str, expected: EnergyParseError) {
        assert_eq!(Energy::parse(text), Err(expected), "{text}");
    }

    #[test]
    fn parses_and_prints() {
        check("0", 0, "0");
        check("-0", 0, "0");
        check("-0.0", 0, "0");
        check("12", 12_000_000, "12");
        check("-1.5", -1_500_000, "-1.5");
        check("1.500000", 1_500_000, "1.5");
        check("0.000001", 1, "0.000001");
        check("-0.000001", -1, "-0.000001");
        check("9223372036854.775807", i64::MAX, "9223372036854.775807");
        check("-9223372036854.775808", i64::MIN, "-9223372036854.775808");
    }

    #[test]
    fn rejects_bad_text() {
        check_err("", EnergyParseError::Empty);
        check_err("-", EnergyParseError::Empty);
        check_err("1.1234567", EnergyParseError::TooManyDecimals { decimals: 7 });
        check_err("1.0000000", EnergyParseError::TooManyDecimals { decimals: 7 });
        check_err("1e3", EnergyParseError::InvalidChar { found: 'e', at: 1 });
        check_err("1E3", EnergyParseError::InvalidChar { found: 'E', at: 1 });
        check_err("+1", EnergyParseError::InvalidChar { found: '+', at: 0 });
        check_err("--1", EnergyParseError::InvalidChar { found: '-', at: 1 });
        check_err(" 1", EnergyParseError::InvalidChar { found: ' ', at: 0 });
        check_err("1.2.3", EnergyParseError::InvalidChar { found: '.', at: 3 });
        check_err("NaN", EnergyParseError::InvalidChar { found: 'N', at: 0 });
        check_err("inf", EnergyParseError::InvalidChar { found: 'i', at: 0 });
        check_err("-inf", EnergyParseError::InvalidChar { found: 'i', at: 1 });
        check_err("١", EnergyParseError::InvalidChar { found: '١', at: 0 });
        check_err(".5", EnergyParseError::MissingDigits);
        check_err("1.", EnergyParseError::MissingDigits);
        check_err("01", EnergyParseError::LeadingZero);
        check_err("-00.5", EnergyParseError::LeadingZero);
        check_err("9223372036854.775808", EnergyParseError::Overflow);
        check_err("-9223372036854.775809", EnergyParseError::Overflow);
        check_err("9223372036855", EnergyParseError::Overflow);
        check_err(&"9".repeat(10_000), EnergyParseError::Overflow);
    }

    #[test]
    fn too_many_decimals_message_says_so() {
        let err = Energy::parse("1.1234567").unwrap_err();
        assert_eq!(err.to_string(), "7 decimals, at most 6 allowed");
    }

    #[test]
    fn checked_add_detects_overflow() {
        let one = Energy::from_micros(1);
        assert_eq!(Energy::ZERO.checked_add(one), Some(one));
        assert_eq!(Energy::from_micros(i64::MAX).checked_add(one), None);
    }

    #[test]
    fn json_is_an_exact_number() {
        let energy = Energy::from_micros(9_223_372_036_854_775_807);
        let json = serde_json::to_string(&energy).unwrap();
        assert_eq!(json, "9223372036854.775807");
        assert_eq!(serde_json::from_str::<Energy>(&json).unwrap(), energy);
        assert_eq!(serde_json::from_str::<Energy>(" -0.5 ").unwrap(), Energy::from_micros(-500_000));
    }

    #[test]
    fn json_rejects_strings_exponents_and_precision() {
        for bad in ["\"1.5\"", "1e3", "1.1234567", "null", "true", "[1]"] {
            assert!(serde_json::from_str::<Energy>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<Energy>("0.1234567").unwrap_err();
        assert!(err.to_string().contains("7 decimals"), "{err}");
    }

    /// Records what a serde serializer says about itself, then fails: enough to learn
    /// `is_human_readable` of the real encoder without re-implementing it.
    struct Probe;

    impl Serialize for Probe {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let human_readable = serializer.is_human_readable();
            serializer.serialize_bool(human_readable)
        }
    }

    impl<'de> Deserialize<'de> for Probe {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Probe, D::Error> {
            if deserializer.is_human_readable() {
                return Err(D::Error::custom("decoder claims to be human readable"));
            }
            bool::deserialize(deserializer).map(|_| Probe)
        }
    }

    #[test]
    fn bincode_serde_is_not_human_readable() {
        let config = bincode::config::standard();
        // The encoder writes its own is_human_readable() as the bool.
        let bytes = bincode::serde::encode_to_vec(Probe, config).unwrap();
        assert_eq!(bytes, [0]);
        // Both decoders (owned and borrowed) must also say false.
        bincode::serde::decode_from_slice::<Probe, _>(&bytes, config).unwrap();
        bincode::serde::borrow_decode_from_slice::<Probe, _>(&bytes, config).unwrap();
        bincode::serde::decode_from_std_read::<Probe, _, _>(&mut &bytes[..], config).unwrap();
    }

    #[test]
    fn bincode_is_a_plain_i64() {
        let config = bincode::config::standard();
        let energy = Energy::from_micros(-1_500_000);
        let bytes = bincode::serde::encode_to_vec(energy, config).unwrap();
        assert_eq!(bytes, bincode::serde::encode_to_vec(-1_500_000_i64, config).unwrap());
        let (back, _) = bincode::serde::decode_from_slice::<Energy, _>(&bytes, config).unwrap();
        assert_eq!(back, energy);
    }

    proptest! {
        #[test]
        fn text_round_trips(micros in any::<i64>()) {
            let energy = Energy::from_micros(micros);
            let text = energy.to_string();
            prop_assert_eq!(Energy::parse(&text), Ok(energy));
            // What we print is valid JSON, and JSON reads it back exactly.
            let json: Energy = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(json, energy);
        }

        #[test]
        fn micros_round_trip_through_decimal_digits(
            whole in 0_i64..=9_223_372_036_853,
            frac in 0_u32..1_000_000,
            negative in any::<bool>(),
        ) {
            let text = format!("{}{whole}.{frac:06}", if negative { "-" } else { "" });
            let magnitude = whole * 1_000_000 + i64::from(frac);
            let expected = if negative { -magnitude } else { magnitude };
            prop_assert_eq!(Energy::parse(&text).map(Energy::micros), Ok(expected));
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = Energy::parse(&text);
        }
    }
}
