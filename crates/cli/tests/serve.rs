//! `jifen serve` end to end: the real binary on port 0, over real HTTP, against SQLite and the
//! PostgreSQL cluster `scripts/test` starts.

mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;
mod web;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use support::Backend;
use web::*;

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

#[test]
fn golden_vectors_over_http_on_sqlite() {
    golden_over_http(&Backend::sqlite());
}

#[test]
fn golden_vectors_over_http_on_postgres() {
    golden_over_http(&Backend::postgres());
}

/// Creates economies `e` and `f` with a merchant `m1`, a merchant `m2` and a consumer `c1`
/// holding points, and returns keys by role.
fn setup_roles(s: &Server) -> Vec<(&'static str, String)> {
    create(s, "e", json!({}));
    create(s, "f", json!({}));
    s.post("/v1/economies/e/commands", ADMIN, &json!([
        {"type":"register_merchant","id":"1","account":"m1"},
        {"type":"register_merchant","id":"2","account":"m2"},
        {"type":"register_consumer","id":"3","account":"c1"},
        {"type":"pay_order","id":"4","order":"o1","consumer":"c1","merchant":"m1","cash_fen":100000,"stable_fen":0},
        {"type":"confirm_order","id":"5","order":"o1"},
        {"type":"convert_to_stable","id":"6","account":"c1","atoms":100000000},
        {"type":"pay_order","id":"7","order":"o2","consumer":"c1","merchant":"m1","cash_fen":0,"stable_fen":5000},
        {"type":"confirm_order","id":"8","order":"o2"},
        {"type":"pay_order","id":"9","order":"o3","consumer":"c1","merchant":"m1","cash_fen":1000,"stable_fen":0},
    ]));
    let key = |eco: &str, body: Value| -> String {
        s.post(&format!("/v1/economies/{eco}/keys"), ADMIN, &body)["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    vec![
        ("admin", ADMIN.to_string()),
        ("operator", key("e", json!({"role": "operator"}))),
        (
            "merchant",
            key("e", json!({"role": "merchant", "account": "m1"})),
        ),
        ("auditor", key("e", json!({"role": "auditor"}))),
        ("other-operator", key("f", json!({"role": "operator"}))),
    ]
}

#[test]
fn every_role_against_every_endpoint() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let keys = setup_roles(&s);
    // (method, path, body, roles allowed). Each request is one that succeeds when allowed.
    let mut n = 0;
    let mut rules = s.get("/v1/economies/e/rules", ADMIN)["rules"].clone();
    rules
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.ends_with("_str"));
    let what_if = json!({ "rules": rules }).to_string();
    let endpoints = |n: &mut u32| -> Vec<(&str, String, Option<String>, &[&str])> {
        *n += 1;
        vec![
            (
                "GET",
                "/v1/economies/e/overview".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/verify".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "POST",
                "/v1/economies/e/verify".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/accounts?q=c".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/accounts/c1/history".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/accounts/m1/history".into(),
                None,
                &["admin", "operator", "auditor", "merchant"],
            ),
            (
                "GET",
                "/v1/economies/e/orders?status=pending".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/orders/o3/preview?action=confirm".into(),
                None,
                &["admin", "operator"],
            ),
            (
                "GET",
                "/v1/economies/e/settlements".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "POST",
                "/v1/economies/e/rules/preview".into(),
                Some(what_if.clone()),
                &["admin", "operator"],
            ),
            (
                "GET",
                "/v1/economies/e".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "PATCH",
                "/v1/economies/e".into(),
                Some(r#"{"auto_confirm_days":7}"#.into()),
                &["admin", "operator"],
            ),
            (
                "GET",
                "/v1/economies/e/rules".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/rules/history".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/state".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/events?limit=5".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/price-history".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/leaderboard".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "POST",
                "/v1/economies/e/wallet-links".into(),
                Some(r#"{"account":"c1"}"#.into()),
                &["admin", "operator"],
            ),
            (
                "POST",
                "/v1/economies/e/tree-heads".into(),
                Some("{}".into()),
                &["admin", "operator"],
            ),
            (
                "GET",
                "/v1/economies/e/tree-heads/latest".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/tree-heads".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/proofs/inclusion?seq=2".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/proofs/consistency?from=3".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/orders/o1".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/accounts/c1".into(),
                None,
                &["admin", "operator", "auditor"],
            ),
            (
                "GET",
                "/v1/economies/e/accounts/m1".into(),
                None,
                &["admin", "operator", "auditor", "merchant"],
            ),
            (
                "GET",
                "/v1/economies/e/keys".into(),
                None,
                &["admin", "operator"],
            ),
            (
                "POST",
                "/v1/economies/e/keys".into(),
                Some(r#"{"role":"auditor"}"#.into()),
                &["admin", "operator"],
            ),
            (
                "POST",
                "/v1/economies/e/commands".into(),
                Some(format!(
                    r#"{{"type":"register_consumer","id":"x{n}","account":"x{n}"}}"#
                )),
                &["admin", "operator"],
            ),
            (
                "POST",
                "/v1/economies/e/commands".into(),
                Some(format!(
                    r#"{{"type":"redeem_stable","id":"r{n}","account":"m1","fen":1}}"#
                )),
                &["admin", "operator", "merchant"],
            ),
            (
                "POST",
                "/v1/economies".into(),
                Some(format!(r#"{{"id":"new{n}","name":"n"}}"#)),
                &["admin"],
            ),
        ]
    };
    for (role, key) in &keys {
        for (method, path, body, allowed) in endpoints(&mut n) {
            let (status, v) = s.call(method, &path, Some(key), body.as_deref());
            let want_ok = allowed.contains(role);
            let label = format!("{role} {method} {path}: {status} {v}");
            if *role == "other-operator" && path.starts_with("/v1/economies/e") {
                assert_eq!(status, 404, "another economy is 404: {label}");
                assert_eq!(v["error"]["code"], "not_found");
            } else if want_ok {
                assert!((200..300).contains(&status), "allowed: {label}");
            } else {
                assert_eq!(status, 403, "forbidden: {label}");
                assert_eq!(v["error"]["code"], "forbidden");
            }
        }
    }
    // No key, a bad key, a revoked key: 401.
    let (status, _) = s.call("GET", "/v1/economies/e", None, None);
    assert_eq!(status, 401);
    let (status, v) = s.call(
        "GET",
        "/v1/economies/e",
        Some("jfk_0123456789abcdef_nope"),
        None,
    );
    assert_eq!(
        (status, v["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    let made = s.post("/v1/economies/e/keys", ADMIN, &json!({"role": "auditor"}));
    let id = made["id"].as_str().unwrap();
    let (status, _) = s.call(
        "DELETE",
        &format!("/v1/economies/e/keys/{id}"),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = s.call(
        "GET",
        "/v1/economies/e",
        Some(made["key"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 401, "a revoked key is refused");
    // A non-existent economy looks the same as someone else's.
    let operator = &keys[1].1;
    let (status, _) = s.call("GET", "/v1/economies/nowhere", Some(operator), None);
    assert_eq!(status, 404);
    // A merchant acting on another account: 403, and nothing applied.
    let merchant = &keys[2].1;
    let before = s.get("/v1/economies/e", ADMIN)["head_seq"].clone();
    for body in [
        r#"{"type":"redeem_stable","id":"z1","account":"m2","fen":1}"#,
        r#"{"type":"sell","id":"z2","account":"c1","atoms":1}"#,
        r#"[{"type":"redeem_stable","id":"z3","account":"m1","fen":1},{"type":"register_merchant","id":"z4","account":"m9"}]"#,
    ] {
        let (status, v) = s.call(
            "POST",
            "/v1/economies/e/commands",
            Some(merchant),
            Some(body),
        );
        assert_eq!(status, 403, "{body}: {v}");
    }
    let (status, _) = s.call("GET", "/v1/economies/e/accounts/m2", Some(merchant), None);
    assert_eq!(status, 403);
    assert_eq!(s.get("/v1/economies/e", ADMIN)["head_seq"], before);
    // Keys are stored only as hashes: no key appears in the database file.
    let db = std::fs::read(match &backend {
        Backend::Sqlite { dir } => dir.join(jifen_journal::sqlite::SQLITE_FILE),
        _ => unreachable!(),
    })
    .unwrap();
    for (_, key) in &keys {
        let secret = key.rsplit('_').next().unwrap();
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a key is stored in clear"
        );
    }
    s.stop();
}

#[test]
fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    let head = || s.get("/v1/economies/e", ADMIN)["head_seq"].clone();
    let before = head();
    let post = |body: &str| s.call("POST", "/v1/economies/e/commands", Some(ADMIN), Some(body));
    let cases: Vec<(u16, &str, (u16, Value))> = vec![
        (400, "malformed_json", post("{\"type\":")),
        (400, "malformed_json", post("[1,2")),
        (400, "malformed_json", post("[1,]")),
        (400, "malformed_json", post("[{\"a\":1}]]")),
        (
            400,
            "malformed_json",
            post(r#"[{"type":"register_consumer","id":"ok-before-bad","account":"zz"},{nope}]"#),
        ),
        (422, "invalid_request", post("42")),
        (422, "invalid_request", post("[]")),
        (
            422,
            "batch_too_large",
            post(
                &serde_json::to_string(&vec![
                    json!({"type":"register_merchant","id":"a","account":"a"});
                    8191
                ])
                .unwrap(),
            ),
        ),
        (
            413,
            "body_too_large",
            post(&format!("[\"{}\"]", "x".repeat(5 << 20))),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":5,"name":"x"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","colour":"red"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","rules":{"reserve_bps":"a lot"}}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","rules":{"reserve_bps":20000}}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","timezone":"Mars/Olympus"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies/e/keys",
                Some(ADMIN),
                Some(r#"{"role":"merchant","account":"nobody"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "GET",
                "/v1/economies/e/events?limit=100000",
                Some(ADMIN),
                None,
            ),
        ),
        (
            400,
            "bad_request",
            s.call("GET", "/v1/economies/e/events?after=-1", Some(ADMIN), None),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "GET",
                "/v1/economies/e/price-history?step=0",
                Some(ADMIN),
                None,
            ),
        ),
        (
            404,
            "not_found",
            s.call("GET", "/v1/nothing", Some(ADMIN), None),
        ),
        (
            405,
            "method_not_allowed",
            s.call("PUT", "/v1/economies/e/state", Some(ADMIN), None),
        ),
    ];
    for (want_status, want_code, (status, v)) in cases {
        assert_eq!(status, want_status, "{v}");
        assert_eq!(v["error"]["code"], want_code, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    // Header tricks.
    let body = r#"{"type":"register_merchant","id":"h1","account":"h1"}"#;
    let with = |headers: &str| {
        s.raw(format!("POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
    };
    let two_keys = format!("Authorization: Bearer {ADMIN}\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n");
    assert_eq!(with(&two_keys).0, 401, "two Authorization headers");
    assert_eq!(
        with(&format!(
            "Authorization: bearer{ADMIN}\r\nContent-Type: application/json\r\n"
        ))
        .0,
        401
    );
    let (status, text) = with(&format!(
        "Authorization: Bearer {ADMIN}\r\nContent-Type: text/plain\r\n"
    ));
    assert_eq!(status, 415, "{text}");
    let (status, _) = s.raw(format!("POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{body}").as_bytes());
    assert_eq!(status, 400, "two Content-Lengths");
    let (status, _) = s.raw(format!("POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n").as_bytes());
    assert!(
        status == 400 || status == 422,
        "chunked and a length: {status}"
    );
    assert_eq!(head(), before, "nothing was applied");
    // A rejected command is an outcome, not an HTTP error, and large amounts come back as strings too.
    let v = s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type":"sell","id":"q","account":"nobody","atoms":1}),
    );
    assert_eq!(v["outcomes"][0]["code"], "unknown_account");
    let state = s.get("/v1/economies/e?x=1", ADMIN);
    assert_eq!(state["reserve_fen_str"], state["reserve_fen"].to_string());
    s.stop();
}

fn settles_by_day(s: &Server) -> std::collections::BTreeMap<String, u32> {
    let mut days = std::collections::BTreeMap::new();
    let mut after = 0;
    loop {
        let v = s.get(
            &format!("/v1/economies/e/events?after={after}&limit=1000"),
            ADMIN,
        );
        let events = v["events"].as_array().unwrap();
        if events.is_empty() {
            return days;
        }
        for e in events {
            if e["command"]["type"] == "settle_dividends" && e["outcome"]["ok"] == true {
                *days
                    .entry(e["command"]["day"].as_str().unwrap().to_string())
                    .or_insert(0) += 1;
            }
        }
        after = v["next_after"].as_u64().unwrap();
    }
}

fn scheduler_across_restart(backend: &Backend) {
    const DAY: i64 = 86_400_000;
    let clock = common::temp_dir(&format!("clock-{}", backend.name())).join("now");
    // 2026-01-10T04:00:00Z is noon in Shanghai.
    let t0: i64 = 1_768_017_600_000;
    write_clock(&clock, t0);
    let opts = Opts::with_clock(backend, &clock);
    let s = Server::start(&opts);
    s.post(
        "/v1/economies",
        ADMIN,
        &json!({"id": "e", "name": "e", "auto_confirm_days": 7}),
    );
    s.post("/v1/economies/e/commands", ADMIN, &json!([
        {"type":"register_merchant","id":"1","account":"m"},
        {"type":"register_consumer","id":"2","account":"c"},
        {"type":"pay_order","id":"3","order":"o1","consumer":"c","merchant":"m","cash_fen":10000,"stable_fen":0},
    ]));
    write_clock(&clock, t0 + 3 * DAY);
    s.post("/v1/economies/e/commands", ADMIN, &json!({"type":"pay_order","id":"4","order":"o2","consumer":"c","merchant":"m","cash_fen":10000,"stable_fen":0}));
    let status = |o: &str| s.get(&format!("/v1/economies/e/orders/{o}"), ADMIN)["status"].clone();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status("o1"), "pending");
    // Seven days and a minute after o1: it is confirmed, o2 is not.
    write_clock(&clock, t0 + 7 * DAY + 60_000);
    eventually("o1 auto-confirmed", || status("o1") == "confirmed");
    assert_eq!(status("o2"), "pending");
    // Days 01-10 .. 01-16 are settled (today in Shanghai is 01-17).
    eventually("seven days settled", || settles_by_day(&s).len() == 7);
    s.stop();
    // Restart; the clock moves on while the server is down.
    write_clock(&clock, t0 + 10 * DAY + 3_600_000);
    let s = Server::start(&opts);
    let status = |o: &str| s.get(&format!("/v1/economies/e/orders/{o}"), ADMIN)["status"].clone();
    eventually("o2 auto-confirmed after the restart", || {
        status("o2") == "confirmed"
    });
    eventually("ten days settled", || settles_by_day(&s).len() == 10);
    std::thread::sleep(Duration::from_millis(500));
    let days = settles_by_day(&s);
    assert_eq!(days.keys().next().unwrap(), "2026-01-10");
    assert_eq!(days.keys().last().unwrap(), "2026-01-19");
    assert!(
        days.values().all(|n| *n == 1),
        "each day settled exactly once: {days:?}"
    );
    let confirms = s.get("/v1/economies/e/events?limit=1000", ADMIN)["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"]["type"] == "confirm_order")
        .count();
    assert_eq!(confirms, 2, "each order confirmed exactly once");
    // The price history has a point per day, in time order, each with the price and every
    // amount also as a string; the last change shows up once the writer falls idle.
    let history = || {
        s.get(
            &format!(
                "/v1/economies/e/price-history?from={t0}&to={}&step=1d",
                t0 + 11 * DAY
            ),
            ADMIN,
        )
    };
    let reserve_now = s.get("/v1/economies/e", ADMIN)["reserve_fen"].clone();
    eventually("the history reaches the state now", || {
        history()["points"]
            .as_array()
            .and_then(|p| p.last())
            .map(|p| p["reserve_fen"].clone())
            == Some(reserve_now.clone())
    });
    let h = history();
    let points = h["points"].as_array().unwrap();
    assert_eq!(points.len(), 12, "{h}");
    assert!(points
        .windows(2)
        .all(|w| w[0]["t_ms"].as_i64() < w[1]["t_ms"].as_i64()));
    for p in points {
        assert!(
            p["price_yuan_per_point"]
                .as_str()
                .is_some_and(|x| x.contains('.')),
            "{p}"
        );
        assert_eq!(p["reserve_fen_str"], p["reserve_fen"].to_string(), "{p}");
    }
    // After o1's confirmation (day 7) and before o2's (day 10) the reserve holds o1's share.
    assert_eq!(points[8]["reserve_fen"], 3000, "{h}");
    s.stop();
}

#[test]
fn the_scheduler_confirms_and_settles_once_across_a_restart_on_sqlite() {
    scheduler_across_restart(&Backend::sqlite());
}

#[test]
fn the_scheduler_confirms_and_settles_once_across_a_restart_on_postgres() {
    scheduler_across_restart(&Backend::postgres());
}

#[test]
fn first_start_prints_an_admin_key_once_and_the_readme_curl_works() {
    let backend = Backend::sqlite();
    let opts = Opts {
        backend: &backend,
        clock: None,
        extra: vec!["--demo"],
        admin_env: false,
        log_to: None,
    };
    let s = Server::start(&opts);
    let key = s
        .stdout
        .iter()
        .find_map(|l| l.split("stored): ").nth(1))
        .expect("the admin key is printed")
        .to_string();
    // The README's curl lines, run as printed with the key it says to export (only the port
    // differs: the test server listens on a free one).
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let curls: Vec<&str> = readme.lines().filter(|l| l.starts_with("curl ")).collect();
    assert!(curls.len() >= 2, "the README has curl examples");
    for line in curls {
        let line = line.replace("127.0.0.1:8080", &s.addr);
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                &format!("set -o pipefail; {line} --fail-with-body --silent --show-error"),
            ])
            .env("JIFEN_KEY", &key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{line}: not JSON"));
        assert!(body.is_object(), "{line}");
    }
    // The OpenAPI document lists every route the router serves.
    let doc = s.get("/v1/openapi.json", &key);
    for path in [
        "/v1/economies",
        "/v1/economies/{eco}/commands",
        "/v1/economies/{eco}/state",
        "/v1/economies/{eco}/price-history",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    let (status, metrics) = s.raw(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(metrics.contains("jifen_commands_applied_total"));
    s.stop();
    // A second start prints no key.
    let s = Server::start(&opts);
    assert!(
        !s.stdout.iter().any(|l| l.contains("admin key")),
        "{:?}",
        s.stdout
    );
    s.stop();
}

/// Writes `path` with `value` as JSON.
fn write_json(path: &std::path::Path, value: &Value) {
    std::fs::write(path, value.to_string()).unwrap();
}

/// Issue 8: a journal of more than 100,000 entries; an independent Python implementation
/// recomputes the tree and verifies every proof the server gives; `jifen proof verify` checks
/// heads and proofs offline and refuses a forged signature; changing one entry after a head was
/// signed is caught by `jifen verify` and by the consistency proof from that head.
#[test]
fn transparency_proofs_check_independently_and_tampering_is_caught_on_sqlite() {
    transparency(&Backend::sqlite());
}

#[test]
fn transparency_proofs_check_independently_and_tampering_is_caught_on_postgres() {
    transparency(&Backend::postgres());
}

fn transparency(backend: &Backend) {
    let s = Server::simple(backend);
    create(&s, "t", json!({}));
    let mut batch = vec![json!({"type":"register_merchant","id":"m","account":"m"})];
    for c in 0..1000 {
        batch.push(
            json!({"type":"register_consumer","id":format!("r{c}"),"account":format!("c{c}")}),
        );
    }
    s.post("/v1/economies/t/commands", ADMIN, &Value::Array(batch));
    let mut n = 0;
    while n < 50_000 {
        let batch: Vec<Value> = (n..n + 2500)
            .flat_map(|i| {
                let (o, c) = (format!("o{i}"), format!("c{}", i % 1000));
                [
                    json!({"type":"pay_order","id":format!("p{i}"),"order":o,"consumer":c,"merchant":"m","cash_fen":1000 + i % 97,"stable_fen":0}),
                    json!({"type":"confirm_order","id":format!("k{i}"),"order":o}),
                ]
            })
            .collect();
        s.post("/v1/economies/t/commands", ADMIN, &Value::Array(batch));
        n += 2500;
    }
    let settled = s.post(
        "/v1/economies/t/commands",
        ADMIN,
        &json!({"type":"settle_dividends","id":"day1","day":"2026-11-25"}),
    );
    let settle_seq = settled["outcomes"][0]["seq"].as_u64().unwrap();
    // The scheduler signs a head after the settlement.
    let mut head = Value::Null;
    for _ in 0..100 {
        let (status, v) = s.call(
            "GET",
            "/v1/economies/t/tree-heads/latest",
            Some(ADMIN),
            None,
        );
        if status == 200 {
            head = v;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let size = head["tree_size"]
        .as_u64()
        .expect("a head after the settlement");
    // Every command sent, plus the server's own `advance_clock` entries, up to the settlement.
    assert!(size > 1 + 1000 + 100_000, "{head}");
    assert_eq!(size, settle_seq, "{head}");

    // The independent check.
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/merkle_check.py");
    let url = format!("http://{}", s.addr);
    let (out, text) = common::run(std::process::Command::new("python3").arg(&script).args([
        "--url",
        &url,
        "--key",
        ADMIN,
        "--economy",
        "t",
        "--samples",
        "25",
    ]));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all checks passed"), "{text}");
    println!("{text}");

    // Offline checks with the CLI, trusting only the public key.
    let dir = common::temp_dir(&format!("proofs-{}", backend.name()));
    let key = s.get("/v1/tree-key", ADMIN);
    write_json(&dir.join("key.json"), &key);
    write_json(&dir.join("head.json"), &head);
    let proof = s.get(
        &format!("/v1/economies/t/proofs/inclusion?seq=777&tree_size={size}"),
        ADMIN,
    );
    write_json(&dir.join("inclusion.json"), &proof);
    let cli = |extra: &[(&str, &str)]| {
        let mut cmd = common::jifen();
        cmd.args(["proof", "verify", "--public-key"])
            .arg(dir.join("key.json"));
        for (flag, file) in extra {
            cmd.arg(flag).arg(dir.join(file));
        }
        common::run(&mut cmd)
    };
    let (out, text) = cli(&[("--head", "head.json"), ("--inclusion", "inclusion.json")]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("entry 777") && text.contains("is included"),
        "{text}"
    );
    let mut forged = head.clone();
    forged["root_hash"] = json!("00".repeat(32));
    write_json(&dir.join("forged.json"), &forged);
    let (out, text) = cli(&[("--head", "forged.json"), ("--inclusion", "inclusion.json")]);
    assert!(!out.status.success() && text.contains("forged"), "{text}");
    let mut bad_proof = proof.clone();
    bad_proof["proof"][0] = json!("11".repeat(32));
    write_json(&dir.join("bad-inclusion.json"), &bad_proof);
    let (out, text) = cli(&[
        ("--head", "head.json"),
        ("--inclusion", "bad-inclusion.json"),
    ]);
    assert!(
        !out.status.success() && text.contains("NOT included"),
        "{text}"
    );

    // More entries, a second head, and a consistency proof between the two.
    let late = s.post(
        "/v1/economies/t/commands",
        ADMIN,
        &json!([{"type":"register_consumer","id":"late-1","account":"late1"},{"type":"register_consumer","id":"late-2","account":"late2"}]),
    );
    let head2 = s.post("/v1/economies/t/tree-heads", ADMIN, &json!({}));
    let size2 = head2["tree_size"].as_u64().unwrap();
    assert_eq!(size2, late["outcomes"][1]["seq"].as_u64().unwrap());
    assert!(size2 > size);
    write_json(&dir.join("head2.json"), &head2);
    let consistency = s.get(
        &format!("/v1/economies/t/proofs/consistency?from={size}&to={size2}"),
        ADMIN,
    );
    write_json(&dir.join("consistency.json"), &consistency);
    let (out, text) = cli(&[
        ("--head", "head2.json"),
        ("--consistency", "consistency.json"),
        ("--old-head", "head.json"),
    ]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("is a prefix"), "{text}");
    s.stop();

    let (out, text) = common::run(common::jifen().args(backend.cli_args()).args(["verify"]));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 signed tree head(s) match"), "{text}");

    // Tamper: entry `size - 5` gets another time. Its hash link does not cover the time, so
    // only the signed tree can tell.
    let target = size - 5;
    backend.rewrite_block("t", target, |entries| {
        let e = entries.iter_mut().find(|e| e.seq == target).unwrap();
        e.ts_ms += 1;
    });
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).args(["verify"]));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("an entry was changed after it was signed"),
        "{text}"
    );

    // The restarted server's tree now disagrees with the first signed head.
    let s = Server::simple(backend);
    let consistency = s.get(
        &format!("/v1/economies/t/proofs/consistency?from={size}&to={size2}"),
        ADMIN,
    );
    write_json(&dir.join("consistency-after.json"), &consistency);
    let head3 = s.post("/v1/economies/t/tree-heads", ADMIN, &json!({}));
    write_json(&dir.join("head3.json"), &head3);
    let (out, text) = cli(&[
        ("--head", "head3.json"),
        ("--consistency", "consistency-after.json"),
        ("--old-head", "head.json"),
    ]);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("history was rewritten") || text.contains("the proof is from"),
        "{text}"
    );
    s.stop();
}

/// Issue 8's browser check, in issue 6's wallet: a consumer's wallet link shows their entries
/// as included in the signed record; the verify button checks the inclusion proof in the
/// browser and turns green for a real entry, and red when fed a tampered proof.
#[test]
fn the_wallet_verifies_an_entry_in_the_browser_on_sqlite() {
    wallet_in_browser(&Backend::sqlite());
}

#[test]
fn the_wallet_verifies_an_entry_in_the_browser_on_postgres() {
    wallet_in_browser(&Backend::postgres());
}

fn wallet_in_browser(backend: &Backend) {
    let s = Server::simple(backend);
    create(&s, "w", json!({}));
    let sent = s.post("/v1/economies/w/commands", ADMIN, &json!([
        {"type":"register_merchant","id":"1","account":"shop"},
        {"type":"register_consumer","id":"2","account":"alice"},
        {"type":"register_consumer","id":"3","account":"bob"},
        {"type":"pay_order","id":"4","order":"o1","consumer":"alice","merchant":"shop","cash_fen":50000,"stable_fen":0},
        {"type":"confirm_order","id":"5","order":"o1"},
        {"type":"pay_order","id":"6","order":"o2","consumer":"bob","merchant":"shop","cash_fen":20000,"stable_fen":0},
    ]));
    // Seqs as journaled (the server's own `advance_clock` comes first).
    let seq_of = |i: usize| sent["outcomes"][i]["seq"].as_u64().unwrap();
    let (alice_order, bob_order, last) = (seq_of(3), seq_of(5), seq_of(5));
    s.post("/v1/economies/w/tree-heads", ADMIN, &json!({}));
    let link = s.post(
        "/v1/economies/w/wallet-links",
        ADMIN,
        &json!({"account": "alice"}),
    );
    let token = link["token"].as_str().unwrap().to_string();
    // A link reaches only its own account's entries.
    let (status, _) = s.call("GET", "/v1/wallet", None, None);
    assert_eq!(status, 401);
    let own = |seq: u64| {
        let mut req = format!(
            "GET /v1/wallet/proof?seq={seq} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wallet-Token: {token}\r\n\r\n"
        );
        let (status, body) = s.raw(std::mem::take(&mut req).as_bytes());
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
        )
    };
    assert_eq!(own(alice_order).0, 200, "alice's own order");
    assert_eq!(own(bob_order).0, 404, "bob's order is not alice's to see");
    let mut tampered = own(alice_order).1;
    let first = tampered["proof"][0].as_str().unwrap().to_string();
    let flipped = if first.starts_with('0') { "1" } else { "0" };
    tampered["proof"][0] = json!(format!("{flipped}{}", &first[1..]));

    let browser = Browser::start();
    browser.call(
        "POST",
        &browser.at("/url"),
        Some(json!({"url": format!("http://{}{}", s.addr, link["url"].as_str().unwrap())})),
    );
    browser.wait_for("return document.body.dataset.status", "loaded");
    // The price chart is drawn by uPlot, embedded in the page (no network).
    browser.wait_for(
        "return String(!!document.querySelector('#chart .uplot canvas'))",
        "true",
    );
    let text = browser.script("return document.body.innerText", json!([]));
    let text = text.as_str().unwrap();
    assert!(
        text.contains("额度是上限，只从分红池支付，不是承诺"),
        "{text}"
    );
    assert!(
        text.contains(&format!("已收录于签名记录 #{last}")),
        "{text}"
    );
    browser.click(&format!(r#"li[data-seq="{alice_order}"] button.verify"#));
    browser.wait_for(
        &format!(r#"return document.querySelector('li[data-seq="{alice_order}"] .badge').dataset.verify || ''"#),
        "ok",
    );
    browser.screenshot(&format!("wallet-375px-{}", backend.name()));
    // Fed a tampered proof, the same check turns red.
    browser.script(
        "window.jifenWallet.verify(arguments[1], arguments[0]); return true",
        json!([tampered, alice_order]),
    );
    browser.wait_for(
        &format!(r#"return document.querySelector('li[data-seq="{alice_order}"] .badge').dataset.verify || ''"#),
        "failed",
    );
    // Sell one point: the preview is the engine's own figure, and confirming applies it.
    let mut req = format!(
        "POST /v1/wallet/quote HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nX-Wallet-Token: {token}\r\nContent-Length: 42\r\n\r\n{{\"action\":\"sell\",\"atoms\":100000000       }}"
    );
    let (status, body) = s.raw(std::mem::take(&mut req).as_bytes());
    assert_eq!(status, 200, "{body}");
    let quote: Value = serde_json::from_str(&body).unwrap();
    let net = quote["net_fen"].as_u64().unwrap();
    browser.script(
        "document.getElementById('amount').value = '1'; return true",
        json!([]),
    );
    browser.click("#preview-sell");
    browser.wait_for(
        "return String(document.getElementById('preview').hidden)",
        "false",
    );
    browser.wait_for(
        "return document.getElementById('q-net').textContent",
        &format!("{}.{:02}", net / 100, net % 100),
    );
    let before = s.get("/v1/economies/w/accounts/alice", ADMIN)["atoms"]
        .as_u64()
        .unwrap();
    browser.click("#confirm");
    browser.wait_for(
        "return document.getElementById('trade-result').dataset.outcome || ''",
        "ok",
    );
    let after = s.get("/v1/economies/w/accounts/alice", ADMIN)["atoms"]
        .as_u64()
        .unwrap();
    assert_eq!(before - after, 100_000_000, "one point sold");
    // The page shows the new balances, and they are the API's.
    let account = s.get("/v1/economies/w/accounts/alice", ADMIN);
    browser.wait_for(
        "return document.getElementById('points').textContent",
        account["points"].as_str().unwrap(),
    );
    let stable = account["stable_fen"].as_u64().unwrap();
    assert_eq!(
        browser.script(
            "return document.getElementById('stable').textContent",
            json!([])
        ),
        format!("{}.{:02}", stable / 100, stable % 100)
    );
    // English on request.
    browser.click("#lang");
    let text = browser.script("return document.body.innerText", json!([]));
    assert!(
        text.as_str()
            .unwrap()
            .contains("A cap, paid only from the dividend pool, not a promise"),
        "{text}"
    );
    browser.resize(1280);
    browser.screenshot(&format!("wallet-1280px-{}", backend.name()));
    assert_eq!(browser.accessibility_problems(), Vec::<String>::new());
    assert_eq!(browser.console_problems(), Vec::<String>::new());
    // A link speaks for its own account only: naming another is refused.
    let body = r#"{"action":"sell","atoms":1,"account":"bob"}"#;
    let (status, _) = s.raw(
        format!(
            "POST /v1/wallet/quote HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nX-Wallet-Token: {token}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(status, 422, "a wallet request naming another account");
    // A tampered link, and an expired one, are refused.
    let wallet_status = |token: &str| {
        s.raw(
            format!("GET /v1/wallet HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wallet-Token: {token}\r\n\r\n")
                .as_bytes(),
        )
        .0
    };
    assert_eq!(wallet_status(&token), 200);
    let (payload, mac) = token.split_once('.').unwrap();
    let bob_payload = hex::encode(
        String::from_utf8(hex::decode(payload).unwrap())
            .unwrap()
            .replace("alice", "bob"),
    );
    assert_eq!(
        wallet_status(&format!("{bob_payload}.{mac}")),
        401,
        "tampered"
    );
    let short = s.post(
        "/v1/economies/w/wallet-links",
        ADMIN,
        &json!({"account": "alice", "ttl_s": 1}),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        wallet_status(short["token"].as_str().unwrap()),
        401,
        "expired"
    );
    drop(browser);
    s.stop();
}

/// Issue 6's operator console in a real browser, and its security: sign-in by keyboard, the
/// overview against the API, an order paid through the API, seen pending and confirmed in the
/// console, the account page, the rules what-if, every page at 1280 and 375 px with no console
/// errors, labelled controls, CSRF, revocation, and no key or token in any URL or log line.
#[test]
fn the_console_in_the_browser_on_sqlite() {
    console_in_browser(&Backend::sqlite());
}

#[test]
fn the_console_in_the_browser_on_postgres() {
    console_in_browser(&Backend::postgres());
}

fn console_in_browser(backend: &Backend) {
    let log = std::env::temp_dir().join(format!(
        "jifen-console-{}-{}.log",
        backend.name(),
        std::process::id()
    ));
    let s = Server::start(&Opts {
        backend,
        clock: None,
        extra: vec![],
        admin_env: true,
        log_to: Some(&log),
    });
    create(&s, "c", json!({}));
    s.post("/v1/economies/c/commands", ADMIN, &json!([
        {"type":"register_merchant","id":"1","account":"shop"},
        {"type":"register_consumer","id":"2","account":"alice"},
        {"type":"register_consumer","id":"3","account":"bob","referrer":"alice"},
        {"type":"pay_order","id":"4","order":"o1","consumer":"alice","merchant":"shop","cash_fen":50000,"stable_fen":0},
        {"type":"confirm_order","id":"5","order":"o1"},
        {"type":"pay_order","id":"6","order":"o2","consumer":"bob","merchant":"shop","cash_fen":20000,"stable_fen":0},
        {"type":"confirm_order","id":"7","order":"o2"},
        {"type":"settle_dividends","id":"8","day":"2026-01-01"},
    ]));
    let operator = s.post("/v1/economies/c/keys", ADMIN, &json!({"role": "operator"}));
    let operator_key = operator["key"].as_str().unwrap().to_string();
    let merchant = s.post(
        "/v1/economies/c/keys",
        ADMIN,
        &json!({"role": "merchant", "account": "shop"}),
    );
    let link = s.post(
        "/v1/economies/c/wallet-links",
        ADMIN,
        &json!({"account": "alice"}),
    );

    // --- the session, over plain HTTP ---
    let sign_in = |key: &str| {
        let body = json!({ "key": key }).to_string();
        s.raw(
            format!(
                "POST /v1/session HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    assert_eq!(sign_in("jfk_nope_nope").0, 401, "a wrong key");
    assert_eq!(
        sign_in(merchant["key"].as_str().unwrap()).0,
        403,
        "merchants do not sign in to the console"
    );
    // The cookie is HttpOnly and SameSite=Strict; the CSRF token comes in the body.
    let request = format!(
        "POST /v1/session HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        json!({ "key": operator_key }).to_string().len(),
        json!({ "key": operator_key })
    );
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let cookie_line = answer
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {answer}"))
        .to_string();
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"));
    let cookie = cookie_line
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session_token = cookie.split_once('=').unwrap().1.to_string();
    let csrf = serde_json::from_str::<Value>(answer.split_once("\r\n\r\n").unwrap().1).unwrap()
        ["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    let with_cookie = |method: &str, path: &str, csrf: Option<&str>, body: &str| {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(c) = csrf {
            req.push_str(&format!("X-CSRF-Token: {c}\r\n"));
        }
        req.push_str(&format!("\r\n{body}"));
        s.raw(req.as_bytes())
    };
    assert_eq!(
        with_cookie("GET", "/v1/economies/c/overview", None, "").0,
        200
    );
    let register = r#"{"type":"register_consumer","id":"csrf-1","account":"carol"}"#;
    let (status, body) = with_cookie("POST", "/v1/economies/c/commands", None, register);
    assert_eq!(
        status, 403,
        "a change by cookie without the CSRF token: {body}"
    );
    assert!(body.contains("csrf_failed"), "{body}");
    let wrong = "0".repeat(csrf.len());
    assert_eq!(
        with_cookie("POST", "/v1/economies/c/commands", Some(&wrong), register).0,
        403
    );
    assert_eq!(
        s.call("GET", "/v1/economies/c/accounts/carol", Some(ADMIN), None)
            .0,
        404,
        "the refused changes changed nothing"
    );
    assert_eq!(
        with_cookie("POST", "/v1/economies/c/commands", Some(&csrf), register).0,
        200,
        "with the token it goes through"
    );
    // A tampered session is refused; revoking the key ends its sessions.
    let tampered = cookie.replacen("7b", "7c", 1);
    let (status, body) = s.raw(
        format!("GET /v1/economies/c/overview HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: {tampered}\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status, 401, "{body}");
    let (status, _) = s.call(
        "DELETE",
        &format!("/v1/economies/c/keys/{}", operator["id"].as_str().unwrap()),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        with_cookie("GET", "/v1/economies/c/overview", None, "").0,
        401,
        "a revoked key's session"
    );

    // --- the browser ---
    let browser = Browser::start();
    browser.resize(1280);
    browser.open(&format!("http://{}/", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    // Keyboard only: Tab to the key field, type, Enter.
    for _ in 0..12 {
        if browser.script("return document.activeElement.id", json!([])) == "key" {
            break;
        }
        browser.press("\u{E004}");
    }
    assert_eq!(
        browser.script("return document.activeElement.id", json!([])),
        "key",
        "the key field is reachable with Tab"
    );
    browser.press(ADMIN);
    browser.press("\u{E007}");
    browser.wait_for("return document.body.dataset.status", "loaded");
    browser.wait_for(
        "return String(!!document.querySelector('#ov-chart .uplot canvas'))",
        "true",
    );
    // The overview's numbers are the API's.
    let e = s.get("/v1/economies/c", ADMIN);
    let shown = |id: &str| {
        browser
            .script(
                &format!("return document.getElementById('{id}').textContent"),
                json!([]),
            )
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        shown("ov-price"),
        e["price_yuan_per_point"].as_str().unwrap()
    );
    assert_eq!(shown("ov-reserve"), yuan(&e["reserve_fen"]));
    assert_eq!(shown("ov-circulating"), points_of(&e["circulating_atoms"]));
    assert_eq!(shown("ov-treasury"), points_of(&e["treasury_atoms"]));
    assert_eq!(shown("ov-pool"), yuan(&e["dividend_pool_fen"]));
    assert_eq!(shown("ov-quota"), yuan(&e["quota_outstanding_fen"]));
    assert_eq!(shown("ov-head-hash"), e["head_hash"].as_str().unwrap());
    assert_eq!(shown("ov-orders-today"), "2");
    assert_eq!(shown("ov-contrib-today"), yuan(&e["contributions_fen"]));
    // Verify runs from the console and reports.
    browser.click("#run-verify");
    browser.wait_for(
        "return document.getElementById('ov-verify').className",
        "ok",
    );
    let screens = |view: &str| {
        for width in [1280, 375] {
            browser.resize(width);
            browser.screenshot(&format!("console-{view}-{width}px-{}", backend.name()));
        }
        browser.resize(1280);
        assert_eq!(
            browser.accessibility_problems(),
            Vec::<String>::new(),
            "{view}"
        );
    };
    screens("overview");

    // An order paid through the API shows as pending, with its countdown.
    s.post("/v1/economies/c/commands", ADMIN, &json!([
        {"type":"pay_order","id":"9","order":"o3","consumer":"alice","merchant":"shop","cash_fen":30000,"stable_fen":0},
    ]));
    browser.click(r#"nav button[data-view="orders"]"#);
    browser.wait_for(
        r#"return String(!!document.querySelector('tr[data-order="o3"] td.countdown'))"#,
        "true",
    );
    let countdown = browser.script(
        r#"return document.querySelector('tr[data-order="o3"] td.countdown').textContent"#,
        json!([]),
    );
    assert!(
        countdown.as_str().unwrap().starts_with("6d 23:"),
        "{countdown}"
    );
    screens("orders");
    // Confirm it in the UI: the dialog shows the effect first.
    let preview = s.get("/v1/economies/c/orders/o3/preview?action=confirm", ADMIN);
    browser.click(r#"tr[data-order="o3"] button"#);
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "true",
    );
    let dialog = browser.script(
        "return document.getElementById('dlg-body').innerText",
        json!([]),
    );
    assert!(
        dialog
            .as_str()
            .unwrap()
            .contains(preview["buyer_points"].as_str().unwrap()),
        "{dialog}"
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.screenshot(&format!(
            "console-confirm-dialog-{width}px-{}",
            backend.name()
        ));
    }
    browser.resize(1280);
    browser.click("#dlg-ok");
    browser.wait_for(
        r#"return String(!!document.querySelector('tr[data-order="o3"]'))"#,
        "false",
    );
    assert_eq!(
        s.get("/v1/economies/c/orders/o3", ADMIN)["status"],
        "confirmed"
    );
    // The points are on the account page, with the confirmation in its history.
    browser.open(&format!("http://{}/#accounts/alice", s.addr));
    browser.wait_for("return document.body.dataset.status", "loaded");
    let alice = s.get("/v1/economies/c/accounts/alice", ADMIN);
    browser.wait_for(
        "return document.getElementById('ad-points').textContent",
        alice["points"].as_str().unwrap(),
    );
    let history = browser.script(
        "return document.getElementById('history-table').innerText",
        json!([]),
    );
    assert!(history.as_str().unwrap().contains("o3"), "{history}");
    screens("accounts");

    // Rules: a what-if preview before anything is applied.
    browser.click(r#"nav button[data-view="rules"]"#);
    browser.wait_for(
        "return String(!!document.getElementById('rule-sell_fee_bps'))",
        "true",
    );
    browser.script(
        "document.getElementById('rule-reward_bps').value = '5000'; return true",
        json!([]),
    );
    let rules_before = s.get("/v1/economies/c/rules", ADMIN);
    browser.click("#rules-form button[type=submit]");
    browser.wait_for(
        "return String(!document.getElementById('whatif').classList.contains('hidden'))",
        "true",
    );
    let end_price = browser.script(
        r#"return document.querySelector('#whatif-table tr[data-row="end_price"]').innerText"#,
        json!([]),
    );
    assert!(
        end_price.as_str().unwrap().contains(
            s.get("/v1/economies/c", ADMIN)["price_yuan_per_point"]
                .as_str()
                .unwrap()
        ),
        "the as-it-happened column is today's price: {end_price}"
    );
    assert_eq!(
        s.get("/v1/economies/c/rules", ADMIN),
        rules_before,
        "a preview changes nothing"
    );
    screens("rules");
    for width in [1280, 375] {
        browser.resize(width);
        browser.script(
            "document.getElementById('whatif').scrollIntoView(); return true",
            json!([]),
        );
        browser.capture(&format!(
            "console-rules-whatif-{width}px-{}",
            backend.name()
        ));
    }
    browser.resize(1280);

    for view in ["settlements", "leaderboard", "keys", "collectibles"] {
        browser.click(&format!(r#"nav button[data-view="{view}"]"#));
        browser.wait_for("return document.body.dataset.status", "loaded");
        screens(view);
    }
    let settled = browser.script(
        "return document.getElementById('settlements-table').innerText",
        json!([]),
    );
    assert!(
        settled.as_str().unwrap().contains("2026-01-01"),
        "{settled}"
    );
    // Exports to exchanges are off until switched on past a plain warning (SPEC §12).
    assert_eq!(
        s.get("/v1/economies/c", ADMIN)["collectible_policy"]["exchange_enabled"],
        false
    );
    browser.script(
        "document.getElementById('policy-exchange').value = 'true'; return true",
        json!([]),
    );
    browser.click("#policy-form button[type=submit]");
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "true",
    );
    let warning = browser.script(
        "return document.getElementById('dlg-body').innerText",
        json!([]),
    );
    assert!(
        warning
            .as_str()
            .unwrap()
            .contains("积分不是股份、股票或任何权益"),
        "{warning}"
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.capture(&format!(
            "console-exchange-warning-{width}px-{}",
            backend.name()
        ));
    }
    browser.resize(1280);
    browser.click("#dlg-ok");
    browser.wait_for(
        "return String(!!document.getElementById('policy-form').dataset.saved)",
        "true",
    );
    assert_eq!(
        s.get("/v1/economies/c", ADMIN)["collectible_policy"]["exchange_enabled"],
        true
    );
    // Keyboard alone: Tab to an order's refund button, Enter; the dialog opens on "cancel",
    // Tab to "confirm", Enter.
    s.post("/v1/economies/c/commands", ADMIN, &json!([
        {"type":"pay_order","id":"10","order":"o4","consumer":"bob","merchant":"shop","cash_fen":10000,"stable_fen":0},
    ]));
    browser.click(r#"nav button[data-view="orders"]"#);
    browser.wait_for(
        r#"return String(!!document.querySelector('tr[data-order="o4"]'))"#,
        "true",
    );
    let on_refund = r#"return String(document.activeElement === document.querySelector('tr[data-order="o4"] button.danger'))"#;
    for _ in 0..40 {
        if browser.script(on_refund, json!([])) == "true" {
            break;
        }
        browser.press("\u{E004}");
    }
    assert_eq!(
        browser.script(on_refund, json!([])),
        "true",
        "Tab reaches the refund button"
    );
    browser.press("\u{E007}");
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "true",
    );
    assert_eq!(
        browser.script("return document.activeElement.id", json!([])),
        "dlg-cancel"
    );
    browser.press("\u{E004}\u{E007}");
    browser.wait_for(
        r#"return String(!!document.querySelector('tr[data-order="o4"]'))"#,
        "false",
    );
    assert_eq!(
        s.get("/v1/economies/c/orders/o4", ADMIN)["status"],
        "refunded"
    );
    assert_eq!(browser.console_problems(), Vec::<String>::new());

    // The wallet page in the same browser, both widths.
    browser.open(&format!(
        "http://{}{}",
        s.addr,
        link["url"].as_str().unwrap()
    ));
    browser.wait_for("return document.body.dataset.status", "loaded");
    // The wallet's dividend history: the settlement that paid alice, to the fen.
    let paid = s.get("/v1/economies/c/accounts/alice", ADMIN)["dividends_fen"]
        .as_u64()
        .unwrap();
    assert!(paid > 0);
    let dividends = browser.script(
        "return document.getElementById('dividend-list').innerText",
        json!([]),
    );
    let dividends = dividends.as_str().unwrap();
    assert!(
        dividends.contains("2026-01-01")
            && dividends.contains(&format!("+{}.{:02}", paid / 100, paid % 100)),
        "{dividends}"
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.screenshot(&format!("wallet-{width}px-console-test-{}", backend.name()));
    }
    assert_eq!(browser.accessibility_problems(), Vec::<String>::new());
    assert_eq!(browser.console_problems(), Vec::<String>::new());

    // No key or token in any URL the pages asked for.
    let urls = browser.script(
        "return performance.getEntriesByType('resource').map((r) => r.name).concat([location.href])",
        json!([]),
    );
    let wallet_token = link["token"].as_str().unwrap();
    let secrets = [
        ADMIN,
        operator_key.as_str(),
        session_token.as_str(),
        csrf.as_str(),
    ];
    for url in urls.as_array().unwrap() {
        let url = url.as_str().unwrap();
        for secret in secrets {
            assert!(!url.contains(secret), "{url} holds a secret");
        }
        // The wallet's token lives in the fragment, which no request carries.
        assert!(
            !url.split('#').next().unwrap().contains(wallet_token),
            "{url}"
        );
    }
    drop(browser);
    s.stop();
    // ...nor in any log line, at debug level.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.lines().count() > 10, "the server logged: {logged}");
    for secret in secrets.iter().chain([&wallet_token]) {
        assert!(!logged.contains(secret), "the log holds a secret");
    }
    let _ = std::fs::remove_file(&log);
}

/// `jifen bench http` against the real server: a closed loop, an open loop at a fixed rate, and
/// the request bound. Every command it sends applies, and the economy's state shows them.
#[test]
fn the_load_generator_drives_a_real_server() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let url = format!("http://{}", s.addr);
    let bench = |extra: &[&str]| -> Value {
        let mut cmd = common::jifen();
        cmd.args(["bench", "http", "--url", &url, "--key", ADMIN])
            .args(["--economy", "lg", "--warmup", "0", "--consumers", "50"])
            .args(extra);
        let (out, text) = common::run(&mut cmd);
        assert!(out.status.success(), "{text}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    let mut sent = 0;
    // Closed loop: each connection sends its next request as soon as the last is answered.
    let closed = bench(&["--duration", "1", "--concurrency", "8", "--batch", "3"]);
    let requests = closed["requests"].as_u64().unwrap();
    assert!(requests > 8, "{closed}");
    assert_eq!(closed["commands"].as_u64(), Some(requests * 3), "{closed}");
    assert_eq!(closed["rejected_commands"], 0, "{closed}");
    assert_eq!(closed["http_errors"], 0, "{closed}");
    let ms = |k: &str| closed[k].as_f64().unwrap();
    assert!(0.0 < ms("latency_ms_p50") && ms("latency_ms_p50") <= ms("latency_ms_p99"));
    assert!(ms("latency_ms_p99") <= ms("latency_ms_max"), "{closed}");
    sent += requests * 3;
    // Open loop: 100 requests/s for 2 s is 200 requests due, each sent however slow the
    // answers (the schedule does not wait for them).
    let open = bench(&["--duration", "2", "--concurrency", "4", "--rate", "100"]);
    assert_eq!(open["requests"], 200, "{open}");
    assert_eq!(open["http_errors"], 0, "{open}");
    sent += 200;
    // The request bound stops a long run early, exactly.
    let started = std::time::Instant::now();
    let bounded = bench(&[
        "--duration",
        "60",
        "--concurrency",
        "4",
        "--requests-max",
        "10",
    ]);
    assert_eq!(bounded["requests"], 10, "{bounded}");
    assert!(started.elapsed() < Duration::from_secs(30));
    sent += 10;
    // The registrations (1 merchant, 50 consumers) and every command sent applied.
    let state = s.get("/v1/economies/lg/state", ADMIN);
    assert_eq!(state["rejected"], 0, "{state}");
    let applied = state["applied"].as_u64().unwrap();
    assert!(applied >= 51 + sent, "{applied} applied, {sent} sent");
    // Bad arguments are a clear error, not a run.
    let mut cmd = common::jifen();
    cmd.args([
        "bench", "http", "--url", &url, "--key", ADMIN, "--batch", "0",
    ]);
    let (out, text) = common::run(&mut cmd);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("--batch must be 1 to 8190"), "{text}");
    s.stop();
}
