//! Point-in-time restore (`jifen restore --until-seq N`, `--until TIME`): the simulated month of
//! `finance.rs` is loaded into a server, backed up, and restored as it stood at a seq and at a
//! time. Each restore passes `jifen verify`; its journal is exactly the original's up to that
//! point; and its state over HTTP is `jifen replay` of the export up to that point.

use std::path::Path;

use serde_json::Value;

use super::finance::loaded_month;
use crate::common;
use crate::support::Backend;

fn jifen_ok(args: &[&str], dir: &Path) -> String {
    let (out, text) = common::run(common::jifen().arg("--data").arg(dir).args(args));
    assert!(out.status.success(), "jifen {args:?}: {text}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn export(dir: &Path, tmp: &Path, name: &str) -> Vec<String> {
    let file = tmp.join(name);
    let rules = tmp.join(format!("{name}.rules.toml"));
    let (file_s, rules_s) = (file.display().to_string(), rules.display().to_string());
    jifen_ok(
        &[
            "export",
            "--economy",
            "f",
            "--out",
            &file_s,
            "--rules-out",
            &rules_s,
        ],
        dir,
    );
    let text = std::fs::read_to_string(&file).unwrap();
    text.lines().map(str::to_string).collect()
}

/// The restored store's state, as `jifen verify` re-derives it from its journal, against
/// `jifen replay` of the original's export up to the same point.
fn state_is_the_replay(dir: &Path, tmp: &Path, lines: &[String], name: &str) {
    let file = tmp.join(format!("{name}.jsonl"));
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let rules = tmp.join("whole.jsonl.rules.toml");
    let (out, text) = common::run(
        common::jifen()
            .arg("replay")
            .arg("--rules")
            .arg(&rules)
            .arg(&file),
    );
    assert!(out.status.success(), "{text}");
    let state_file = tmp.join(format!("{name}.state.json"));
    let path = state_file.display().to_string();
    jifen_ok(&["verify", "--economy", "f", "--state-out", &path], dir);
    let restored = std::fs::read(&state_file).unwrap();
    let (restored, replayed): (Value, Value) = (
        serde_json::from_slice(&restored).unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    );
    assert!(restored["applied"].as_u64().unwrap() > 1000, "{name}");
    assert!(
        restored == replayed,
        "{name}: the restored state and the replay of the export differ"
    );
}

fn restore(backup: &Path, dir: &Path, until: &[&str]) -> String {
    let b = backup.display().to_string();
    let mut args = vec!["restore", "--from", &b];
    args.extend_from_slice(until);
    let said = jifen_ok(&args, dir);
    jifen_ok(&["verify"], dir);
    said
}

#[test]
fn a_restore_up_to_a_seq_or_a_time_is_the_journal_as_it_stood() {
    let backend = Backend::sqlite();
    let tmp = common::temp_dir("point-in-time");
    let (s, days) = loaded_month(&backend, &tmp);
    s.stop();
    let Backend::Sqlite { dir: live } = &backend else {
        unreachable!()
    };
    let backup = tmp.join("backup");
    jifen_ok(&["backup", "--to", &backup.display().to_string()], live);
    let whole = export(live, &tmp, "whole.jsonl");
    assert!(whole.len() > 6000, "{}", whole.len());

    let at_seq = tmp.join("at-seq");
    let said = restore(&backup, &at_seq, &["--until-seq", "3001"]);
    assert!(
        said.contains("f: through seq 3001, as it stood then"),
        "{said}"
    );
    let cut = export(&at_seq, &tmp, "at-seq.jsonl");
    assert_eq!(
        cut[..],
        whole[..3001],
        "the journal up to seq 3001, and nothing after"
    );
    state_is_the_replay(&at_seq, &tmp, &cut, "at-seq");

    // Day 10 ends at midnight in Shanghai: 2026-11-11T00:00+08:00; the month's entries were
    // committed at noon each day, so the entries of days 1 to 10 are kept.
    let at_time = tmp.join("at-time");
    restore(&backup, &at_time, &["--until", "2026-11-10T23:59:59+08:00"]);
    let cut = export(&at_time, &tmp, "at-time.jsonl");
    let day10: usize = days[..10].iter().map(Vec::len).sum();
    assert!(
        cut.len() >= day10 && cut.len() < whole.len(),
        "{} of {}",
        cut.len(),
        whole.len()
    );
    assert_eq!(cut[..], whole[..cut.len()]);
    let ids: Vec<Value> = (cut.iter())
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].clone())
        .collect();
    let (last10, first11) = (&days[9].last().unwrap()["id"], &days[10][0]["id"]);
    assert!(ids.contains(last10), "day 10's last command is kept");
    assert!(!ids.contains(first11), "day 11's first command is not");
    state_is_the_replay(&at_time, &tmp, &cut, "at-time");

    for (args, says) in [
        (vec!["--until", "yesterday"], "RFC 3339"),
        (vec!["--economy", "f"], "goes with --until-seq"),
        (vec!["--until-seq", "5", "--economy", "nope"], "no economy"),
    ] {
        let dir = tmp.join(format!("refused-{}", args.len()));
        let b = backup.display().to_string();
        let mut all = vec!["restore", "--from", &b];
        all.extend(args.iter().copied());
        let (out, text) = common::run(common::jifen().arg("--data").arg(&dir).args(&all));
        assert!(
            !out.status.success() && text.contains(says),
            "{all:?}: {text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
