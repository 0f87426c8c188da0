//! JSON output in the two forms jifen needs: Python's `json.dumps` form, which the conformance
//! vectors use, and a canonical compact form for hashing and the journal.

use serde_json::Value;
use xxhash_rust::xxh3::xxh3_128;

/// `json.dumps(value)` as Python writes it: `", "` and `": "` separators, ASCII only, keys in
/// the order held (sorted, for `serde_json::Map`).
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python(value, &mut out);
    out
}

fn write_python(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_ascii_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_ascii_string(k, out);
                out.push_str(": ");
                write_python(v, out);
            }
            out.push('}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    use std::fmt::Write;
    if n.is_f64() {
        // Python writes whole floats with a trailing ".0" and large ones in exponent form.
        let f = n.as_f64().unwrap_or(0.0);
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
            let _ = write!(out, "{f:.1}");
        } else if f.is_finite() && f.abs() >= 1e16 {
            let s = format!("{f:e}");
            // Rust writes 1e25; Python writes 1e+25.
            out.push_str(&s.replace("e", "e+").replace("e+-", "e-"));
        } else {
            let _ = write!(out, "{n}");
        }
    } else {
        let _ = write!(out, "{n}");
    }
}

/// A JSON string with every non-ASCII character escaped, as Python's `ensure_ascii` does.
fn write_ascii_string(s: &str, out: &mut String) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The canonical form of a JSON value: compact, keys sorted, no insignificant white space.
/// Two commands are the same command exactly when their canonical forms are equal.
pub fn canonical_json(value: &Value) -> String {
    // `serde_json::Map` keeps keys sorted, and `to_string` writes the compact form.
    serde_json::to_string(value).unwrap_or_default()
}

/// A 128-bit digest of the canonical form. The value is first written in a compact,
/// unambiguous binary form (type tags and length prefixes), then hashed in one pass.
pub(crate) fn fingerprint(value: &Value) -> u128 {
    let mut buf = Vec::with_capacity(256);
    encode_value(value, &mut buf);
    xxh3_128(&buf)
}

fn encode_value(value: &Value, buf: &mut Vec<u8>) {
    match value {
        Value::Null => buf.push(b'n'),
        Value::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Value::Number(n) => encode_number_text(&n.to_string(), buf),
        Value::String(s) => encode_str(s, buf),
        Value::Array(items) => {
            buf.push(b'[');
            buf.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                encode_value(item, buf);
            }
        }
        Value::Object(map) => {
            encode_object_header(map.len(), buf);
            for (k, v) in map {
                encode_str(k, buf);
                encode_value(v, buf);
            }
        }
    }
}

pub(crate) fn encode_number_text(digits: &str, buf: &mut Vec<u8>) {
    buf.push(b'#');
    buf.extend_from_slice(digits.as_bytes());
    buf.push(b';');
}

pub(crate) fn encode_object_header(len: usize, buf: &mut Vec<u8>) {
    buf.push(b'{');
    buf.extend_from_slice(&(len as u64).to_le_bytes());
}

pub(crate) fn encode_str(s: &str, buf: &mut Vec<u8>) {
    buf.push(b'"');
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

/// How deeply [`split_array`] lets values nest.
pub const NESTING_MAX: usize = 64;

/// Splits a JSON array into the texts of its elements, without parsing them: one pass over the
/// bytes that follows strings, escapes and nesting. The structure is checked (brackets that
/// match, commas between elements, nothing after the array); each element's own validity is
/// left to whoever parses it. `Err` says what is wrong and at which byte.
pub fn split_array(text: &str) -> Result<Vec<&str>, String> {
    let bytes = text.as_bytes();
    let is_ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = 0;
    while i < bytes.len() && is_ws(bytes[i]) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'[') {
        return Err(format!("expected '[' at byte {i}"));
    }
    i += 1;
    let mut elements = Vec::new();
    let mut closers: Vec<u8> = Vec::new();
    let mut start = i;
    let mut in_string = false;
    let mut ended = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                if closers.len() == NESTING_MAX {
                    return Err(format!("nested more than {NESTING_MAX} deep at byte {i}"));
                }
                closers.push(if b == b'{' { b'}' } else { b']' });
            }
            b'}' | b']' if !closers.is_empty() && closers.last() == Some(&b) => {
                closers.pop();
            }
            b'}' | b']' if !closers.is_empty() => {
                return Err(format!("unmatched '{}' at byte {i}", b as char));
            }
            b',' | b']' if closers.is_empty() => {
                let element = text[start..i].trim_matches(is_ws_char);
                if element.is_empty() {
                    if b == b']' && elements.is_empty() {
                        ended = true;
                        i += 1;
                        break;
                    }
                    return Err(format!("missing value before byte {i}"));
                }
                elements.push(element);
                start = i + 1;
                if b == b']' {
                    ended = true;
                    i += 1;
                    break;
                }
            }
            b'}' => return Err(format!("unmatched '}}' at byte {i}")),
            _ => {}
        }
        i += 1;
    }
    if !ended {
        return Err("the array is not closed".into());
    }
    if let Some(extra) = bytes[i..].iter().position(|&b| !is_ws(b)) {
        return Err(format!(
            "unexpected text after the array at byte {}",
            i + extra
        ));
    }
    Ok(elements)
}

fn is_ws_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_form() {
        let check = |src: &str, want: &str| {
            let v: Value = serde_json::from_str(src).unwrap();
            assert_eq!(python_json(&v), want);
        };
        check(
            r#"{"id":"a","ok":true,"code":null}"#,
            r#"{"code": null, "id": "a", "ok": true}"#,
        );
        check("[1, 2,3]", "[1, 2, 3]");
        check("1.5", "1.5");
        check("1.0", "1.0");
        check("1e25", "1e+25");
        check(r#""名""#, r#""\u540d""#);
        check(r#""😀""#, r#""\ud83d\ude00""#);
    }

    #[test]
    fn fingerprint_ignores_key_order_only() {
        let fp = |s: &str| fingerprint(&serde_json::from_str(s).unwrap());
        assert_eq!(fp(r#"{"a":1,"b":"x"}"#), fp(r#"{ "b": "x", "a": 1 }"#));
        assert_ne!(fp(r#"{"a":1}"#), fp(r#"{"a":2}"#));
        assert_ne!(fp(r#"{"a":"1"}"#), fp(r#"{"a":1}"#));
        assert_ne!(fp(r#"["ab","c"]"#), fp(r#"["a","bc"]"#));
    }

    #[test]
    fn split_array_finds_elements_and_refuses_bad_structure() {
        let ok = split_array(r#" [ {"a":"x,]}"} , [1,[2]] ,"s\\\"]",3 ] "#).unwrap();
        assert_eq!(ok, vec![r#"{"a":"x,]}"}"#, "[1,[2]]", r#""s\\\"]""#, "3"]);
        assert_eq!(split_array("[]").unwrap(), Vec::<&str>::new());
        assert_eq!(split_array("[ ]").unwrap(), Vec::<&str>::new());
        for bad in [
            "", "{}", "[", "[1,]", "[,1]", "[1 2", "[1]x", "[{]", "[[}]", "[\"]", "[1]]", "}",
        ] {
            assert!(split_array(bad).is_err(), "{bad:?} was accepted");
        }
        let deep = format!(
            "[{}{}]",
            "[".repeat(NESTING_MAX + 1),
            "]".repeat(NESTING_MAX + 1)
        );
        assert!(split_array(&deep).is_err());
    }
}
