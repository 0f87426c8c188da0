//! Who may do what: every role against every endpoint, keys that are missing, wrong or
//! revoked, another economy, a merchant reaching past its account, and keys at rest.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

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

/// One endpoint: method, path, body, and the roles it answers 2xx.
type Endpoint = (
    &'static str,
    String,
    Option<String>,
    &'static [&'static str],
);

/// Every endpoint of economy `e`, each with a request that succeeds when allowed; `n` keeps
/// the ids and names of what they create apart from one round to the next.
fn endpoints(n: u32, what_if: &str) -> Vec<Endpoint> {
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
            Some(what_if.to_string()),
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
}

/// The rules of economy `e`, as a what-if body.
fn what_if_body(s: &Server) -> String {
    let mut rules = s.get("/v1/economies/e/rules", ADMIN)["rules"].clone();
    rules
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.ends_with("_str"));
    json!({ "rules": rules }).to_string()
}

#[test]
fn each_role_reaches_exactly_its_endpoints() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let keys = setup_roles(&s);
    let what_if = what_if_body(&s);
    for (n, (role, key)) in keys.iter().enumerate() {
        for (method, path, body, allowed) in endpoints(n as u32, &what_if) {
            let (status, v) = s.call(method, &path, Some(key), body.as_deref());
            let label = format!("{role} {method} {path}: {status} {v}");
            if *role == "other-operator" && path.starts_with("/v1/economies/e") {
                assert_eq!(status, 404, "another economy is 404: {label}");
                assert_eq!(v["error"]["code"], "not_found");
            } else if allowed.contains(role) {
                assert!((200..300).contains(&status), "allowed: {label}");
            } else {
                assert_eq!(status, 403, "forbidden: {label}");
                assert_eq!(v["error"]["code"], "forbidden");
            }
        }
    }
    s.stop();
}

#[test]
fn a_missing_wrong_or_revoked_key_is_401_and_a_missing_economy_is_404() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let keys = setup_roles(&s);
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
    s.stop();
}

#[test]
fn a_merchant_acts_only_on_its_own_account_and_is_refused_whole() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let keys = setup_roles(&s);
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
    s.stop();
}

#[test]
fn keys_are_stored_only_as_hashes() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    let keys = setup_roles(&s);
    s.stop();
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
}
