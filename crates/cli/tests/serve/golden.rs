//! Every conformance vector, sent over HTTP in batches, gives the outcomes and the state it
//! gives to `jifen replay`.

use serde_json::Value;

use crate::common;
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    golden_vectors_over_http => super::golden_over_http;
}

fn golden_over_http(backend: &Backend) {
    // Time stands at the epoch, so the server issues no `advance_clock` of its own and the
    // vectors' clocks are theirs alone.
    let clock = std::env::temp_dir().join(format!(
        "jifen-golden-clock-{}-{}",
        backend.name(),
        std::process::id()
    ));
    write_clock(&clock, 0);
    let s = Server::start(&Opts::with_clock(backend, &clock));
    let mut dirs = Vec::new();
    for folder in ["golden", "golden-collectibles"] {
        for dir in std::fs::read_dir(common::shared().join(folder)).unwrap() {
            dirs.push(dir.unwrap().path());
        }
    }
    for dir in dirs {
        let state_file = if dir.join("expected-state-v2.json").is_file() {
            "expected-state-v2.json"
        } else {
            "expected-state.json"
        };
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        create(&s, &name, rules_json(&dir.join("rules.toml")));
        let lines: Vec<Value> = std::fs::read_to_string(dir.join("commands.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            // A line that is not JSON travels as a JSON string: not a command object, so the
            // same invalid_command outcome.
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
            .collect();
        let mut outcomes = Vec::new();
        for batch in lines.chunks(97) {
            let v = s.post(
                &format!("/v1/economies/{name}/commands"),
                ADMIN,
                &Value::Array(batch.to_vec()),
            );
            outcomes.extend(v["outcomes"].as_array().unwrap().iter().cloned());
        }
        let expected: Vec<Value> = std::fs::read_to_string(dir.join("expected-outcomes.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(outcomes.len(), expected.len(), "{name}: outcome count");
        for (i, (got, want)) in outcomes.iter().zip(&expected).enumerate() {
            for k in ["id", "ok", "code"] {
                assert_eq!(
                    got[k], want[k],
                    "{name}: outcome {i} field {k}: got {got}, want {want}"
                );
            }
        }
        let (status, body) = s.raw(
            format!("GET /v1/economies/{name}/state HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\n\r\n").as_bytes(),
        );
        assert_eq!(status, 200);
        let want = std::fs::read_to_string(dir.join(state_file)).unwrap();
        assert_eq!(body, want, "{name}: GET /state differs from {state_file}");
    }
    s.stop();
    let _ = std::fs::remove_file(&clock);
}
