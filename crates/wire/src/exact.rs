//! JSON values whose numbers keep their exact digits, for the canonical text and the
//! fingerprint of a command read from text.
//!
//! `serde_json::Value` holds a number beyond `u64` as an `f64`, so `10^30` and `10^30 + 1` read
//! the same there. The fingerprint that tells a retry from an `id_conflict` (SPEC §5) must tell
//! any two different commands apart, and the canonical text the journal keeps must replay to
//! the same fingerprint. So both are made from the text itself: every value is split with
//! `serde_json`'s `RawValue`, and a number is kept as the digits it was written with.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use xxhash_rust::xxh3::xxh3_128;

use crate::json::{encode_number_text, encode_object_header, encode_str};

/// A JSON value with its numbers as written.
enum Exact<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    String(String),
    Array(Vec<Exact<'a>>),
    /// Keys sorted by bytes, the last of repeated keys kept: as `serde_json::Map` does.
    Object(BTreeMap<String, Exact<'a>>),
}

/// The canonical text and the fingerprint of one JSON text, or `None` when it is not JSON.
pub(crate) fn canonical_and_fingerprint(text: &str) -> Option<(String, u128)> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    let value = of_raw(raw.get())?;
    let mut canonical = String::with_capacity(text.len());
    write_canonical(&value, &mut canonical);
    let mut buf = Vec::with_capacity(text.len() + 64);
    encode(&value, &mut buf);
    Some((canonical, xxh3_128(&buf)))
}

fn of_raw(text: &str) -> Option<Exact<'_>> {
    let text = text.trim_matches([' ', '\t', '\n', '\r']);
    Some(match text.as_bytes().first()? {
        b'{' => {
            let map: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
            let mut out = BTreeMap::new();
            for (k, v) in map {
                out.insert(k, of_raw(v.get())?);
            }
            Exact::Object(out)
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            let items = items.into_iter().map(|v| of_raw(v.get()));
            Exact::Array(items.collect::<Option<_>>()?)
        }
        b'"' => Exact::String(serde_json::from_str(text).ok()?),
        b't' => Exact::Bool(true),
        b'f' => Exact::Bool(false),
        b'n' => Exact::Null,
        // As written: even `-0`, which serde_json reads as a float (an invalid amount), unlike
        // `0`, so it is another command.
        _ => Exact::Number(text),
    })
}

fn write_canonical(value: &Exact<'_>, out: &mut String) {
    match value {
        Exact::Null => out.push_str("null"),
        Exact::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Exact::Number(n) => out.push_str(n),
        Exact::String(s) => write_string(s, out),
        Exact::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Exact::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

/// A string as `serde_json` writes it in compact form.
fn write_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// The same binary form as `json::fingerprint`, with numbers as written.
fn encode(value: &Exact<'_>, buf: &mut Vec<u8>) {
    match value {
        Exact::Null => buf.push(b'n'),
        Exact::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Exact::Number(n) => encode_number_text(n, buf),
        Exact::String(s) => encode_str(s, buf),
        Exact::Array(items) => {
            buf.push(b'[');
            buf.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                encode(item, buf);
            }
        }
        Exact::Object(map) => {
            encode_object_header(map.len(), buf);
            for (k, v) in map {
                encode_str(k, buf);
                encode(v, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(text: &str) -> u128 {
        canonical_and_fingerprint(text).unwrap().1
    }

    #[test]
    fn numbers_beyond_f64_are_told_apart() {
        let big = r#"{"type":"pay_order","id":"a","cash_fen":1000000000000000000000000000000}"#;
        let next = r#"{"type":"pay_order","id":"a","cash_fen":1000000000000000000000000000001}"#;
        assert_ne!(fp(big), fp(next));
        // The same text in another layout is the same command.
        let spaced =
            r#"{ "cash_fen" : 1000000000000000000000000000000, "id":"a", "type":"pay_order" }"#;
        assert_eq!(fp(big), fp(spaced));
        let (canonical, _) = canonical_and_fingerprint(spaced).unwrap();
        assert_eq!(
            canonical,
            r#"{"cash_fen":1000000000000000000000000000000,"id":"a","type":"pay_order"}"#
        );
        assert_eq!(fp(&canonical), fp(big));
    }

    #[test]
    fn the_canonical_text_is_serde_json_compact_for_ordinary_values() {
        for text in [
            r#"{"b":[1,{"z":"\u00e9\n","a":null}],"a":true,"c":-5}"#,
            r#"["x",false,18446744073709551615]"#,
            r#""just a string""#,
            r#"{"k":1,"k":2}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let (canonical, fingerprint) = canonical_and_fingerprint(text).unwrap();
            assert_eq!(canonical, serde_json::to_string(&value).unwrap(), "{text}");
            assert_eq!(fingerprint, crate::json::fingerprint(&value), "{text}");
        }
        assert_ne!(fp("-0"), fp("0"));
        assert!(canonical_and_fingerprint("{").is_none());
        assert!(canonical_and_fingerprint("1 2").is_none());
    }
}
