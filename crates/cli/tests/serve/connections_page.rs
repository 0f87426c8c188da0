//! The console's "连接 / Connections" tab in Chromium: an operator makes a Weimob connection
//! and sees its URL; makes a generic one and sees its secret once; sees deliveries arrive;
//! supplies the amount of a Weimob delivery held for it, which applies it and the completion
//! that waited; and every state of the tab at 375 and 1280 px in both languages.

use serde_json::{json, Value};

use super::connectors::{deliver, deliveries};
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    the_connections_tab_in_the_browser => super::connections_tab;
}

/// The page's visible text.
pub fn text(browser: &Browser) -> String {
    browser
        .script("return document.body.innerText", json!([]))
        .as_str()
        .unwrap()
        .to_string()
}

fn value(browser: &Browser, id: &str) -> String {
    browser
        .script(
            &format!("return document.getElementById('{id}').value"),
            json!([]),
        )
        .as_str()
        .unwrap()
        .to_string()
}

/// Sets an input's value as typing would, and says it changed.
pub fn set(browser: &Browser, id: &str, v: &str) {
    browser.script(
        &format!("const e = document.getElementById('{id}'); e.value = arguments[0]; e.dispatchEvent(new Event('change')); return true"),
        json!([v]),
    );
}

/// Screenshots of the tab at both widths in both languages (the page starts in Chinese),
/// scrolled to `at`.
fn screens(browser: &Browser, backend: &Backend, name: &str, at: &str) {
    for lang in ["zh", "en"] {
        for width in [1280, 375] {
            browser.resize(width);
            browser.script(
                &format!("document.querySelector('{at}').scrollIntoView(); return true"),
                json!([]),
            );
            browser.capture(&format!(
                "console-connections-{name}-{lang}-{width}px-{}",
                backend.name()
            ));
        }
        browser.resize(1280);
        browser.click("#lang");
        browser.wait_for("return document.body.dataset.status", "loaded");
    }
}

fn make(browser: &Browser, id: &str, kind: &str, pair: Option<(&str, &str)>) {
    set(browser, "conn-kind", kind);
    set(browser, "conn-id", id);
    set(browser, "conn-merchant", "m1");
    if let Some((cid, cs)) = pair {
        set(browser, "conn-client-id", cid);
        set(browser, "conn-client-secret", cs);
    }
    browser.script(
        "document.getElementById('conn-made').classList.add('hidden'); return true",
        json!([]),
    );
    browser.click("#conn-form button[type=submit]");
    browser.wait_for(
        "return String(!document.getElementById('conn-made').classList.contains('hidden'))",
        "true",
    );
}

fn connections_tab(backend: &Backend) {
    let s = Server::simple(backend);
    create(&s, "w", json!({}));
    s.post(
        "/v1/economies/w/commands",
        ADMIN,
        &json!({"type": "register_merchant", "id": "m", "account": "m1"}),
    );
    let browser = Browser::start();
    browser.resize(1280);
    browser.open(&format!("http://{}/#connections", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    browser.type_into("#key", ADMIN);
    browser.click("#signin-form button[type=submit]");
    browser.wait_for("return document.body.dataset.status", "loaded");
    browser.click(r#"nav button[data-view="connections"]"#);
    browser.wait_for("return document.body.dataset.status", "loaded");
    assert!(text(&browser).contains("新建连接"), "{}", text(&browser));
    screens(&browser, backend, "empty", "main");

    // A Weimob connection: the URL to paste, and how to set it up in Weimob's console.
    make(
        &browser,
        "weimob-1",
        "weimob",
        Some(("app-7f3a", "cs-0123456789abcdef")),
    );
    let url = value(&browser, "conn-url");
    assert!(
        url.ends_with("/v1/economies/w/connectors/weimob-1/events"),
        "{url}"
    );
    assert!(
        text(&browser).contains("微盟云开发者后台"),
        "the setup steps are shown"
    );
    // A generic one: its secret, shown once.
    make(&browser, "own-shop", "generic", None);
    let secret = value(&browser, "conn-secret-once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    screens(&browser, backend, "made", "main");
    browser.script("location.reload(); return true", json!([]));
    browser.wait_for("return document.body.dataset.status", "loaded");
    let inputs = browser
        .script(
            "return [...document.querySelectorAll('input')].map((i) => i.value).join(' ')",
            json!([]),
        )
        .to_string();
    assert!(
        !inputs.contains(&secret) && !text(&browser).contains(&secret),
        "the secret is not shown again"
    );
    assert!(text(&browser).contains("own-shop") && text(&browser).contains("weimob-1"));

    // Deliveries arrive: a Weimob statusUpdate with no amount, then its completion.
    let signer = json!({"kind": "weimob", "secret": "", "client_id": "app-7f3a", "client_secret": "cs-0123456789abcdef"});
    let events = json!([
        {"stage": "paid", "order": "777", "buyer": "1001", "total_fen": 5999, "no_amount": true},
        {"stage": "completed", "order": "777", "buyer": "1001"},
    ]);
    for d in deliveries(&signer, &events, 0) {
        let (status, body) = deliver(&s, "w", "weimob-1", &d);
        assert_eq!(status, 200, "{body}");
    }
    set(&browser, "inbox-conn", "weimob-1");
    browser.wait_for(
        "return String(document.querySelectorAll('#inbox-table tbody tr').length)",
        "2",
    );
    browser.wait_for(
        "return String(!document.getElementById('conn-needs').classList.contains('hidden'))",
        "true",
    );
    let shown = text(&browser);
    assert!(shown.contains("1 笔投递缺少金额"), "{shown}");
    assert!(shown.contains("等待该订单的付款"), "{shown}");
    screens(&browser, backend, "held", "#inbox-form");

    // The operator supplies 59.99 yuan: the payment applies, and the completion with it.
    browser.type_into("#inbox-table input.amount", "59.99");
    browser.click("#inbox-table tr[data-status=held] button.primary");
    browser.wait_for(
        "return String(document.querySelectorAll('#inbox-table tr[data-status=applied]').length)",
        "2",
    );
    assert!(
        text(&browser).contains("已重试：已入账"),
        "{}",
        text(&browser)
    );
    let inbox = s.get("/v1/economies/w/connectors/weimob-1/inbox", ADMIN);
    let rows = inbox["deliveries"].as_array().unwrap();
    assert!(rows.iter().all(|r| r["status"] == "applied"), "{inbox}");
    let account = rows.iter().find_map(|r| r["account"].as_str()).unwrap();
    let a: Value = s.get(&format!("/v1/economies/w/accounts/{account}"), ADMIN);
    assert_eq!(a["spent_fen"], 5999, "{a}");
    assert!(
        a["atoms"].as_u64().unwrap() > 0,
        "the completion confirmed the order: {a}"
    );
    screens(&browser, backend, "applied", "#inbox-form");
    assert_eq!(browser.console_problems(), Vec::<String>::new());
    assert_eq!(browser.accessibility_problems(), Vec::<String>::new());
    drop(browser);
    s.stop();
}
