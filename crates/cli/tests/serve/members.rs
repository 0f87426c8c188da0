//! Issue 23, SPEC §16 over HTTP: a tier table set by a command changes the accounts' tiers
//! (shown in the account view and its history), freezing refuses a sale with its code, an award
//! ranks the top holders, and the member search pages through the accounts.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

fn send(s: &Server, commands: Value) -> Vec<Value> {
    let v = s.post("/v1/economies/m/commands", ADMIN, &commands);
    v["outcomes"].as_array().cloned().unwrap_or_default()
}

fn level(tiers: Value) -> Value {
    json!({"name_zh": tiers[0], "name_en": tiers[1], "min": tiers[2], "partner": tiers[3],
        "benefits_zh": "", "benefits_en": ""})
}

#[test]
fn tiers_freezing_awards_and_paged_search_work_through_the_api() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "m", json!({}));
    let mut setup = vec![json!({"type": "register_merchant", "id": "r-shop", "account": "shop"})];
    for (i, fen) in [10_000u64, 100_000, 1_000].iter().enumerate() {
        setup.push(
            json!({"type": "register_consumer", "id": format!("r{i}"), "account": format!("c{i}")}),
        );
        setup.push(
            json!({"type": "pay_order", "id": format!("p{i}"), "order": format!("o{i}"),
            "consumer": format!("c{i}"), "merchant": "shop", "cash_fen": fen, "stable_fen": 0}),
        );
        setup.push(
            json!({"type": "confirm_order", "id": format!("k{i}"), "order": format!("o{i}")}),
        );
    }
    assert!(send(&s, json!(setup)).iter().all(|o| o["ok"] == true));
    // The default table goes by spend: 1,000 yuan is 铜卡 (bronze).
    let c1 = s.get("/v1/economies/m/accounts/c1", ADMIN);
    assert_eq!(c1["tier"]["name_zh"], "铜卡", "{c1}");
    let points = 100_000_000u64;
    let table = json!({"basis": "points", "downgrade": "never", "levels": [
        level(json!(["普通", "Standard", 0, false])),
        level(json!(["银卡", "Silver", 10 * points, false])),
        level(json!(["金卡", "Gold", 50 * points, true])),
    ]});
    let out = send(
        &s,
        json!({"type": "set_tiers", "id": "tiers-1", "tiers": table}),
    );
    assert_eq!(out[0]["ok"], true, "{out:?}");
    let tier =
        |name: &str| s.get(&format!("/v1/economies/m/accounts/{name}"), ADMIN)["tier"].clone();
    // c0 holds 21 points, c1 more than 50, c2 about 2.
    assert_eq!(tier("c0")["name_en"], "Silver");
    assert_eq!(
        (tier("c1")["name_en"].clone(), tier("c1")["partner"].clone()),
        (json!("Gold"), json!(true))
    );
    assert_eq!(tier("c2")["name_en"], "Standard");
    let history = s.get("/v1/economies/m/accounts/c1/history", ADMIN);
    let changes = history["tier_changes"].as_array().unwrap();
    assert_eq!(changes[0]["name_en"], "Gold", "{history}");
    assert_eq!(changes[0]["seq"], out[0]["seq"]);
    assert!(changes[0]["time"].is_string());
    let economy = s.get("/v1/economies/m", ADMIN);
    assert_eq!(economy["members"]["tiers"]["levels"][2]["name_zh"], "金卡");
    let bad = send(
        &s,
        json!({"type": "set_tiers", "id": "tiers-2", "tiers": {"basis": "points"}}),
    );
    assert_eq!(bad[0]["code"], "invalid_tiers");

    // Freezing refuses a sale, with words; unfreezing allows it again.
    let out = send(
        &s,
        json!({"type": "freeze_account", "id": "f1", "account": "c0", "reason": "刷单嫌疑"}),
    );
    assert_eq!(out[0]["ok"], true);
    assert_eq!(tier("c0")["frozen"]["reason"], "刷单嫌疑");
    let sell = json!({"type": "sell", "id": "s1", "account": "c0", "atoms": points});
    let out = send(&s, sell.clone());
    assert_eq!(out[0]["code"], "account_frozen", "{out:?}");
    send(
        &s,
        json!({"type": "unfreeze_account", "id": "u1", "account": "c0"}),
    );
    let sell = json!({"type": "sell", "id": "s2", "account": "c0", "atoms": points});
    assert_eq!(send(&s, sell)[0]["ok"], true);

    // A top-2 award: c1 then c0, each with its prize.
    let out = send(
        &s,
        json!({"type": "record_award", "id": "a1", "award": "top2", "top": 2, "prizes": ["金奖", "纪念奖"]}),
    );
    assert_eq!(out[0]["ok"], true, "{out:?}");
    let awards = s.get("/v1/economies/m", ADMIN)["members"]["awards"].clone();
    let places: Vec<(Value, Value)> = awards[0]["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["account"].clone(), p["prize"].clone()))
        .collect();
    assert_eq!(
        places,
        [(json!("c1"), json!("金奖")), (json!("c0"), json!("纪念奖"))]
    );

    // Search pages: two at a time through four accounts.
    let first = s.get("/v1/economies/m/accounts?limit=2", ADMIN);
    assert_eq!(first["accounts"].as_array().unwrap().len(), 2);
    let next = first["next_after"].as_u64().unwrap();
    let second = s.get(
        &format!("/v1/economies/m/accounts?limit=2&after={next}"),
        ADMIN,
    );
    let names: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|p| p["accounts"].as_array().unwrap().iter())
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shop", "c0", "c1", "c2"]);
    let gold = s.get("/v1/economies/m/accounts?level=2", ADMIN);
    assert_eq!(gold["accounts"][0]["account"], "c1");
    assert_eq!(gold["accounts"].as_array().unwrap().len(), 1);
}
