//! The fast and the general parsing paths agree: same command, same fingerprint, same id echo.

use std::path::Path;

use jifen_core::Code;
use jifen_wire::{parse_command_canonical_into, parse_command_general, parse_command_line};

fn check(line: &str) {
    let got = parse_command_line(line);
    let mut canonical = String::new();
    let via_canonical = parse_command_canonical_into(line, &mut canonical);
    let Some((want, want_canonical)) = parse_command_general(line) else {
        // Not JSON: the fast path declines too, and the line is an `invalid_command` whose id
        // echoes as null, with nothing canonical to journal.
        assert_eq!(got.command, Err(Code::InvalidCommand), "{line}");
        assert_eq!(got.id_echo(), serde_json::Value::Null, "{line}");
        assert!(via_canonical.is_none(), "{line}");
        assert!(canonical.is_empty(), "{line}");
        return;
    };
    assert_eq!(got.command, want.command, "{line}");
    assert_eq!(got.fingerprint, want.fingerprint, "{line}");
    assert_eq!(got.id_echo(), want.id_echo(), "{line}");
    assert_eq!(got.id, want.id, "{line}");
    // The canonical text the server journals is the same on both paths, and parses back to
    // the same command with the same fingerprint (what a replay sees).
    let parsed = via_canonical.unwrap_or_else(|| panic!("{line}"));
    assert_eq!(canonical, want_canonical, "{line}");
    assert_eq!(parsed.command, want.command, "{line}");
    assert_eq!(parsed.fingerprint, want.fingerprint, "{line}");
    let replayed = parse_command_line(&canonical);
    assert_eq!(replayed.command, want.command, "{line}");
    assert_eq!(replayed.fingerprint, want.fingerprint, "{line}");
}

#[test]
fn on_every_shared_vector_line() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let mut lines = 0;
    for folder in ["golden", "golden-collectibles"] {
        for dir in std::fs::read_dir(shared.join(folder)).unwrap() {
            let path = dir.unwrap().path().join("commands.jsonl");
            let text = std::fs::read_to_string(path).unwrap();
            let json_lines: Vec<&str> = text
                .lines()
                .filter(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
                .collect();
            for line in text.lines() {
                check(line);
                lines += 1;
            }
            // The server's array splitter finds the same elements as a full JSON parser.
            let array = format!("[\n{}\n]", json_lines.join(" ,\n"));
            let raws: Vec<&serde_json::value::RawValue> = serde_json::from_str(&array).unwrap();
            let split = jifen_wire::split_array(&array).unwrap();
            assert_eq!(split, raws.iter().map(|r| r.get()).collect::<Vec<_>>());
        }
    }
    assert!(lines > 9_000, "{lines} lines");
}

#[test]
fn on_awkward_lines() {
    for line in [
        r#"{"type":"sell","id":"a","account":"x","atoms":5}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":5,"atoms":6}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":null}"#,
        r#"{"type":"sell","id":"a","account":null,"atoms":1}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":"5"}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":-5}"#,
        r#"{"type":"sell","id":"a","account":"x","day":"2026-01-01"}"#,
        r#"{"type":"sell","id":"a","account":"\u0078","atoms":1}"#,
        r#"{"type":"register_consumer","id":"a","account":"x","referrer":null}"#,
        r#"{"type":"refund_order","id":"a","order":"o","cash_fen":0}"#,
        r#"{"type":"settle_dividends","id":"a","day":7}"#,
        r#"{"type":"settle_dividends","id":"a"}"#,
        r#"{"type":"pay_order","id":"a","order":"o","consumer":"c","merchant":"m","cash_fen":18446744073709551615,"stable_fen":0}"#,
        r#"{"type":"teleport","id":"a","account":"x"}"#,
        r#"{"id":"a","account":"x"}"#,
        r#"{"type":"confirm_order","id":17,"order":"o"}"#,
        r#" { "order" : "o", "type":"confirm_order" , "id":"spaced"} "#,
        r#"{"type":"sell","id":"é-not-valid","account":"积分","atoms":1}"#,
        r#"{"type":"sell","id":"a","account":"x\u007f","atoms":0}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":-0}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":1.0}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":1000000000000000000000000000001}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":1e400}"#,
        r#"{"type":"sell","id":"a","account":"x","atoms":1.50}"#,
        "not json",
        "{\"type\":\"sell\"",
        "",
        "[1,]",
    ] {
        check(line);
    }
}
