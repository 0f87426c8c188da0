//! A consumer on a 375 px phone, in Chinese and then in English (issue 23): the wallet opened
//! from a link shows the tier and the exit in plain words; a sale is previewed and made; the
//! history reads in plain words at the economy's local time; a frozen account's sale is refused
//! in the page's language. Nothing overflows the phone's width, and no raw key shows.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    a_consumer_reads_tier_and_exit_and_sells_on_a_phone => super::consumer_journey;
}

/// 2026-12-01T04:30:00Z: 12:30 in Shanghai, the economy's zone.
const T0: i64 = 1_796_099_400_000;

fn tiers() -> Value {
    let level = |zh: &str, en: &str, points: u64| {
        json!({"name_zh": zh, "name_en": en, "min": points * 100_000_000, "partner": false,
            "benefits_zh": format!("{zh}专享礼遇"), "benefits_en": format!("{en} privileges")})
    };
    json!({"basis": "points", "downgrade": "never", "levels": [
        level("会员", "Member", 0), level("银卡", "Silver", 100), level("金卡", "Gold", 1000)]})
}

fn page_text(browser: &Browser) -> String {
    let text = browser.script("return document.body.innerText", json!([]));
    text.as_str().unwrap().to_string()
}

fn fits_the_phone(browser: &Browser, what: &str) {
    let (over, culprits) = browser.overflow();
    assert_eq!(over, 0, "{what} overflows 375 px: {culprits:?}");
    assert_eq!(
        browser.small_targets(),
        Vec::<String>::new(),
        "{what}: 44 px targets"
    );
}

/// Preview a sale of one point and make it: the preview is the engine's quote.
fn sell_one(s: &Server, token: &str, browser: &Browser) {
    let quote = quote(s, token);
    browser.script(
        "document.getElementById('amount').value = '1'; \
         document.getElementById('trade-result').dataset.outcome = ''; return true",
        json!([]),
    );
    browser.click("#preview-sell");
    browser.wait_for(
        "return document.getElementById('q-net').textContent",
        &yuan(&quote["net_fen"]),
    );
    browser.click("#confirm");
    browser.wait_for(
        "return document.getElementById('trade-result').dataset.outcome || ''",
        "ok",
    );
}

fn quote(s: &Server, token: &str) -> Value {
    let body = r#"{"action":"sell","atoms":100000000}"#;
    let headers = [
        ("X-Wallet-Token", token.to_string()),
        ("Content-Type", "application/json".to_string()),
    ];
    let (status, text) =
        crate::common::http(&s.addr, "POST", "/v1/wallet/quote", &headers, body).unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn consumer_journey(backend: &Backend) {
    let clock = crate::common::temp_dir(&format!("journey-clock-{}", backend.name())).join("now");
    write_clock(&clock, T0);
    let s = Server::start(&Opts::with_clock(backend, &clock));
    create(&s, "j", json!({}));
    s.post("/v1/economies/j/commands", ADMIN, &json!([
        {"type":"set_tiers","id":"t","tiers": tiers()},
        {"type":"register_merchant","id":"1","account":"shop"},
        {"type":"register_consumer","id":"2","account":"alice"},
        {"type":"pay_order","id":"3","order":"o1","consumer":"alice","merchant":"shop","cash_fen":100000,"stable_fen":0},
        {"type":"confirm_order","id":"4","order":"o1"},
    ]));
    let link = s.post(
        "/v1/economies/j/wallet-links",
        ADMIN,
        &json!({"account": "alice"}),
    );
    let token = link["token"].as_str().unwrap().to_string();
    let browser = Browser::start();
    browser.resize(375);
    browser.open(&format!(
        "http://{}{}",
        s.addr,
        link["url"].as_str().unwrap()
    ));
    browser.wait_for("return document.body.dataset.status", "loaded");
    in_chinese(&s, &token, &browser, backend);
    frozen_in_chinese(&s, &browser);
    in_english(&s, &token, &browser, backend);
    assert_eq!(
        browser.console_problems().len(),
        1,
        "only the frozen sale's 4xx"
    );
    drop(browser);
    s.stop();
}

fn in_chinese(s: &Server, token: &str, browser: &Browser, backend: &Backend) {
    let alice = s.get("/v1/economies/j/accounts/alice", ADMIN);
    let text = page_text(browser);
    assert!(
        text.contains("银卡") && text.contains("银卡专享礼遇"),
        "{text}"
    );
    assert!(text.contains("再持有 790.00 积分可升至「金卡」"), "{text}");
    let trigger = alice["trigger_price_yuan_per_point"].as_str().unwrap();
    assert!(
        text.contains(&format!("出局说明：当积分价格达到 {trigger} 元/积分时")),
        "{text}"
    );
    fits_the_phone(browser, "the wallet in Chinese");
    browser.screenshot(&format!("journey-wallet-zh-375px-{}", backend.name()));
    sell_one(s, token, browser);
    let record = browser.script(
        "return document.getElementById('entries').innerText",
        json!([]),
    );
    let record = record.as_str().unwrap();
    assert!(record.contains("卖出 1.00 积分"), "{record}");
    assert!(record.contains("2026/12/01 12:30"), "local time: {record}");
    assert!(!record.contains("T04:30"), "no UTC ISO times: {record}");
    let text = page_text(browser);
    assert_eq!(raw_keys(&text), Vec::<String>::new(), "{text}");
    fits_the_phone(browser, "the wallet after a sale");
    browser.script(
        "document.getElementById('record').scrollIntoView(); return true",
        json!([]),
    );
    browser.capture(&format!(
        "journey-wallet-zh-record-375px-{}",
        backend.name()
    ));
}

/// Frozen by the operator: the page says so, and a sale is refused in Chinese words.
fn frozen_in_chinese(s: &Server, browser: &Browser) {
    s.post(
        "/v1/economies/j/commands",
        ADMIN,
        &json!([
        {"type":"freeze_account","id":"f","account":"alice","reason":"核查订单"}]),
    );
    browser.script("location.reload(); return true", json!([]));
    browser.wait_for("return document.body.dataset.status", "loaded");
    let text = page_text(browser);
    assert!(text.contains("账户已冻结：核查订单"), "{text}");
    browser.script(
        "document.getElementById('amount').value = '1'; return true",
        json!([]),
    );
    browser.click("#preview-sell");
    browser.wait_for(
        "return String(document.getElementById('trade-result').textContent !== '')",
        "true",
    );
    let said = browser.script(
        "return document.getElementById('trade-result').textContent",
        json!([]),
    );
    let said = said.as_str().unwrap();
    assert!(said.starts_with("未执行：账户已冻结"), "{said}");
    assert_eq!(raw_keys(said), Vec::<String>::new(), "{said}");
    s.post(
        "/v1/economies/j/commands",
        ADMIN,
        &json!([
        {"type":"unfreeze_account","id":"u","account":"alice"}]),
    );
    browser.script("location.reload(); return true", json!([]));
    browser.wait_for("return document.body.dataset.status", "loaded");
}

fn in_english(s: &Server, token: &str, browser: &Browser, backend: &Backend) {
    browser.click("#lang");
    let text = page_text(browser);
    assert!(
        text.contains("Silver") && text.contains("Silver privileges"),
        "{text}"
    );
    assert!(
        text.contains("About exit: when the price reaches"),
        "{text}"
    );
    assert!(!text.contains("账户已冻结"), "unfrozen: {text}");
    sell_one(s, token, browser);
    let record = browser.script(
        "return document.getElementById('entries').innerText",
        json!([]),
    );
    let record = record.as_str().unwrap();
    assert!(record.contains("Sold 1.00 points"), "{record}");
    assert!(record.contains("01/12/2026, 12:30"), "local time: {record}");
    fits_the_phone(browser, "the wallet in English");
    browser.screenshot(&format!("journey-wallet-en-375px-{}", backend.name()));
    browser.resize(1280);
    browser.screenshot(&format!("journey-wallet-en-1280px-{}", backend.name()));
    browser.click("#lang");
    browser.screenshot(&format!("journey-wallet-zh-1280px-{}", backend.name()));
}
