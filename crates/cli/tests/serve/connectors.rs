//! Shop connectors end to end: deliveries built and signed by an independent implementation
//! (`tests/support/shop_deliveries.py`: Python's hmac and hashlib, and the `standardwebhooks`
//! package), posted to the real binary, end in exactly the state of the same orders sent
//! directly as commands; bad signatures are refused and journal nothing.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::common;
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    each_kind_equals_the_same_orders_as_commands => super::each_kind;
    bad_signatures_are_refused_and_journal_nothing => super::bad_signatures;
}

/// A day of 1,000 orders per kind, delivered shuffled and twice, ends in the state of the same
/// orders sent in order as commands, and `jifen verify` passes.
#[test]
fn a_shuffled_day_equals_the_orders_in_order() {
    shuffled_day(&Backend::sqlite());
}

const KINDS: [&str; 5] = ["shopify", "woocommerce", "youzan", "weimob", "generic"];

/// A delivered payment's phone and address reach the risk rules as keyed hashes (SPEC §17),
/// on every platform whose payloads carry them: a buyer whose phone is the merchant's, written
/// another way, is held for self-dealing, and the journal keeps hashes, never the values.
#[test]
fn delivered_phones_and_addresses_are_risk_signals() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    for kind in ["shopify", "woocommerce", "youzan", "generic"] {
        let eco = format!("signals-{kind}");
        create(
            &s,
            &eco,
            rules_json(&common::shared().join("golden/seed-wine/rules.toml")),
        );
        let merchant = [
            json!({"type": "set_risk_rules", "id": "r1", "risk": risk_rules(true)}),
            json!({"type": "register_merchant", "id": "m1", "account": "m1"}),
            json!({"type": "record_signals", "id": "s1", "account": "m1",
                "signals": {"phone": "13800138000"}}),
        ];
        let out = s.post(
            &format!("/v1/economies/{eco}/commands"),
            ADMIN,
            &json!(merchant),
        );
        for o in out["outcomes"].as_array().unwrap() {
            assert_eq!(o["ok"], true, "{kind}: {out}");
        }
        let signer = connector(&s, &eco, kind);
        let events = json!([{"stage": "paid", "order": "2001", "buyer": "601",
            "phone": "+86 138-0013-8000", "address": "浦东新区 Lane 5 No. 12", "total_fen": 5999}]);
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for d in deliveries(&signer, &events, now_s) {
            let (status, body) = deliver(&s, &eco, kind, &d);
            assert_eq!(status, 200, "{kind}: {body}");
        }
        let risk = s.get(&format!("/v1/economies/{eco}/risk"), ADMIN);
        let reasons = &risk["holds"][0]["reasons"];
        assert_eq!(reasons[0]["rule"], "self_dealing", "{kind}: {risk}");
        assert_eq!(reasons[0]["signal"], "phone", "{kind}: {risk}");
        let account = inbox(&s, &eco, kind)[0]["account"]
            .as_str()
            .unwrap()
            .to_string();
        let history = s.get(
            &format!("/v1/economies/{eco}/accounts/{account}/history"),
            ADMIN,
        );
        let entries = history["entries"].as_array().unwrap();
        let paid = entries.iter().find(|e| e["type"] == "pay_order").unwrap();
        assert_eq!(paid["held"], true, "{kind}: {paid}");
        for signal in ["phone", "address"] {
            let hash = paid["command"]["signals"][signal].as_str().unwrap_or("");
            assert!(
                hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
                "{kind}: {signal} as a keyed hash: {paid}"
            );
        }
        let text = history.to_string();
        assert!(
            !text.contains("0013") && !text.contains("Lane"),
            "{kind}: neither value is kept: {text}"
        );
    }
}

/// A delivery as sent: its headers and body.
pub(crate) type Signed = (Vec<(String, String)>, String);

/// A connector of `kind` on economy `eco` with merchant m1: its settings for the signer.
fn connector(s: &Server, eco: &str, kind: &str) -> Value {
    let mut req = json!({"id": kind, "kind": kind, "merchant": "m1"});
    let mut signer = json!({"kind": kind, "secret": "", "client_id": "", "client_secret": ""});
    match kind {
        "youzan" | "weimob" => {
            for (k, v) in [
                ("client_id", "app-7f3a"),
                ("client_secret", "cs-0123456789abcdef"),
            ] {
                req[k] = json!(v);
                signer[k] = json!(v);
            }
        }
        "generic" => {}
        _ => {
            req["secret"] = json!("shpss_0123456789abcdef");
            signer["secret"] = json!("shpss_0123456789abcdef");
        }
    }
    let made = s.post(&format!("/v1/economies/{eco}/connectors"), ADMIN, &req);
    assert!(
        made["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/economies/{eco}/connectors/{kind}/events")),
        "{made}"
    );
    if kind == "generic" {
        let secret = made["secret"]
            .as_str()
            .expect("generic's secret, shown once");
        assert!(secret.starts_with("whsec_"), "{made}");
        signer["secret"] = json!(secret);
        let listed = s.get(&format!("/v1/economies/{eco}/connectors"), ADMIN);
        assert!(
            !listed.to_string().contains(secret),
            "the secret is shown once only: {listed}"
        );
    } else {
        assert!(made.get("secret").is_none(), "{made}");
    }
    signer
}

/// Deliveries for `events`, built and signed by the independent implementation.
pub(crate) fn deliveries(signer: &Value, events: &Value, now_s: i64) -> Vec<Signed> {
    let mut input = signer.clone();
    input["events"] = events.clone();
    input["now"] = json!(now_s);
    let (out, ok) = common::python_script("shop_deliveries.py", &input);
    assert!(ok, "shop_deliveries.py failed");
    let list: Vec<Value> = serde_json::from_slice(&out).unwrap();
    list.iter()
        .map(|d| {
            let headers = d["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_string(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (headers, d["body"].as_str().unwrap().to_string())
        })
        .collect()
}

pub(crate) fn deliver(s: &Server, eco: &str, kind: &str, d: &Signed) -> (u16, String) {
    let headers: Vec<(&str, String)> = d.0.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    common::http(
        &s.addr,
        "POST",
        &format!("/v1/economies/{eco}/connectors/{kind}/events"),
        &headers,
        &d.1,
    )
    .unwrap()
}

/// Three orders: one paid and completed, one paid, refunded in part and completed, one paid
/// and refunded in full. Platform ids are numbers, as Shopify, WooCommerce and Weimob use.
fn day() -> Value {
    json!([
        {"stage": "paid", "order": "1001", "buyer": "501", "total_fen": 5999},
        {"stage": "completed", "order": "1001", "buyer": "501", "total_fen": 5999},
        {"stage": "paid", "order": "1002", "buyer": "502", "total_fen": 10000, "version": 1},
        {"stage": "refunded", "order": "1002", "buyer": "502", "total_fen": 10000, "fen": 1000, "refund": "9001", "version": 2},
        {"stage": "completed", "order": "1002", "buyer": "502", "total_fen": 10000, "version": 3},
        {"stage": "paid", "order": "1003", "buyer": "501", "total_fen": 2000},
        {"stage": "refunded", "order": "1003", "buyer": "501", "total_fen": 2000, "fen": 2000, "refund": "9002"},
    ])
}

/// The same orders as commands, with the accounts the connector named.
fn as_commands(kind: &str, events: &Value, accounts: &HashMap<String, String>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for (i, e) in events.as_array().unwrap().iter().enumerate() {
        let order = format!("{kind}:{}", e["order"].as_str().unwrap());
        let account = &accounts[e["order"].as_str().unwrap()];
        let id = format!("ref-{i}");
        match e["stage"].as_str().unwrap() {
            "paid" => {
                if !seen.contains(account) {
                    seen.push(account.clone());
                    out.push(json!({"type": "register_consumer", "id": format!("{id}-r"), "account": account}));
                }
                out.push(
                    json!({"type": "pay_order", "id": id, "order": order, "consumer": account,
                    "merchant": "m1", "cash_fen": e["total_fen"], "stable_fen": 0}),
                );
            }
            "completed" => out.push(json!({"type": "confirm_order", "id": id, "order": order})),
            _ => out.push(
                json!({"type": "refund_order", "id": id, "order": order, "cash_fen": e["fen"]}),
            ),
        }
    }
    out
}

fn economy_with_merchant(s: &Server, eco: &str) {
    create(
        s,
        eco,
        rules_json(&common::shared().join("golden/seed-wine/rules.toml")),
    );
    s.post(
        &format!("/v1/economies/{eco}/commands"),
        ADMIN,
        &json!({"type": "register_merchant", "id": "m1", "account": "m1"}),
    );
}

fn state(s: &Server, eco: &str) -> String {
    let (status, body) = s.raw(
        format!("GET /v1/economies/{eco}/state HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200);
    body
}

fn inbox(s: &Server, eco: &str, kind: &str) -> Vec<Value> {
    let v = s.get(
        &format!("/v1/economies/{eco}/connectors/{kind}/inbox?limit=5000"),
        ADMIN,
    );
    v["deliveries"].as_array().unwrap().clone()
}

fn each_kind(backend: &Backend) {
    let clock = common::temp_dir(&format!("connector-clock-{}", backend.name())).join("clock");
    std::fs::create_dir_all(clock.parent().unwrap()).unwrap();
    write_clock(&clock, 0);
    let s = Server::start(&Opts::with_clock(backend, &clock));
    for kind in KINDS {
        let (eco, reference) = (format!("shop-{kind}"), format!("ref-{kind}"));
        economy_with_merchant(&s, &eco);
        economy_with_merchant(&s, &reference);
        let signer = connector(&s, &eco, kind);
        let events = day();
        let sent = deliveries(&signer, &events, 0);
        // Every delivery twice: the platform's retries are retries, never double points.
        for d in sent.iter().chain(sent.iter()) {
            let (status, body) = deliver(&s, &eco, kind, d);
            assert_eq!(status, 200, "{kind}: {body}");
        }
        let rows = inbox(&s, &eco, kind);
        assert_eq!(rows.len(), 7, "{kind}: {rows:?}");
        let mut accounts = HashMap::new();
        for r in &rows {
            assert_eq!(r["status"], "applied", "{kind}: {r}");
            for c in r["commands"].as_array().unwrap() {
                assert!(
                    c["seq"].as_u64().is_some(),
                    "{kind}: every command is journaled: {r}"
                );
            }
            let order = r["order"].as_str().unwrap().to_string();
            if let Some(a) = r["account"].as_str() {
                accounts.insert(order, a.to_string());
            }
        }
        for c in as_commands(kind, &events, &accounts) {
            let out = s.post(&format!("/v1/economies/{reference}/commands"), ADMIN, &c);
            assert_eq!(out["outcomes"][0]["ok"], true, "{kind}: {c} {out}");
        }
        let got = state(&s, &eco);
        assert_eq!(got, state(&s, &reference), "{kind}: the states differ");
        let v: Value = serde_json::from_str(&got).unwrap();
        assert_eq!(
            v["accounts"].as_object().unwrap().len(),
            3,
            "{kind}: m1 and two buyers: {v}"
        );
        assert!(
            v["reserve_fen"].as_u64().unwrap() > 0,
            "{kind}: confirmed orders fed the reserve"
        );
    }
    s.stop();
}

fn head(s: &Server, eco: &str) -> Value {
    s.get(&format!("/v1/economies/{eco}"), ADMIN)["head_seq"].clone()
}

fn bad_signatures(backend: &Backend) {
    let s = Server::start(&Opts::with(backend, vec![]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for kind in KINDS {
        let eco = format!("bad-{kind}");
        economy_with_merchant(&s, &eco);
        let signer = connector(&s, &eco, kind);
        let paid = json!([{"stage": "paid", "order": "2001", "buyer": "601", "total_fen": 100}]);
        let good = deliveries(&signer, &paid, now).remove(0);
        let before = head(&s, &eco);
        let mut tampered = good.clone();
        tampered.1 = tampered.1.replacen("2001", "2002", 1);
        assert_ne!(tampered.1, good.1);
        let mut wrong = signer.clone();
        for k in ["secret", "client_secret"] {
            if !wrong[k].as_str().unwrap().is_empty() {
                wrong[k] = json!(format!("{}x", wrong[k].as_str().unwrap()));
            }
        }
        if kind == "generic" {
            wrong["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        }
        let mut cases = vec![
            ("tampered", tampered),
            ("wrong secret", deliveries(&wrong, &paid, now).remove(0)),
        ];
        if kind == "generic" {
            cases.push((
                "stale timestamp",
                deliveries(&signer, &paid, now - 600).remove(0),
            ));
        }
        for (what, d) in cases {
            let (status, body) = deliver(&s, &eco, kind, &d);
            assert_eq!(status, 401, "{kind} {what}: {body}");
            assert!(body.contains("bad_signature"), "{kind} {what}: {body}");
        }
        assert_eq!(head(&s, &eco), before, "{kind}: nothing journaled");
        assert!(inbox(&s, &eco, kind).is_empty(), "{kind}: nothing stored");
        let (status, _) = deliver(&s, &eco, kind, &good);
        assert_eq!(status, 200, "{kind}: the good one is taken");
        assert_ne!(head(&s, &eco), before, "{kind}: the good one is journaled");
    }
    s.stop();
}

/// Bounds: a body over 1 MiB is 413; beyond 1,000 held deliveries a connector answers 503 to
/// one that would be held (and still takes one that applies); a signed body that is not an
/// order event is refused with its reason; a disabled connector answers 410.
#[test]
fn bounds_held_limit_and_disabling() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    economy_with_merchant(&s, "b");
    let signer = connector(&s, "b", "generic");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let big = (
        vec![],
        format!("{{\"pad\":\"{}\"}}", "x".repeat((1 << 20) + 10)),
    );
    assert_eq!(deliver(&s, "b", "generic", &big).0, 413);
    // Completions of 1,001 orders whose payments never came.
    let events: Vec<Value> = (0..1001)
        .map(|i| json!({"stage": "completed", "order": format!("h{i}")}))
        .chain([json!({"stage": "paid", "order": "p1", "buyer": "u1", "total_fen": 100})])
        .collect();
    let sent = deliveries(&signer, &Value::Array(events), now);
    for d in &sent[..1000] {
        assert_eq!(deliver(&s, "b", "generic", d).0, 200);
    }
    let (status, body) = deliver(&s, "b", "generic", &sent[1000]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("holds 1000 deliveries"), "{body}");
    assert_eq!(
        deliver(&s, "b", "generic", &sent[1001]).0,
        200,
        "a payment still applies"
    );
    let held = s.get(
        "/v1/economies/b/connectors/generic/inbox?status=held&limit=5000",
        ADMIN,
    );
    assert_eq!(held["deliveries"].as_array().unwrap().len(), 1000);
    // A signed body that is not an order event.
    let mut odd = deliveries(
        &signer,
        &json!([{"stage": "paid", "order": "x", "total_fen": 1}]),
        now,
    )
    .remove(0);
    odd.1 = r#"{"type":"order_shipped","order":"x"}"#.into();
    let id = odd
        .0
        .iter()
        .find(|(k, _)| k == "webhook-id")
        .unwrap()
        .1
        .clone();
    let resigned = jifen_connect_sign(signer["secret"].as_str().unwrap(), &id, now, &odd.1);
    odd.0 = resigned;
    assert_eq!(deliver(&s, "b", "generic", &odd).0, 200);
    let refused = s.get(
        "/v1/economies/b/connectors/generic/inbox?status=refused",
        ADMIN,
    );
    let reason = refused["deliveries"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("order_shipped"), "{reason}");
    // Disabled: refused with 410, the records kept.
    let (status, _) = s.call(
        "DELETE",
        "/v1/economies/b/connectors/generic",
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    let (status, body) = deliver(&s, "b", "generic", &sent[1001]);
    assert_eq!(status, 410, "{body}");
    assert_eq!(
        inbox(&s, "b", "generic").len(),
        1002,
        "1,000 held, a payment, a refusal"
    );
    s.stop();
}

/// Standard Webhooks headers for a body, signed by Python's hmac (through the signer script's
/// generic kind, given the body's fields back).
fn jifen_connect_sign(secret: &str, id: &str, now: i64, body: &str) -> Vec<(String, String)> {
    use base64::Engine;
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let input = json!({"key": base64::engine::general_purpose::STANDARD.encode(key), "message": format!("{id}.{now}.{body}")});
    let (out, ok) = common::python_script("hmac_sha256.py", &input);
    assert!(ok);
    let mac = String::from_utf8(out).unwrap();
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), now.to_string()),
        ("webhook-signature".into(), format!("v1,{}", mac.trim())),
    ]
}

/// SIGKILL under a load of deliveries, five times: every delivery answered 2xx is in the
/// inbox afterwards and its commands are in the journal exactly once.
#[test]
fn sigkill_under_deliveries_loses_nothing_acknowledged() {
    let backend = Backend::sqlite();
    let mut s = Server::simple(&backend);
    economy_with_merchant(&s, "kill");
    let signer = connector(&s, "kill", "youzan");
    let mut events = Vec::new();
    for i in 0..1500u64 {
        let order = (300_000 + i).to_string();
        let buyer = format!("oYz{}", i % 400);
        events.push(json!({"stage": "paid", "order": order, "buyer": buyer, "total_fen": 100 + i}));
        events.push(json!({"stage": "completed", "order": order, "buyer": buyer}));
    }
    let all = deliveries(&signer, &Value::Array(events), 0);
    let mut acked: Vec<usize> = Vec::new();
    for round in 0..5u64 {
        let addr = s.addr.clone();
        let todo: Vec<usize> = (0..all.len()).filter(|i| !acked.contains(i)).collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mine: Vec<(usize, Signed)> = todo
                    .iter()
                    .filter(|i| *i % 4 == t)
                    .map(|i| (*i, all[*i].clone()))
                    .collect();
                let (addr, stop) = (addr.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut ok = Vec::new();
                    for (i, d) in mine {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let headers: Vec<(&str, String)> =
                            d.0.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                        let path = "/v1/economies/kill/connectors/youzan/events";
                        match common::http(&addr, "POST", path, &headers, &d.1) {
                            Ok((200, _)) => ok.push(i),
                            _ => break,
                        }
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(300 + round * 250));
        s.child.kill().unwrap(); // SIGKILL
        s.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in threads {
            acked.extend(t.join().unwrap());
        }
        s = Server::simple(&backend);
        check_acknowledged(&s, &backend, &all, &acked, round);
    }
    assert!(
        acked.len() > 300,
        "only {} deliveries acknowledged in 5 rounds",
        acked.len()
    );
    s.stop();
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).arg("verify"));
    assert!(out.status.success(), "{text}");
}

/// Every acknowledged delivery has its record, and every command id is journaled once.
fn check_acknowledged(s: &Server, backend: &Backend, all: &[Signed], acked: &[usize], round: u64) {
    let rows = inbox(s, "kill", "youzan");
    let keys: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| r["delivery"].as_str().unwrap().to_string())
        .collect();
    for i in acked {
        let body: Value = serde_json::from_str(&all[*i].1).unwrap();
        let key = format!(
            "{}:{}:{}",
            body["type"].as_str().unwrap(),
            body["id"].as_str().unwrap(),
            body["version"]
        );
        assert!(
            keys.contains(&key),
            "round {round}: acknowledged delivery {key} is lost"
        );
    }
    let ids = backend.journal_ids("kill");
    if let Some((id, n)) = ids.iter().find(|(_, n)| **n > 1) {
        panic!("round {round}: {id} is journaled {n} times");
    }
    for r in &rows {
        for c in r["commands"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            assert_eq!(
                ids.get(id),
                Some(&1),
                "round {round}: {id} of {} is not journaled once",
                r["delivery"]
            );
        }
    }
}

/// Phone numbers that arrive in deliveries (guests known only by phone) never reach the data
/// directory, the journal's export or the logs: only their keyed hashes are kept.
#[test]
fn phone_numbers_are_kept_only_as_keyed_hashes() {
    let backend = Backend::sqlite();
    let dir = common::temp_dir("connector-phones");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("serve.log");
    let s = Server::start(&Opts {
        log_to: Some(&log),
        ..Opts::with(&backend, vec![])
    });
    let phones = ["13912345678", "13987654321", "18600001111"];
    for kind in ["woocommerce", "youzan", "generic", "shopify"] {
        let eco = format!("pii-{kind}");
        economy_with_merchant(&s, &eco);
        let signer = connector(&s, &eco, kind);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let events: Vec<Value> = phones
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                let order = (400_000 + i).to_string();
                // The second is written the way people write numbers, with +86 and dashes.
                let phone = if i == 1 { "+86 139-8765-4321".to_string() } else { p.to_string() };
                [
                    json!({"stage": "paid", "order": order, "phone": phone, "total_fen": 1234}),
                    json!({"stage": "completed", "order": order, "phone": phone, "total_fen": 1234}),
                ]
            })
            .collect();
        for d in deliveries(&signer, &Value::Array(events), now) {
            let (status, body) = deliver(&s, &eco, kind, &d);
            assert_eq!(status, 200, "{kind}: {body}");
        }
        let rows = inbox(&s, &eco, kind);
        assert!(
            rows.iter().all(|r| r["status"] == "applied"),
            "{kind}: {rows:?}"
        );
        let paid: Vec<_> = rows.iter().filter(|r| r["account"].is_string()).collect();
        assert!(
            paid.len() >= 3,
            "{kind}: every payment names its account: {rows:?}"
        );
        let accounts: std::collections::HashSet<_> =
            paid.iter().map(|r| r["account"].clone()).collect();
        assert_eq!(
            accounts.len(),
            3,
            "{kind}: one account per phone, however written"
        );
        let (out, text) = common::run(common::jifen().args(backend.cli_args()).args([
            "export",
            "--economy",
            &eco,
        ]));
        assert!(out.status.success(), "{text}");
        for p in phones {
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(p),
                "{kind}: {p} in the export"
            );
        }
    }
    s.stop();
    let mut files = vec![log];
    let data = match &backend {
        Backend::Sqlite { dir } => dir.clone(),
        _ => unreachable!(),
    };
    let mut stack = vec![data];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path)
            } else {
                files.push(path)
            }
        }
    }
    assert!(files.len() > 2, "{files:?}");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for p in phones {
            let found = bytes.windows(p.len()).any(|w| w == p.as_bytes());
            assert!(!found, "{p} is in {}", f.display());
        }
    }
}

/// 1,000 orders by 300 buyers: 10 % refunded in full (half of those refunds before the
/// payment), the rest completed (5 % of all orders completed before the payment). The events,
/// shuffled with those orderings kept.
fn day_of_orders(rng: &mut common::Rng) -> Vec<Value> {
    let mut events = Vec::new();
    let mut early = Vec::new();
    for i in 0..1000u64 {
        let order = (100_000 + i).to_string();
        let buyer = (7_000 + rng.below(300)).to_string();
        let total = 100 + rng.below(99_900);
        let paid = json!({"stage": "paid", "order": order, "buyer": buyer, "total_fen": total});
        let refunded = i % 10 == 0;
        let other = if refunded {
            json!({"stage": "refunded", "order": order, "buyer": buyer, "total_fen": total,
                   "fen": total, "refund": (900_000 + i).to_string()})
        } else {
            json!({"stage": "completed", "order": order, "buyer": buyer, "total_fen": total})
        };
        early.push(if refunded { i % 20 == 0 } else { i % 20 == 1 });
        events.push((i as usize, paid));
        events.push((i as usize, other));
    }
    rng.shuffle(&mut events);
    // Put each order's two events in the order chosen for it.
    let mut first_seen: HashMap<usize, usize> = HashMap::new();
    for pos in 0..events.len() {
        let order = events[pos].0;
        match first_seen.get(&order) {
            None => {
                first_seen.insert(order, pos);
            }
            Some(&first) => {
                let first_is_paid = events[first].1["stage"] == "paid";
                if first_is_paid == early[order] {
                    events.swap(first, pos);
                }
            }
        }
    }
    events.into_iter().map(|(_, e)| e).collect()
}

/// The day as commands: every registration, payment and refund, then the confirmations in
/// the order the connector's economy applied them (the price moves with each, so that order
/// is the one to compare with).
fn day_as_commands(kind: &str, events: &[Value], rows: &[Value]) -> Vec<Value> {
    let mut accounts = HashMap::new();
    let mut confirmed = Vec::new();
    for r in rows {
        let order = r["order"].as_str().unwrap().to_string();
        if let Some(a) = r["account"].as_str() {
            accounts.insert(order.clone(), a.to_string());
        }
        for c in r["commands"].as_array().unwrap() {
            if c["id"].as_str().unwrap().ends_with(":completed") {
                confirmed.push((c["seq"].as_u64().unwrap(), order.clone()));
            }
        }
    }
    confirmed.sort();
    let mut in_order: Vec<Value> = events
        .iter()
        .filter(|e| e["stage"] == "paid")
        .cloned()
        .collect();
    in_order.sort_by_key(|e| e["order"].as_str().unwrap().to_string());
    let refunds = events.iter().filter(|e| e["stage"] == "refunded").cloned();
    in_order.extend(refunds);
    let mut out = as_commands(kind, &Value::Array(in_order), &accounts);
    for (i, (_, order)) in confirmed.iter().enumerate() {
        out.push(json!({"type": "confirm_order", "id": format!("ref-c{i}"), "order": format!("{kind}:{order}")}));
    }
    out
}

fn shuffled_day(backend: &Backend) {
    let clock = common::temp_dir("connector-day-clock").join("clock");
    std::fs::create_dir_all(clock.parent().unwrap()).unwrap();
    write_clock(&clock, 0);
    let s = Server::start(&Opts::with_clock(backend, &clock));
    let mut rng = common::Rng(0x5EED_2026_1204);
    for kind in KINDS {
        let (eco, reference) = (format!("day-{kind}"), format!("dayref-{kind}"));
        economy_with_merchant(&s, &eco);
        economy_with_merchant(&s, &reference);
        let signer = connector(&s, &eco, kind);
        let events = day_of_orders(&mut rng);
        let mut sent = deliveries(&signer, &Value::Array(events.clone()), 0);
        for pass in 0..2 {
            if pass == 1 {
                rng.shuffle(&mut sent);
            }
            for d in &sent {
                let (status, body) = deliver(&s, &eco, kind, d);
                assert_eq!(status, 200, "{kind}: {body}");
            }
        }
        let rows = inbox(&s, &eco, kind);
        assert_eq!(rows.len(), 2000, "{kind}: one record per delivery");
        let held: Vec<_> = rows.iter().filter(|r| r["status"] != "applied").collect();
        assert!(
            held.is_empty(),
            "{kind}: {} not applied, e.g. {}",
            held.len(),
            held[0]
        );
        let commands = day_as_commands(kind, &events, &rows);
        for batch in commands.chunks(500) {
            let out = s.post(
                &format!("/v1/economies/{reference}/commands"),
                ADMIN,
                &Value::Array(batch.to_vec()),
            );
            for o in out["outcomes"].as_array().unwrap() {
                assert_eq!(o["ok"], true, "{kind}: {o}");
            }
        }
        same_state(kind, &state(&s, &eco), &state(&s, &reference));
    }
    s.stop();
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).arg("verify"));
    assert!(out.status.success(), "{text}");
}

/// Asserts two states are the same text, naming the first fields that differ when not.
fn same_state(kind: &str, got: &str, want: &str) {
    if got == want {
        return;
    }
    let (a, b): (Value, Value) = (
        serde_json::from_str(got).unwrap(),
        serde_json::from_str(want).unwrap(),
    );
    let mut diffs = Vec::new();
    for (k, v) in a.as_object().unwrap() {
        if k != "accounts" && b.get(k) != Some(v) {
            diffs.push(format!("{k}: {v} vs {}", b[k]));
        }
    }
    for (k, v) in a.as_object().unwrap() {
        if k == "accounts" {
            for (name, acct) in v.as_object().unwrap() {
                if b["accounts"].get(name) != Some(acct) {
                    diffs.push(format!(
                        "accounts.{name}: {acct} vs {}",
                        b["accounts"][name]
                    ));
                }
            }
        }
    }
    diffs.truncate(8);
    panic!("{kind}: the states differ (connector vs commands): {diffs:#?}");
}
