//! Parsing one command line (SPEC §5) into a core [`Command`].

use jifen_core::{Fingerprint, Text};
use serde_json::Value;

use crate::fast::parse_fast;
use crate::json::fingerprint;
use crate::shape::{command_from_map, Parsed};

/// The longest command line accepted, in bytes. A longer line is an `invalid_command` outcome
/// and is not parsed at all, which bounds the work one line can cause.
pub const LINE_BYTES_MAX: usize = 64 * 1024;

/// Parses one line of a command file. Never fails: a bad line is an `invalid_command`.
pub fn parse_command_line(line: &str) -> Parsed {
    if line.len() > LINE_BYTES_MAX {
        return Parsed::invalid(Value::Null);
    }
    if let Some(parsed) = parse_fast(line) {
        return parsed;
    }
    parse_command_general(line)
        .map(|(parsed, _)| parsed)
        .unwrap_or_else(|| Parsed::invalid(Value::Null))
}

/// Parses one JSON text on the general path (never the fast one): the command, and its
/// canonical text. The fingerprint and the canonical text keep every number's exact digits
/// (see `exact`), so two commands that differ only beyond `f64`'s precision are told apart.
/// `None` when the text is not JSON.
pub fn parse_command_general(text: &str) -> Option<(Parsed, String)> {
    let value = serde_json::from_str::<Value>(text).ok()?;
    let (canonical, fp) = crate::exact::canonical_and_fingerprint(text)?;
    let mut parsed = parse_command_value(value);
    parsed.fingerprint = Fingerprint(fp);
    Some((parsed, canonical))
}

/// Parses one JSON text holding a command and appends its canonical text to `out`: on the fast
/// path when it can, otherwise through a `Value`. `None` (and nothing appended) when the text
/// is not JSON or is longer than [`LINE_BYTES_MAX`]; the caller journals such a text as an
/// excerpt.
pub fn parse_command_canonical_into(text: &str, out: &mut String) -> Option<Parsed> {
    if text.len() > LINE_BYTES_MAX {
        return None;
    }
    let mark = out.len();
    if let Some(parsed) = crate::fast::parse_fast_canonical(text, out) {
        return Some(parsed);
    }
    out.truncate(mark);
    let (parsed, canonical) = parse_command_general(text)?;
    out.push_str(&canonical);
    Some(parsed)
}

/// Parses one command object built in code. Its fingerprint is taken from the `Value`, whose
/// numbers beyond `u64` are already `f64`: text from outside goes through
/// [`parse_command_general`] instead.
pub fn parse_command_value(value: Value) -> Parsed {
    let fp = Fingerprint(fingerprint(&value));
    let Value::Object(map) = value else {
        return Parsed::invalid(Value::Null);
    };
    let id_echo = map.get("id").cloned().unwrap_or(Value::Null);
    let id = id_echo.as_str().map(Text::from);
    let command = command_from_map(&map);
    Parsed::new(id, id_echo, fp, command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jifen_core::{Code, Command};

    fn code_of(line: &str) -> Option<Code> {
        parse_command_line(line).command.err()
    }

    #[test]
    fn shapes() {
        assert_eq!(code_of("not json"), Some(Code::InvalidCommand));
        assert_eq!(code_of("[1,2]"), Some(Code::InvalidCommand));
        assert_eq!(
            code_of(r#"{"type":"teleport","id":"a"}"#),
            Some(Code::InvalidCommand)
        );
        assert_eq!(
            code_of(r#"{"type":"sell","id":"a","account":"x","atoms":1,"extra":1}"#),
            Some(Code::InvalidCommand)
        );
        assert_eq!(
            code_of(r#"{"type":"sell","id":"a","account":7,"atoms":1}"#),
            Some(Code::InvalidCommand)
        );
        assert_eq!(
            code_of(r#"{"type":"sell","id":"a","account":"x","atoms":1}"#),
            None
        );
        let long = format!(
            r#"{{"type":"sell","id":"a","account":"{}","atoms":1}}"#,
            "x".repeat(LINE_BYTES_MAX)
        );
        assert_eq!(code_of(&long), Some(Code::InvalidCommand));
    }

    #[test]
    fn amounts() {
        let atoms = |v: &str| match parse_command_line(&format!(
            r#"{{"type":"sell","id":"a","account":"x","atoms":{v}}}"#
        ))
        .command
        {
            Ok(Command::Sell { atoms, .. }) => atoms,
            other => panic!("{other:?}"),
        };
        assert_eq!(atoms("5"), Some(5));
        assert_eq!(atoms("18446744073709551615"), Some(u64::MAX));
        assert_eq!(atoms("18446744073709551616"), None);
        assert_eq!(atoms("-1"), None);
        assert_eq!(atoms("1.5"), None);
        assert_eq!(atoms("1.0"), None);
        assert_eq!(atoms("\"5\""), None);
        assert_eq!(atoms("true"), None);
        assert_eq!(atoms("null"), None);
    }

    #[test]
    fn id_echo() {
        let p = parse_command_line(r#"{"type":"sell","id":17}"#);
        assert_eq!(p.id_echo(), Value::from(17));
        assert_eq!(p.id, None);
        let p = parse_command_line(r#"[1]"#);
        assert_eq!(p.id_echo(), Value::Null);
    }
}
