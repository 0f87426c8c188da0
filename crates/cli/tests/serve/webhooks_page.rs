//! The console's "通知 / Webhooks" tab in Chromium, against a real receiver on loopback (the
//! Python one of `webhooks.rs`, which checks every signature): an operator subscribes it to two
//! event types and sees the secret once, sends a ping, sees deliveries and their answers, sees
//! the subscription fail while the receiver answers 500, pauses and resumes it, rotates its
//! secret, re-sends from entry 1 and deletes it; with screenshots at 375 and 1280 px in both
//! languages.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::connections_page::{set, text};
use crate::support::Backend;
use crate::web::*;
use crate::webhooks::{openapi, Receiver};

fn js(browser: &Browser, code: &str) -> Value {
    browser.script(code, json!([]))
}

/// Screenshots at both widths in both languages (the page is in Chinese when called), scrolled
/// to `at`.
fn screens(browser: &Browser, name: &str, at: &str) {
    for lang in ["zh", "en"] {
        for width in [1280, 375] {
            browser.resize(width);
            js(
                browser,
                &format!("document.querySelector('{at}').scrollIntoView(); return true"),
            );
            browser.capture(&format!("console-webhooks-{name}-{lang}-{width}px"));
        }
        browser.resize(1280);
        browser.click("#lang");
        browser.wait_for("return document.body.dataset.status", "loaded");
    }
}

/// Waits until the page (which refreshes itself every 3 s) shows `want`.
fn wait_text(browser: &Browser, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !text(browser).contains(want) {
        assert!(
            Instant::now() < deadline,
            "{want:?} never shown: {}",
            text(browser)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn order(s: &Server, n: u32) {
    let answer = s.post(
        "/v1/economies/w/commands",
        ADMIN,
        &json!([
            {"type": "pay_order", "id": format!("p{n}"), "order": format!("o{n}"),
             "consumer": "c1", "merchant": "m1", "cash_fen": 10000, "stable_fen": 0},
            {"type": "confirm_order", "id": format!("k{n}"), "order": format!("o{n}")}
        ]),
    );
    let outcomes = answer["outcomes"].as_array().unwrap();
    assert!(outcomes.iter().all(|o| o["ok"] == true), "{answer}");
}

fn sign_in(browser: &Browser, s: &Server) {
    browser.resize(1280);
    browser.open(&format!("http://{}/#webhooks", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    browser.type_into("#key", ADMIN);
    browser.click("#signin-form button[type=submit]");
    browser.wait_for("return document.body.dataset.status", "loaded");
    browser.click(r#"nav button[data-view="webhooks"]"#);
    browser.wait_for("return document.body.dataset.status", "loaded");
}

/// The tab offers exactly the event types the OpenAPI document declares (the ping aside).
fn offers_every_type(browser: &Browser, doc: &Value) {
    let declared: HashSet<String> = doc["components"]["schemas"]["WebhookEvent"]["discriminator"]
        ["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "webhook.ping")
        .cloned()
        .collect();
    let offered = js(
        browser,
        "return [...document.querySelectorAll('.wh-event')].map((b) => b.value)",
    );
    let offered: HashSet<String> = serde_json::from_value(offered).unwrap();
    assert_eq!(offered, declared);
}

fn subscribe(browser: &Browser, receiver: &Receiver) -> String {
    set(browser, "wh-id", "crm");
    set(browser, "wh-url", &receiver.url());
    browser.click(r#".wh-event[value="points.granted"]"#);
    browser.click(r#".wh-event[value="order.confirmed"]"#);
    browser.click("#wh-form button[type=submit]");
    browser.wait_for(
        "return String(!document.getElementById('wh-made').classList.contains('hidden'))",
        "true",
    );
    let secret = js(
        browser,
        "return document.getElementById('wh-secret-once').value",
    );
    let secret = secret.as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set_secrets(&[&secret]);
    secret
}

fn confirm(browser: &Browser, label: &str) {
    action(browser, label);
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "true",
    );
    browser.click("#dlg-ok");
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "false",
    );
}

fn action(browser: &Browser, label: &str) {
    let clicked = browser.script(
        "const b = [...document.querySelectorAll('tr[data-webhook=\"crm\"] button')].find((b) => b.textContent === arguments[0]); if (b) b.click(); return !!b",
        json!([label]),
    );
    assert_eq!(clicked, true, "no button {label:?}");
}

#[test]
fn the_webhooks_tab_in_the_browser() {
    let backend = Backend::sqlite();
    let s = Server::start(&Opts::with(&backend, vec!["--allow-private-targets"]));
    let doc = openapi(&s);
    let mut receiver = Receiver::new("page", &doc);
    receiver.spawn();
    create(&s, "w", json!({}));
    s.post(
        "/v1/economies/w/commands",
        ADMIN,
        &json!([{"type": "register_merchant", "id": "m", "account": "m1"},
                {"type": "register_consumer", "id": "c", "account": "c1"}]),
    );
    let browser = Browser::start();
    sign_in(&browser, &s);
    assert!(
        text(&browser).contains("新建通知订阅"),
        "{}",
        text(&browser)
    );
    assert!(text(&browser).contains("还没有订阅"));
    offers_every_type(&browser, &doc);
    screens(&browser, "empty", "main");

    let secret = subscribe(&browser, &receiver);
    browser.click("#wh-made-ping");
    browser.wait_for(
        "return String(document.getElementById('wh-ping-result').textContent.startsWith('对方已收到'))",
        "true",
    );
    screens(&browser, "made", "main");
    browser.script("location.reload(); return true", json!([]));
    browser.wait_for("return document.body.dataset.status", "loaded");
    let inputs = js(
        &browser,
        "return [...document.querySelectorAll('input')].map((i) => i.value).join(' ')",
    );
    assert!(
        !inputs.to_string().contains(&secret) && !text(&browser).contains(&secret),
        "the secret is not shown again"
    );

    // Two orders confirmed: an order.confirmed and a points.granted each, and nothing else.
    order(&s, 1);
    order(&s, 2);
    wait_text(&browser, "4 / 0");
    action(&browser, "投递记录");
    browser.wait_for(
        "return String(document.querySelectorAll('#wh-recent tbody tr').length >= 4)",
        "true",
    );
    assert!(text(&browser).contains("HTTP 200"), "{}", text(&browser));
    let kinds: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r["event"]["type"].as_str().unwrap().to_string())
        .collect();
    let want = ["webhook.ping", "points.granted", "order.confirmed"];
    assert_eq!(kinds, want.iter().map(|k| k.to_string()).collect());
    screens(&browser, "delivered", "#wh-recent-card");

    failing_then_paused(&browser, &s, &receiver);
    rotated_redelivered_deleted(&browser, &receiver, &secret);
    assert_eq!(browser.console_problems(), Vec::<String>::new());
    assert_eq!(browser.accessibility_problems(), Vec::<String>::new());
    drop(browser);
    s.stop();
}

/// The receiver answers 500: the row says so with the answer; pausing and resuming work, and
/// once the receiver is back the held event arrives.
fn failing_then_paused(browser: &Browser, s: &Server, receiver: &Receiver) {
    receiver.set_mode("fail");
    order(s, 3);
    wait_text(browser, "投递失败，重试中");
    assert!(text(browser).contains("HTTP 500"), "{}", text(browser));
    screens(browser, "failing", "#wh-table");
    action(browser, "暂停");
    wait_text(browser, "已暂停");
    receiver.set_mode("ok");
    action(browser, "恢复");
    wait_text(browser, "6 / ");
    let row = js(
        browser,
        "return document.querySelector('tr[data-webhook=\"crm\"]').dataset.state",
    );
    assert_eq!(row, "active");
}

/// A rotation shows the new secret once; the receiver, given only the new one, still verifies;
/// a redelivery from entry 1 sends the first events again; a deletion empties the list.
fn rotated_redelivered_deleted(browser: &Browser, receiver: &Receiver, old: &str) {
    confirm(browser, "换密钥");
    browser.wait_for(
        "return String(document.getElementById('wh-secret-label').textContent.includes('旧密钥在 24 小时内仍然有效'))",
        "true",
    );
    let new = js(
        browser,
        "return document.getElementById('wh-secret-once').value",
    );
    let new = new.as_str().unwrap();
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    assert!(text(browser).contains("旧密钥在 24 小时内仍然有效"));
    receiver.set_secrets(&[new]);
    let before = receiver.received().len();
    action(browser, "投递记录");
    set(browser, "wh-redeliver-seq", "1");
    browser.click("#wh-redeliver-form button[type=submit]");
    wait_text(browser, "将从记录 #1 起重新投递");
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.received().len() < before + 6 {
        assert!(Instant::now() < deadline, "the redelivery did not arrive");
        std::thread::sleep(Duration::from_millis(200));
    }
    screens(browser, "rotated", "#wh-made");
    confirm(browser, "删除");
    wait_text(browser, "还没有订阅");
}
