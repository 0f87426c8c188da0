//! Conformance: `jifen replay` reproduces every vector in `tests/vectors/` exactly.

mod common;

use common::{jifen, run, shared, temp_dir};

fn vectors(folder: &str) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(shared().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("commands.jsonl").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Replays one vector, printing the state in `version` (`--state-v1`, none, `--state-v3`),
/// and compares state and outcomes.
fn check_vector(dir: &std::path::Path, state_file: &str, version: u8, tmp: &std::path::Path) {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let outcomes = tmp.join(format!("{name}-{version}.outcomes.jsonl"));
    let mut cmd = jifen();
    cmd.arg("replay")
        .arg("--check")
        .arg("--rules")
        .arg(dir.join("rules.toml"))
        .arg(dir.join("commands.jsonl"))
        .arg("--outcomes")
        .arg(&outcomes);
    match version {
        1 => _ = cmd.arg("--state-v1"),
        3 => _ = cmd.arg("--state-v3"),
        _ => {}
    }
    let (out, described) = run(&mut cmd);
    assert!(out.status.success(), "{described}");
    let want_state = std::fs::read_to_string(dir.join(state_file)).unwrap();
    let got_state = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        got_state, want_state,
        "{name}: state differs from {state_file}"
    );
    let want = std::fs::read_to_string(dir.join("expected-outcomes.jsonl")).unwrap();
    let got = std::fs::read_to_string(&outcomes).unwrap();
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{name}: outcome line {} differs", n + 1);
    }
    assert_eq!(
        got.lines().count(),
        want.lines().count(),
        "{name}: outcome count"
    );
    assert_eq!(got, want, "{name}: outcomes file differs");
}

#[test]
fn every_golden_vector_replays_exactly() {
    let vectors = vectors("golden");
    assert!(
        vectors.len() >= 4,
        "expected the shared vectors, found {vectors:?}"
    );
    let tmp = temp_dir("golden");
    for dir in vectors {
        // The v2 state (SPEC §13) by default, the stage-1 and stage-3 states on request.
        check_vector(&dir, "expected-state-v2.json", 2, &tmp);
        check_vector(&dir, "expected-state.json", 1, &tmp);
        check_vector(&dir, "expected-state-v3.json", 3, &tmp);
    }
}

#[test]
fn every_collectibles_vector_replays_exactly() {
    let vectors = vectors("golden-collectibles");
    assert!(
        vectors.len() >= 2,
        "expected the shared vectors, found {vectors:?}"
    );
    let tmp = temp_dir("golden-collectibles");
    for dir in vectors {
        check_vector(&dir, "expected-state.json", 2, &tmp);
        check_vector(&dir, "expected-state-v3.json", 3, &tmp);
    }
}

#[test]
fn every_payouts_vector_replays_exactly() {
    let vectors = vectors("golden-payouts");
    assert!(
        vectors.len() >= 3,
        "expected the payout vectors, found {vectors:?}"
    );
    let tmp = temp_dir("golden-payouts");
    for dir in vectors {
        check_vector(&dir, "expected-state.json", 3, &tmp);
    }
}

#[test]
fn events_describe_each_applied_command() {
    let dir = shared().join("golden/seed-wine");
    let tmp = temp_dir("events");
    let events = tmp.join("events.jsonl");
    let (out, described) = run(jifen()
        .arg("replay")
        .arg("--rules")
        .arg(dir.join("rules.toml"))
        .arg(dir.join("commands.jsonl"))
        .arg("--events")
        .arg(&events));
    assert!(out.status.success(), "{described}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 301, "one event per applied command");
    let first_confirm = lines.iter().find(|e| e["type"] == "confirm_order").unwrap();
    assert_eq!(first_confirm["grants"][0]["atoms"], 2_100_000_000u64);
    assert_eq!(first_confirm["price_before"], "1.0000");
    assert_eq!(first_confirm["price_after"], "1.4286");
    let last = lines.last().unwrap();
    assert_eq!(last["price_after"], "5.1731");
}

/// A `set_tiers` line: table `a` by points held, downgraded at settlements, with a partner
/// threshold; table `b` by spend, never downgraded, with a partner level.
fn tiers_line(id: &str, a: bool) -> String {
    let level = |zh: &str, en: &str, min: u64, partner: bool| {
        serde_json::json!({"name_zh": zh, "name_en": en, "min": min, "partner": partner,
            "benefits_zh": "", "benefits_en": ""})
    };
    let tiers = if a {
        serde_json::json!({"basis": "points", "downgrade": "at_settlement",
            "partner_min": 5_000_000_000u64, "levels": [level("一", "One", 0, false),
            level("二", "Two", 100_000_000, false), level("三", "Three", 1_000_000_000, false)]})
    } else {
        serde_json::json!({"basis": "spend", "downgrade": "never", "levels": [
            level("甲", "A", 0, false), level("乙", "B", 50_000, true)]})
    };
    serde_json::json!({"type": "set_tiers", "id": id, "tiers": tiers}).to_string()
}

/// Replays `commands` with `set_tiers` of table `a` or `b` before every 25th line, returning the
/// stage-3 state and the outcomes.
fn replay_under(dir: &std::path::Path, a: bool, tmp: &std::path::Path) -> (String, String) {
    let text = std::fs::read_to_string(dir.join("commands.jsonl")).unwrap();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if n % 25 == 0 {
            lines.push(tiers_line(&format!("tiers-{n}"), a));
        }
        lines.push(line.to_string());
    }
    let name = format!("{}-{a}", dir.file_name().unwrap().to_string_lossy());
    let commands = tmp.join(format!("{name}.jsonl"));
    let outcomes = tmp.join(format!("{name}.outcomes.jsonl"));
    std::fs::write(&commands, lines.join("\n") + "\n").unwrap();
    let (out, described) = run(jifen()
        .args(["replay", "--check", "--state-v3", "--rules"])
        .arg(dir.join("rules.toml"))
        .arg(&commands)
        .arg("--outcomes")
        .arg(&outcomes));
    assert!(out.status.success(), "{described}");
    let outcomes = std::fs::read_to_string(&outcomes).unwrap();
    let set = outcomes
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|o| o["id"].as_str().unwrap_or("").starts_with("tiers-") && o["ok"] == true)
        .count();
    assert_eq!(
        set,
        text.lines().count().div_ceil(25),
        "{name}: every table was set"
    );
    (String::from_utf8(out.stdout).unwrap(), outcomes)
}

/// SPEC §16's guard rail through the binary: every vector, replayed with two different tier
/// tables set through it, ends in the same state with the same outcomes.
#[test]
fn tier_tables_leave_every_vector_unchanged() {
    let tmp = temp_dir("golden-tiers");
    for folder in ["golden", "golden-collectibles", "golden-payouts"] {
        for dir in vectors(folder) {
            let (state_a, outcomes_a) = replay_under(&dir, true, &tmp);
            let (state_b, outcomes_b) = replay_under(&dir, false, &tmp);
            assert_eq!(state_a, state_b, "{}: state", dir.display());
            assert_eq!(outcomes_a, outcomes_b, "{}: outcomes", dir.display());
        }
    }
}
