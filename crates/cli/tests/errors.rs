//! Bad input: each malformed line is an outcome with the SPEC's code, never a crash; a missing
//! file or invalid rules is a one-line error with exit status 2.

mod common;

use common::{jifen, run, temp_dir};

/// Replays `lines` under default rules and returns the outcome codes.
fn codes(lines: &[&str]) -> Vec<String> {
    let tmp = temp_dir("codes");
    let commands = tmp.join("commands.jsonl");
    let outcomes = tmp.join("outcomes.jsonl");
    std::fs::write(&commands, lines.join("\n")).unwrap();
    let (out, described) = run(jifen()
        .arg("replay")
        .arg(&commands)
        .arg("--outcomes")
        .arg(&outcomes)
        .arg("--check"));
    assert!(out.status.success(), "{described}");
    std::fs::read_to_string(&outcomes)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["code"].as_str().unwrap_or("ok").to_string()
        })
        .collect()
}

#[test]
fn malformed_lines_get_codes_not_crashes() {
    let long_name = "x".repeat(65);
    let long_line = format!(
        r#"{{"type":"register_merchant","id":"big","account":"{}"}}"#,
        "y".repeat(70_000)
    );
    let reg = format!(r#"{{"type":"register_consumer","id":"r2","account":"{long_name}"}}"#);
    let lines = [
        r#"{"type":"register_merchant","id":"m","account":"shop"}"#,
        r#"{"type":"register_consumer","id":"r1","account":"alice"}"#,
        "not json",
        "[1, 2, 3]",
        "\"just a string\"",
        r#"{"type":"register_consumer","account":"bob"}"#,
        r#"{"type":"register_consumer","id":7,"account":"bob"}"#,
        r#"{"type":"register_consumer","id":"bad id!","account":"bob"}"#,
        &reg,
        r#"{"type":"register_consumer","id":"r3","account":"bob","colour":"red"}"#,
        r#"{"type":"register_consumer","id":"r4","account":["bob"]}"#,
        r#"{"type":"pay_order","id":"p1","order":"o1","consumer":"alice","merchant":"shop","cash_fen":-5,"stable_fen":0}"#,
        r#"{"type":"pay_order","id":"p2","order":"o1","consumer":"alice","merchant":"shop","cash_fen":1e30,"stable_fen":0}"#,
        r#"{"type":"pay_order","id":"p3","order":"o1","consumer":"alice","merchant":"shop","cash_fen":"100","stable_fen":0}"#,
        r#"{"type":"pay_order","id":"p4","order":"o1","consumer":"alice","merchant":"shop","cash_fen":100000001,"stable_fen":0}"#,
        r#"{"type":"pay_order","id":"p5","order":"o1","consumer":"alice","merchant":"shop","cash_fen":18446744073709551615,"stable_fen":1}"#,
        r#"{"type":"sell","id":"s1","account":"alice","atoms":1.5}"#,
        r#"{"type":"settle_dividends","id":"d1","day":"2026-13-01"}"#,
        r#"{"type":"set_rules","id":"x1","rules":{"reserve_bps":1}}"#,
        r#"{"type":"teleport","id":"t1"}"#,
        &long_line,
        "   ",
        r#"{"type":"register_consumer","id":"r5","account":"bob"}"#,
    ];
    let got = codes(&lines);
    let want = [
        "ok",
        "ok",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_command",
        "invalid_amount",
        "invalid_amount",
        "invalid_amount",
        "invalid_amount",
        "invalid_amount",
        "invalid_amount",
        "invalid_day",
        "invalid_rules",
        "invalid_command",
        "invalid_command",
        "ok",
    ];
    assert_eq!(got, want);
}

#[test]
fn missing_files_and_bad_rules_exit_with_status_2() {
    let tmp = temp_dir("usage");
    let commands = tmp.join("c.jsonl");
    std::fs::write(&commands, "").unwrap();
    let bad_rules = tmp.join("bad.toml");
    std::fs::write(&bad_rules, "reward_bps = 10001\n").unwrap();
    let unknown = tmp.join("unknown.toml");
    std::fs::write(&unknown, "reward = 1\n").unwrap();
    let cases: [(Vec<std::ffi::OsString>, &str); 4] = [
        (
            vec!["replay".into(), tmp.join("missing.jsonl").into()],
            "cannot read",
        ),
        (
            vec![
                "replay".into(),
                "--rules".into(),
                tmp.join("missing.toml").into(),
                commands.clone().into(),
            ],
            "cannot read rules",
        ),
        (
            vec![
                "replay".into(),
                "--rules".into(),
                bad_rules.into(),
                commands.clone().into(),
            ],
            "reward_bps",
        ),
        (
            vec![
                "replay".into(),
                "--rules".into(),
                unknown.into(),
                commands.into(),
            ],
            "unknown rules key \"reward\"",
        ),
    ];
    for (args, want) in cases {
        let (out, described) = run(jifen().args(&args));
        assert_eq!(out.status.code(), Some(2), "{described}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {described}");
        assert!(stderr.contains(want), "{described}");
    }
}
