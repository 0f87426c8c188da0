//! Issue 23: the pages' words for the daily reward and its pool. By default neutral consumer
//! terms (每日回馈, 回馈池); an operator may rename them per economy, but any investment word
//! (股权, 股票, 股份, 原始股, 分红, 收益率, 理财, 投资回报 and their English equivalents) is
//! refused when saved, with a clear message in both languages; the economy and the wallet carry
//! the terms the pages show.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

fn patch(s: &Server, body: Value) -> (u16, Value) {
    s.call(
        "PATCH",
        "/v1/economies/n",
        Some(ADMIN),
        Some(&body.to_string()),
    )
}

#[test]
fn investment_words_are_refused_as_display_terms() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "n", json!({}));
    let shown = s.get("/v1/economies/n", ADMIN)["terms"].clone();
    assert_eq!(
        shown,
        json!({"reward_zh": "每日回馈", "reward_en": "daily reward", "pool_zh": "回馈池", "pool_en": "reward pool"})
    );
    let forbidden = [
        ("reward_zh", "每日分红"),
        ("pool_zh", "分红池"),
        ("reward_zh", "股权奖励"),
        ("reward_zh", "股票"),
        ("reward_zh", "原始股"),
        ("reward_zh", "股份回馈"),
        ("reward_zh", "高收益率"),
        ("pool_zh", "理财池"),
        ("reward_zh", "投资回报"),
        ("reward_en", "Daily Dividend"),
        ("pool_en", "dividend pool"),
        ("reward_en", "shares"),
        ("reward_en", "EQUITY bonus"),
        ("reward_en", "stock reward"),
        ("reward_en", "yield"),
        ("reward_en", "rate of return"),
        ("pool_en", "investment pool"),
    ];
    for (field, word) in forbidden {
        let (status, body) = patch(&s, json!({"terms": {field: word}}));
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 422, "{field} {word}: {body}");
        assert_eq!(body["error"]["code"], "invalid_term", "{body}");
        assert!(
            message.contains(&format!("terms.{field}")) && message.contains("不是股权或投资收益"),
            "{message}"
        );
    }
    let (status, body) = patch(&s, json!({"terms": {"reward_zh": "回".repeat(25)}}));
    assert_eq!(
        (status, &body["error"]["code"]),
        (422, &json!("invalid_term"))
    );
    // Nothing refused was kept; an allowed renaming is, and the wallet carries it.
    assert_eq!(s.get("/v1/economies/n", ADMIN)["terms"], shown);
    let (status, body) = patch(
        &s,
        json!({"terms": {"reward_zh": "会员回馈", "pool_en": "member reward fund"}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["terms"]["reward_zh"], "会员回馈");
    assert_eq!(body["terms"]["pool_en"], "member reward fund");
    assert_eq!(body["terms"]["pool_zh"], "回馈池");
    s.post(
        "/v1/economies/n/commands",
        ADMIN,
        &json!([{"type": "register_consumer", "id": "1", "account": "a"}]),
    );
    let link = s.post(
        "/v1/economies/n/wallet-links",
        ADMIN,
        &json!({"account": "a"}),
    );
    let token = link["token"].as_str().unwrap();
    let headers = [("X-Wallet-Token", token.to_string())];
    let (status, text) = crate::common::http(&s.addr, "GET", "/v1/wallet", &headers, "").unwrap();
    assert_eq!(status, 200, "{text}");
    let wallet: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(wallet["terms"]["reward_zh"], "会员回馈");
    s.stop();
}
