//! Risk controls over HTTP and in the console (SPEC §17, issue 24): an economy created with the
//! recommended rules holds a large order and a self-dealing one (the buyer's phone, written
//! differently, is the merchant's, and only its keyed hash reaches the journal); a held order
//! refuses confirmation; decisions carry the reviewer's key; the holds survive a restart and
//! `jifen verify` passes. Then, in Chromium: an operator reads the reasons in Chinese, approves
//! one held order and rejects another, and finds both decisions in the account histories.

use serde_json::{json, Value};

use super::operator_journey::{check_page, go, text_of, wait_text};
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    held_orders_are_reviewed_over_http => super::over_http;
    an_operator_reviews_held_orders_in_the_console => super::in_the_console;
}

const ECO: &str = "/v1/economies/risky";

/// A merchant whose registered phone is 138 0013 8000; four consumers; four orders: a large
/// one (c1), a self-dealing one (c2, the merchant's phone written another way), a small one
/// (c3), and another large one (c4).
fn setup(backend: &Backend) -> Server {
    let s = Server::simple(backend);
    create_with_risk(&s, "risky", json!({}));
    let mut commands = vec![
        json!({"type":"register_merchant","id":"m","account":"shop"}),
        json!({"type":"record_signals","id":"sig","account":"shop","signals":{"phone":"138 0013 8000"}}),
    ];
    for i in 1..=4 {
        commands.push(
            json!({"type":"register_consumer","id":format!("r{i}"),"account":format!("c{i}")}),
        );
    }
    let pay = |i: u64, fen: u64, signals: Value| {
        let mut c = json!({"type":"pay_order","id":format!("p{i}"),"order":format!("o{i}"),
            "consumer":format!("c{i}"),"merchant":"shop","cash_fen":fen,"stable_fen":0});
        if !signals.is_null() {
            c["signals"] = signals;
        }
        c
    };
    commands.push(pay(1, 2_500_000, Value::Null));
    commands.push(pay(
        2,
        10_000,
        json!({"phone":"+86 138-0013-8000","device":"ios-abc"}),
    ));
    commands.push(pay(3, 10_000, json!({"device":"android-xyz"})));
    commands.push(pay(4, 3_000_000, Value::Null));
    let out = s.post(&format!("{ECO}/commands"), ADMIN, &Value::Array(commands));
    for o in out["outcomes"].as_array().unwrap() {
        assert_eq!(o["ok"], true, "{o}");
    }
    s
}

fn over_http(backend: &Backend) {
    let s = setup(backend);
    let risk = s.get(&format!("{ECO}/risk"), ADMIN);
    assert_eq!(risk["rules"]["enabled"], true, "on by default: {risk}");
    assert_eq!(risk["open"], 3, "{risk}");
    let holds = risk["holds"].as_array().unwrap();
    let reasons = |order: &str| -> Vec<Value> {
        let h = holds.iter().find(|h| h["order"] == order).unwrap();
        h["reasons"].as_array().unwrap().clone()
    };
    assert_eq!(
        reasons("o1"),
        vec![
            json!({"rule":"large_order","figure":2_500_000,"threshold":2_000_000,"signal":null}),
            // Registered moments before: a new account's order above 5,000 yuan, too.
            json!({"rule":"new_account","figure":2_500_000,"threshold":500_000,"signal":null}),
        ]
    );
    assert_eq!(reasons("o2")[0]["rule"], "self_dealing");
    assert_eq!(reasons("o2")[0]["signal"], "phone");
    assert!(holds.iter().all(|h| h["order"] != "o3"));

    // Only hashes reach the journal.
    let history = s.get(&format!("{ECO}/accounts/c2/history"), ADMIN);
    let paid = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "pay_order")
        .unwrap()
        .clone();
    assert_eq!(paid["held"], true);
    let phone = paid["command"]["signals"]["phone"].as_str().unwrap();
    assert!(
        phone.len() == 16 && phone.bytes().all(|b| b.is_ascii_hexdigit()),
        "{phone}"
    );
    assert!(
        !history.to_string().contains("0013"),
        "the phone itself is not kept"
    );

    // A held order is not confirmed by anyone but a reviewer.
    let confirm = json!({"type":"confirm_order","id":"k1","order":"o1"});
    let out = s.post(&format!("{ECO}/commands"), ADMIN, &confirm);
    assert_eq!(out["outcomes"][0]["code"], "order_held");
    let forged = json!({"type":"review_order","id":"v1","order":"o1","decision":"approve",
        "reviewer":"somebody-else","note":""});
    let (status, _) = s.call(
        "POST",
        &format!("{ECO}/commands"),
        Some(ADMIN),
        Some(&forged.to_string()),
    );
    assert_eq!(status, 403, "a review names the key that sends it");

    let approve = json!({"decision":"approve","note":"called the buyer"});
    let r = s.post(&format!("{ECO}/risk/holds/o1/review"), ADMIN, &approve);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["hold"]["hold_status"], "approved");
    assert_eq!(r["hold"]["status"], "confirmed");
    assert_eq!(r["hold"]["reviews"][0]["note"], "called the buyer");
    assert!(r["hold"]["reviews"][0]["reviewer"].as_str().unwrap().len() > 3);
    let again = s.post(&format!("{ECO}/risk/holds/o1/review"), ADMIN, &approve);
    assert_eq!(again["ok"], true, "a repeated click is a retry: {again}");
    assert_eq!(again["seq"], r["seq"]);
    let reject = json!({"decision":"reject","note":"same phone as the shop"});
    let r = s.post(&format!("{ECO}/risk/holds/o2/review"), ADMIN, &reject);
    assert_eq!(r["hold"]["status"], "refunded", "{r}");
    let c1 = s.get(&format!("{ECO}/accounts/c1"), ADMIN);
    let c2 = s.get(&format!("{ECO}/accounts/c2"), ADMIN);
    assert_ne!(c1["atoms"], 0, "approved: points granted {c1}");
    assert_eq!(c2["atoms"], 0, "rejected: no points {c2}");
    let lines = s
        .get(&format!("{ECO}/accounts/c2/history"), ADMIN)
        .to_string();
    assert!(lines.contains("review_order"), "{lines}");

    // The same holds after a restart, from the journal; and the books verify.
    s.stop();
    let s = Server::simple(backend);
    let after = s.get(&format!("{ECO}/risk?status=all"), ADMIN);
    assert_eq!(after["open"], 1, "{after}");
    assert_eq!(after["holds_total"], 3);
    s.stop();
    let (out, text) = crate::common::run(
        crate::common::jifen()
            .args(backend.cli_args())
            .arg("verify"),
    );
    assert!(out.status.success(), "{text}");
}

fn in_the_console(backend: &Backend) {
    let s = setup(backend);
    let browser = Browser::start();
    browser.resize(1280);
    browser.open(&format!("http://{}/#risk", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    browser.type_into("#key", ADMIN);
    browser.click("#signin-form button[type=submit]");
    browser.wait_for("return document.body.dataset.status", "loaded");
    go(&browser, "risk");
    wait_text(&browser, "#risk-table", "o1");
    let queue = text_of(&browser, "#risk-table");
    assert!(
        queue.contains("大额订单 25,000.00 元，超过 20,000.00 元"),
        "{queue}"
    );
    assert!(
        queue.contains("买家与商家使用同一手机号（疑似自买自卖）"),
        "{queue}"
    );
    let note = text_of(&browser, "#risk-note");
    assert!(
        note.contains("14 天内未处理的订单会自动拒绝并退款"),
        "{note}"
    );
    for width in [375, 1280] {
        browser.resize(width);
        check_page(
            &browser,
            &format!("risk-queue-zh-{width}px-{}", backend.name()),
            "zh",
            width,
        );
    }
    browser.resize(1280);
    decide(&browser, "o1", 1, "电话核实");
    wait_text(&browser, "#risk-decided", "已通过");
    decide(&browser, "o2", 2, "与商家同一手机号");
    wait_text(&browser, "#risk-decided", "已拒绝（退款）");
    let decided = text_of(&browser, "#risk-decided");
    assert!(decided.contains("电话核实"), "{decided}");

    for (account, line) in [
        ("c1", "订单 o1 风控审核：通过，已确认（电话核实）"),
        ("c2", "订单 o2 风控审核：拒绝，已退款（与商家同一手机号）"),
    ] {
        browser.open(&format!("http://{}/#accounts/{account}", s.addr));
        browser.wait_for("return document.body.dataset.status", "loaded");
        wait_text(&browser, "#history-table", line);
    }
    browser.open(&format!("http://{}/#accounts/c4", s.addr));
    wait_text(&browser, "#history-table", "（风控扣留，待审核）");
    browser.click("#lang");
    go(&browser, "risk");
    wait_text(&browser, "#risk-table", "A large order: 30,000.00 yuan");
    for width in [375, 1280] {
        browser.resize(width);
        check_page(
            &browser,
            &format!("risk-queue-en-{width}px-{}", backend.name()),
            "en",
            width,
        );
    }
    drop(browser);
    s.stop();
}

/// Approves (button 1) or rejects (button 2) a held order from its row, with a note.
fn decide(browser: &Browser, order: &str, button: usize, note: &str) {
    let row = format!(r#"#risk-table tr[data-order="{order}"]"#);
    browser.type_into(&format!("{row} input"), note);
    browser.click(&format!("{row} td.row button:nth-of-type({button})"));
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "true",
    );
    browser.click("#dlg-ok");
    browser.wait_for(
        &format!("return String(!document.querySelector('{row}'))"),
        "true",
    );
}
