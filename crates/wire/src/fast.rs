//! The fast path for the common command shape: a flat object whose fields are plain strings
//! and integers, parsed without building a `serde_json::Value` and without allocating.
//!
//! Anything else (a nested `rules` object, a string with escapes, a field of the wrong type, an
//! unknown or repeated key) makes the fast path decline, and the general path decides. Both
//! paths give the same command and the same fingerprint for every line the fast path accepts;
//! a test checks that on every shared vector.

use jifen_core::{Amount, Fingerprint, Rules, Text};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use xxhash_rust::xxh3::xxh3_128;

use crate::json::{encode_number_text, encode_object_header, encode_str};
use crate::shape::{command_from, Parsed, Source};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flat<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(default, deserialize_with = "some_str")]
    account: Option<&'a str>,
    #[serde(default, deserialize_with = "some_str")]
    referrer: Option<&'a str>,
    #[serde(default, deserialize_with = "some_str")]
    order: Option<&'a str>,
    #[serde(default, deserialize_with = "some_str")]
    consumer: Option<&'a str>,
    #[serde(default, deserialize_with = "some_str")]
    merchant: Option<&'a str>,
    #[serde(default, deserialize_with = "some_str")]
    day: Option<&'a str>,
    #[serde(default, deserialize_with = "some_u64")]
    cash_fen: Option<u64>,
    #[serde(default, deserialize_with = "some_u64")]
    stable_fen: Option<u64>,
    #[serde(default, deserialize_with = "some_u64")]
    atoms: Option<u64>,
    #[serde(default, deserialize_with = "some_u64")]
    fen: Option<u64>,
}

/// A present string field (a JSON `null` is not a string, so it declines).
fn some_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    <&'de str>::deserialize(d).map(Some)
}

/// A present integer field in `u64` (a float, a negative or larger number declines).
fn some_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    u64::deserialize(d).map(Some)
}

#[derive(Clone, Copy)]
enum Field<'a> {
    Str(&'a str),
    Num(u64),
}

impl<'a> Flat<'a> {
    /// Every present field, in the order `serde_json::Map` keeps keys (sorted by bytes).
    fn fields(&self) -> ([(&'static str, Field<'a>); 12], usize) {
        use Field::{Num, Str};
        // Already in byte order of the keys, so nothing needs sorting.
        let all = [
            ("account", self.account.map(Str)),
            ("atoms", self.atoms.map(Num)),
            ("cash_fen", self.cash_fen.map(Num)),
            ("consumer", self.consumer.map(Str)),
            ("day", self.day.map(Str)),
            ("fen", self.fen.map(Num)),
            ("id", Some(Str(self.id))),
            ("merchant", self.merchant.map(Str)),
            ("order", self.order.map(Str)),
            ("referrer", self.referrer.map(Str)),
            ("stable_fen", self.stable_fen.map(Num)),
            ("type", Some(Str(self.kind))),
        ];
        debug_assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        let mut fields = [("", Field::Num(0)); 12];
        let mut n = 0;
        for (k, v) in all {
            if let Some(v) = v {
                fields[n] = (k, v);
                n += 1;
            }
        }
        (fields, n)
    }

    /// The same digest `json::fingerprint` gives for the equivalent `Value`.
    fn fingerprint(&self) -> u128 {
        let (fields, n) = self.fields();
        let mut buf = Vec::with_capacity(256);
        encode_object_header(n, &mut buf);
        let mut digits = [0u8; 20];
        for (k, v) in &fields[..n] {
            encode_str(k, &mut buf);
            match v {
                Field::Str(s) => encode_str(s, &mut buf),
                Field::Num(n) => encode_number_text(format_u64(*n, &mut digits), &mut buf),
            }
        }
        xxh3_128(&buf)
    }
}

fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

impl Source for Flat<'_> {
    fn only(&self, allowed: &[&str]) -> bool {
        let (fields, n) = self.fields();
        fields[..n]
            .iter()
            .all(|(k, _)| *k == "type" || *k == "id" || allowed.contains(k))
    }

    fn string(&self, key: &str) -> Option<Option<&str>> {
        let v = match key {
            "account" => self.account,
            "referrer" => self.referrer,
            "order" => self.order,
            "consumer" => self.consumer,
            "merchant" => self.merchant,
            "day" => self.day,
            _ => None,
        };
        v.map(Some)
    }

    fn number(&self, key: &str) -> Option<Amount> {
        let v = match key {
            "cash_fen" => self.cash_fen,
            "stable_fen" => self.stable_fen,
            "atoms" => self.atoms,
            "fen" => self.fen,
            _ => None,
        };
        v.map(Some)
    }

    fn rules(&self) -> Option<Rules> {
        None
    }

    fn policy(&self) -> Option<jifen_core::Policy> {
        None
    }
}

/// Parses `line` on the fast path, or declines with `None`.
pub(crate) fn parse_fast(line: &str) -> Option<Parsed> {
    let flat: Flat<'_> = serde_json::from_str(line).ok()?;
    Some(parsed_from(&flat))
}

/// [`parse_fast`], appending the command's canonical JSON text to `out`: the same text
/// `json::canonical_json` writes for the equivalent `Value`. The fast path only takes strings
/// without escapes, and JSON forbids raw control characters in them, so each string is
/// written back exactly as it came; the fields are already in sorted order.
pub(crate) fn parse_fast_canonical(text: &str, out: &mut String) -> Option<Parsed> {
    let flat: Flat<'_> = serde_json::from_str(text).ok()?;
    let (fields, n) = flat.fields();
    out.push('{');
    let mut digits = [0u8; 20];
    for (i, (k, v)) in fields[..n].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(k);
        out.push_str("\":");
        match v {
            Field::Str(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            Field::Num(x) => out.push_str(format_u64(*x, &mut digits)),
        }
    }
    out.push('}');
    Some(parsed_from(&flat))
}

fn parsed_from(flat: &Flat<'_>) -> Parsed {
    // A field of the wrong kind for its command (a string where a number belongs) would be
    // read differently on the general path; `command_from` only asks for the right kinds, and
    // a misplaced field shows up as a present key that `only` rejects, so both paths agree.
    Parsed::new(
        Some(Text::from(flat.id)),
        Value::Null,
        Fingerprint(flat.fingerprint()),
        command_from(flat, flat.kind),
    )
}
