//! The audit document as YAML: its exact JSON form, read into a tree that keeps every number's
//! digits, and emitted by serde-saphyr. Both formats therefore hold the same tree.
//!
//! Why not serialize the document straight to YAML: energies are exact decimals, and
//! serde-saphyr writes a number only from an integer or an `f64` (which would round them),
//! while a string that looks like a number is quoted (`"1.5"`, which YAML reads as text).
//! So integers go through `i128`, and each decimal is emitted as a marked string whose quotes
//! and marker are then removed, leaving the plain scalar `1.5` — a number to any YAML reader,
//! and exactly the digits of the JSON. The marker holds a NUL, which serde-saphyr always
//! escapes (`\0`), and a tag no string of the document contains, so no user text (a prompt,
//! a model name) can be mistaken for a marked decimal; every marker is counted back.

use anyhow::{Context as _, bail};
use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};
use serde_json::value::RawValue;
use wfstore::event::RawObject;

/// Renders the JSON text `json` as a YAML document.
pub fn from_json(json: &str) -> anyhow::Result<String> {
    let tree = Node::parse(json)?;
    let mut strings = Vec::new();
    tree.strings(&mut strings);
    let tag = (0u64..)
        .map(|n| format!("wfe{n}"))
        .find(|tag| !strings.iter().any(|s| s.contains(tag.as_str())))
        .context("no free marker for decimals")?;
    let marker = format!("\0{tag}\0");
    let yaml = serde_saphyr::to_string(&Emit { node: &tree, marker: &marker })?;
    unmark(&yaml, &format!("\"\\0{tag}\\0"), tree.decimals())
}

/// A JSON value, numbers kept as their text.
#[derive(Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Integer(i128),
    /// A number with a fraction, as written: `-?digits.digits`.
    Decimal(String),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in the order the JSON has them.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// Parses one JSON value. Each container is split into raw members first, so that every
    /// number reaches us as its own text, never as a float.
    fn parse(text: &str) -> anyhow::Result<Node> {
        let text = text.trim();
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let RawObject(entries) = serde_json::from_str(text)?;
                let entries = entries.into_iter().map(|(k, v)| Ok((k, Node::parse(v.get())?)));
                Node::Map(entries.collect::<anyhow::Result<_>>()?)
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)?;
                Node::Seq(items.into_iter().map(|v| Node::parse(v.get())).collect::<anyhow::Result<_>>()?)
            }
            Some(b'"') => Node::Str(serde_json::from_str(text)?),
            Some(b't' | b'f') => Node::Bool(serde_json::from_str(text)?),
            Some(b'n') => {
                serde_json::from_str::<()>(text)?;
                Node::Null
            }
            _ => Node::number(text)?,
        })
    }

    fn number(text: &str) -> anyhow::Result<Node> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match digits.split_once('.') {
            None if plain(digits) => {
                Ok(Node::Integer(text.parse().with_context(|| format!("number {text}"))?))
            }
            Some((whole, frac)) if plain(whole) && plain(frac) => Ok(Node::Decimal(text.to_owned())),
            _ => bail!("unexpected JSON number {text:?} (the audit document writes no exponent)"),
        }
    }

    /// Every string of the tree, keys included, appended to `out`.
    fn strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Node::Str(s) => out.push(s),
            Node::Seq(items) => items.iter().for_each(|n| n.strings(out)),
            Node::Map(entries) => {
                for (k, v) in entries {
                    out.push(k);
                    v.strings(out);
                }
            }
            Node::Null | Node::Bool(_) | Node::Integer(_) | Node::Decimal(_) => {}
        }
    }

    /// How many decimals the tree holds.
    fn decimals(&self) -> usize {
        match self {
            Node::Decimal(_) => 1,
            Node::Seq(items) => items.iter().map(Node::decimals).sum(),
            Node::Map(entries) => entries.iter().map(|(_, v)| v.decimals()).sum(),
            Node::Null | Node::Bool(_) | Node::Integer(_) | Node::Str(_) => 0,
        }
    }
}

/// A node to serialize, with the marker its decimals carry.
struct Emit<'a> {
    node: &'a Node,
    marker: &'a str,
}

impl Serialize for Emit<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let child = |node| Emit { node, marker: self.marker };
        match self.node {
            Node::Null => s.serialize_none(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Integer(i) => s.serialize_i128(*i),
            Node::Decimal(d) => s.serialize_str(&format!("{}{d}", self.marker)),
            Node::Str(text) => s.serialize_str(text),
            Node::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&child(item))?;
                }
                seq.end()
            }
            Node::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, &child(v))?;
                }
                map.end()
            }
        }
    }
}

/// Replaces each `OPEN digits"` (a marked decimal as serde-saphyr quoted it) by its digits;
/// there must be exactly `expected`.
fn unmark(yaml: &str, open: &str, expected: usize) -> anyhow::Result<String> {
    let mut out = String::with_capacity(yaml.len());
    let mut rest = yaml;
    let mut found = 0;
    while let Some(at) = rest.find(open) {
        out.push_str(&rest[..at]);
        let after = &rest[at + open.len()..];
        let end = after.find('"').context("unterminated marked decimal in the YAML")?;
        let digits = &after[..end];
        if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.') {
            bail!("marked decimal {digits:?} is not a number");
        }
        out.push_str(digits);
        found += 1;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if found != expected {
        bail!("YAML rendering kept {found} of {expected} decimals");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn decimals_are_plain_exact_numbers_and_strings_stay_strings() {
        let json = r#"{"e":9223372036854.775807,"neg":-0.000001,"i":-3,"big":18446744073709551615,
            "s":"1.5","t":"wfe0 \u0000wfe0\u00001.5","list":[0.1,{"x":null,"y":true}],"m":{}}"#;
        let yaml = from_json(json).unwrap();
        assert!(yaml.contains("e: 9223372036854.775807\n"), "{yaml}");
        assert!(yaml.contains("neg: -0.000001\n"), "{yaml}");
        assert!(yaml.contains("big: 18446744073709551615\n"), "{yaml}");
        assert!(yaml.contains("s: \"1.5\"\n"), "{yaml}");
        assert!(yaml.contains("- 0.1\n"), "{yaml}");
        // A string that mimics the first marker moved the marker on, and stays a string.
        assert!(yaml.contains(r#"t: "wfe0 \0wfe0\01.5""#), "{yaml}");
    }

    #[test]
    fn a_lost_or_extra_marker_is_an_error() {
        assert!(unmark("a: \"\\0wfe0\\01.5\"\n", "\"\\0wfe0\\0", 2).is_err());
        assert_eq!(unmark("a: \"\\0wfe0\\01.5\"\n", "\"\\0wfe0\\0", 1).unwrap(), "a: 1.5\n");
        assert!(unmark("a: \"\\0wfe0\\0x\"\n", "\"\\0wfe0\\0", 1).is_err());
    }

    #[test]
    fn exponents_are_refused() {
        assert!(from_json("[1e3]").is_err());
    }
}
