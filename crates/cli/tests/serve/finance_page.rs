//! The console's "财务 / Finance" tab in Chromium, on a month of simulated activity: the
//! liability report's figures match the API, its three charts are drawn over the month's days,
//! the owed list matches the API, a payout batch is made from the page and its result file
//! uploaded through the page's file picker; with screenshots at 375 and 1280 px in both
//! languages.

use serde_json::{json, Value};

use super::connections_page::{set, text};
use super::finance::{loaded_month, result_file};
use crate::common;
use crate::support::Backend;
use crate::web::*;

fn js(browser: &Browser, code: &str) -> Value {
    browser.script(code, json!([]))
}

fn screens(browser: &Browser, addr: &str, name: &str, at: &str) {
    for lang in ["zh", "en"] {
        for width in [1280, 375] {
            browser.resize(width);
            // As a person opens it at this width (the range is in the address).
            browser.open("about:blank");
            browser.open(&format!("http://{addr}/#finance/2026-11-01..2026-11-30"));
            browser.wait_for("return document.body.dataset.status", "loaded");
            browser.wait_for(
                "return String(document.getElementById('fin-days').tBodies[0].rows.length)",
                "30",
            );
            let fits = js(
                browser,
                "return String([...document.querySelectorAll('.fin-chart canvas')].every((c) => c.getBoundingClientRect().right <= window.innerWidth))",
            );
            assert_eq!(
                fits, "true",
                "{name} {lang} {width}px: a chart is wider than the screen"
            );
            js(
                browser,
                &format!("document.querySelector('{at}').scrollIntoView(); return true"),
            );
            browser.capture(&format!("console-finance-{name}-{lang}-{width}px"));
            let wide = js(
                browser,
                "return String(document.documentElement.scrollWidth <= window.innerWidth)",
            );
            assert_eq!(wide, "true", "{name} {lang} {width}px scrolls sideways");
        }
        browser.resize(1280);
        browser.click("#lang");
        browser.wait_for("return document.body.dataset.status", "loaded");
    }
}

fn open_finance(browser: &Browser, s: &Server) {
    browser.resize(1280);
    browser.open(&format!("http://{}/#finance", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    browser.type_into("#key", ADMIN);
    browser.click("#signin-form button[type=submit]");
    browser.wait_for("return document.body.dataset.status", "loaded");
    browser.click(r#"nav button[data-view="finance"]"#);
    browser.wait_for("return document.body.dataset.status", "loaded");
    set(browser, "fin-from", "2026-11-01");
    set(browser, "fin-to", "2026-11-30");
    browser.click("#fin-range button[type=submit]");
    browser.wait_for(
        "return String(document.getElementById('fin-days').tBodies[0].rows.length)",
        "30",
    );
}

fn yuan_of(v: &Value) -> String {
    yuan(v)
}

/// The page's figures and charts are the API's.
fn matches_the_api(browser: &Browser, s: &Server) {
    let report = s.get(
        "/v1/economies/f/reports/liabilities?from=2026-11-01&to=2026-11-30",
        ADMIN,
    );
    let last = report["days"].as_array().unwrap().last().unwrap().clone();
    let shown = |id: &str| {
        js(
            browser,
            &format!("return document.getElementById('{id}').textContent"),
        )
    };
    assert_eq!(shown("fin-reserve"), yuan_of(&last["reserve_fen"]));
    assert_eq!(shown("fin-owed"), yuan_of(&last["payouts_owed_fen"]));
    assert_eq!(shown("fin-settled"), yuan_of(&last["settled_total_fen"]));
    for chart in ["fin-chart-reserve", "fin-chart-coverage", "fin-chart-owed"] {
        let drawn = js(browser, &format!(
            "const b = document.getElementById('{chart}'); return b.dataset.points + ':' + (b.querySelector('canvas') ? b.querySelector('canvas').width : 0)"));
        let drawn = drawn.as_str().unwrap();
        assert!(
            drawn.starts_with("30:") && !drawn.ends_with(":0"),
            "{chart}: {drawn}"
        );
    }
    let owed = s.get("/v1/economies/f/payouts/owed", ADMIN);
    let total = format!(
        "{} 个账户，合计 {} 元",
        owed["count"],
        yuan_of(&owed["total_fen"])
    );
    assert!(text(browser).contains(&total), "{total}: {}", text(browser));
}

/// The consumer's monthly statement in the wallet, for an account half of whose batch was
/// paid: December (this month, by the test clock) shows the payout; November its sales or
/// exits; the positions are the API's; screenshots at both widths in both languages.
fn wallet_statement(browser: &Browser, s: &Server, account: &str) {
    let link = s.post(
        "/v1/economies/f/wallet-links",
        ADMIN,
        &json!({ "account": account }),
    );
    let url = format!("http://{}{}", s.addr, link["url"].as_str().unwrap());
    let api = |month: &str| {
        let path = format!("/v1/economies/f/accounts/{account}/statement?month={month}");
        s.get(&path, ADMIN)["statement"].clone()
    };
    for lang in ["zh", "en"] {
        for width in [1280, 375] {
            browser.resize(width);
            browser.open("about:blank");
            browser.open(&url);
            browser.wait_for("return document.body.dataset.status", "loaded");
            if js(browser, "return document.documentElement.lang") != lang_tag(lang) {
                browser.click("#lang");
            }
            for month in ["2026-12", "2026-11"] {
                set(browser, "month", month);
                browser.wait_for(
                    "return document.getElementById('statement-card').dataset.month",
                    month,
                );
                let want = api(month);
                statement_shown(browser, &want, lang, month);
                js(
                    browser,
                    "document.getElementById('statement-card').scrollIntoView(); return true",
                );
                browser.capture(&format!("wallet-statement-{month}-{lang}-{width}px"));
                let wide = js(
                    browser,
                    "return String(document.documentElement.scrollWidth <= window.innerWidth)",
                );
                let over = js(browser, "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => e.tagName + '#' + e.id + '.' + e.className + ': ' + (e.textContent || '').slice(0, 40)).join(' | ')");
                assert_eq!(
                    wide, "true",
                    "{month} {lang} {width}px scrolls sideways: {over}"
                );
            }
        }
    }
}

fn lang_tag(lang: &str) -> Value {
    Value::from(if lang == "zh" { "zh-CN" } else { "en" })
}

/// The card's positions are the statement's, and its words say what the month did.
fn statement_shown(browser: &Browser, want: &Value, lang: &str, month: &str) {
    let cell = |row: &str, col: usize| {
        js(browser, &format!(
            "return document.querySelector('#positions tr[data-row=\"{row}\"]').cells[{col}].textContent"))
    };
    for (row, col, side) in [
        ("owed_fen", 1, "opening"),
        ("owed_fen", 2, "closing"),
        ("stable_fen", 2, "closing"),
    ] {
        let fen = want[side][row].as_u64().unwrap();
        let shown = cell(row, col);
        let plain = shown.as_str().unwrap().replace(',', "");
        assert_eq!(
            plain,
            format!("{}.{:02}", fen / 100, fen % 100),
            "{month} {row} {side}"
        );
    }
    let card = js(
        browser,
        "return document.getElementById('statement-card').innerText",
    );
    let card = card.as_str().unwrap();
    let lines = want["lines"].as_array().unwrap().len();
    let shown = js(
        browser,
        "return String(document.getElementById('statement-lines').children.length)",
    );
    assert_eq!(shown, lines.max(1).to_string(), "{month}: one row per line");
    let words: &[&str] = match (lang, month) {
        ("zh", "2026-12") => &["月度对账单", "现金已付", "已付"],
        ("en", "2026-12") => &["Monthly statement", "Cash paid", "yuan paid"],
        ("zh", _) => &["月度对账单", "消费获得积分", "额度是上限"],
        _ => &[
            "Monthly statement",
            "Points for an order",
            "The cap is a limit",
        ],
    };
    for w in words {
        assert!(card.contains(w), "{lang} {month}: {w:?} in {card}");
    }
}

#[test]
fn the_finance_tab_in_the_browser() {
    let backend = Backend::sqlite();
    let tmp = common::temp_dir("finance-page");
    let (s, _) = loaded_month(&backend, &tmp);
    let browser = Browser::start();
    open_finance(&browser, &s);
    for words in [
        "负债日报",
        "储备金与累计贡献",
        "回馈池与剩余额度",
        "应付兑付与累计已付",
        "不是负债，也不是承诺",
        "应付名单",
    ] {
        assert!(
            text(&browser).contains(words),
            "{words}: {}",
            text(&browser)
        );
    }
    assert!(!text(&browser).contains("分红"), "no investment words");
    matches_the_api(&browser, &s);
    screens(&browser, &s.addr, "report", "main");
    screens(&browser, &s.addr, "charts", "#fin-chart-coverage");

    set(&browser, "fin-remark", "11月兑付");
    browser.click("#fin-batch");
    browser.wait_for(
        "return String(document.getElementById('fin-batches').tBodies[0].rows.length)",
        "1",
    );
    let batches = s.get("/v1/economies/f/payouts/batches", ADMIN);
    let no = batches["batches"][0]["batch_no"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text(&browser).contains(&format!("已生成批次 {no}")),
        "{}",
        text(&browser)
    );
    let batch = s.get(&format!("/v1/economies/f/payouts/batches/{no}"), ADMIN);
    let (csv, _, half) = result_file(&batch);
    let file = tmp.join("results.csv");
    std::fs::write(&file, csv).unwrap();
    browser.type_into(
        &format!("input[data-batch=\"{no}\"]"),
        &file.display().to_string(),
    );
    let want = format!("本次记为已付 {half} 行");
    browser.wait_for(
        &format!(
            "return String(document.getElementById('fin-recon').textContent.includes('{want}'))"
        ),
        "true",
    );
    assert!(
        text(&browser).contains(&format!(
            "已付 {half} · 失败 {}",
            batch["count"].as_u64().unwrap() as usize - half
        )),
        "{}",
        text(&browser)
    );
    assert!(text(&browser).contains("收款账户异常"));
    matches_the_api(&browser, &s);
    screens(&browser, &s.addr, "reconciled", "#fin-batches");
    let paid = batch["lines"][0]["account"].as_str().unwrap();
    wallet_statement(&browser, &s, paid);
    assert!(
        browser.accessibility_problems().is_empty(),
        "{:?}",
        browser.accessibility_problems()
    );
    assert!(
        browser.console_problems().is_empty(),
        "{:?}",
        browser.console_problems()
    );
}
