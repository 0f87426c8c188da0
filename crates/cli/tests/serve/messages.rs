//! A rejected command's outcome carries a `message` naming the field and the bound; the code,
//! the journal and the replay contract stay as they were.

use serde_json::json;

use crate::support::Backend;
use crate::web::*;

#[test]
fn a_rejected_command_names_its_field_and_its_bound() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({"order_max_fen": 100000000}));
    let v = s.post("/v1/economies/e/commands", ADMIN, &json!([
        {"type":"register_merchant","id":"1","account":"shop"},
        {"type":"register_consumer","id":"2"},
        {"type":"register_consumer","id":"3","account":"alice"},
        {"type":"pay_order","id":"4","order":"o1","consumer":"alice","merchant":"shop","cash_fen":200000000,"stable_fen":0},
        {"type":"pay_order","id":"5","order":"o2","consumer":"bob","merchant":"shop","cash_fen":100,"stable_fen":0},
        {"type":"sell","id":"6","account":"alice","atoms":"many"},
        {"type":"sell","id":"7","account":"alice","atoms":5},
        {"type":"register_consumer","id":"8","account":"bad name"},
        {"type":"mint","id":"9"},
        {"type":"register_merchant","id":"10","account":"shop2","colour":"red"},
        {"type":"settle_dividends","id":"11","day":"2026-02-30"},
    ]));
    let outcomes = v["outcomes"].as_array().unwrap();
    let expect = [
        (0, None, None),
        (1, Some("invalid_command"), Some("account: missing")),
        (2, None, None),
        (
            3,
            Some("invalid_amount"),
            Some("cash_fen + stable_fen: must be 1..=100000000 (order_max_fen)"),
        ),
        (
            4,
            Some("unknown_account"),
            Some("consumer: no account \"bob\""),
        ),
        (5, Some("invalid_amount"), Some("atoms: must be an integer")),
        (
            6,
            Some("insufficient_points"),
            Some("atoms: more than the 0 free atoms \"alice\" holds"),
        ),
        (
            7,
            Some("invalid_command"),
            Some("account: must match [A-Za-z0-9_.:@-]{1,64}"),
        ),
        (
            8,
            Some("invalid_command"),
            Some("type: \"mint\" is not a command type"),
        ),
        (
            9,
            Some("invalid_command"),
            Some("colour: not a field of register_merchant"),
        ),
        (
            10,
            Some("invalid_day"),
            Some("day: must be a real date written YYYY-MM-DD"),
        ),
    ];
    for (i, code, message) in expect {
        let o = &outcomes[i];
        assert_eq!(o["code"].as_str(), code, "{o}");
        assert_eq!(o["message"].as_str(), message, "{o}");
        assert_eq!(o["ok"], code.is_none(), "{o}");
    }
    // A retry of a rejected command says the same.
    let again = s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type":"register_consumer","id":"2"}),
    );
    assert_eq!(
        again["outcomes"][0]["message"], "account: missing",
        "{again}"
    );
    // The journal keeps the code only: the replay contract is unchanged.
    let events = s.get("/v1/economies/e/events?limit=100", ADMIN);
    for e in events["events"].as_array().unwrap() {
        assert!(e["outcome"].get("message").is_none(), "{e}");
    }
    s.stop();
}

#[test]
fn the_wallet_says_why_a_sale_was_refused() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "w", json!({}));
    s.post(
        "/v1/economies/w/commands",
        ADMIN,
        &json!([
            {"type":"register_consumer","id":"1","account":"alice"},
        ]),
    );
    let link = s.post(
        "/v1/economies/w/wallet-links",
        ADMIN,
        &json!({"account": "alice"}),
    );
    let headers = [
        (
            "X-Wallet-Token",
            link["token"].as_str().unwrap().to_string(),
        ),
        ("Content-Type", "application/json".to_string()),
    ];
    let body = json!({"action": "sell", "atoms": 100, "id": "sale-1"}).to_string();
    let (status, text) =
        crate::common::http(&s.addr, "POST", "/v1/wallet/act", &headers, &body).unwrap();
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["code"], "insufficient_points", "{v}");
    assert_eq!(
        v["message"], "atoms: more than the 0 free atoms \"alice\" holds",
        "{v}"
    );
    s.stop();
}
