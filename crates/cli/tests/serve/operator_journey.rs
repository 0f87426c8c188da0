//! An operator's journey through the console in headless Chromium (issue 23), asserting on the
//! visible text: sign in; read the rules in Chinese, then in English; preview a change, apply
//! it and read it in plain words in the history; define three tiers and a partner threshold and
//! see the accounts' tiers change; import a thousand members from CSV after a dry run that
//! reports the one bad line; record a top-10 award; freeze an account, send its wallet link
//! with a QR code, open it and see the sale refused. Then every tab, at 375 and 1280 px in both
//! languages: a screenshot, no horizontal overflow on the phone, no raw key on a Chinese page.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    an_operator_runs_the_programme_from_the_console => super::operator_journey;
}

const VIEWS: [&str; 13] = [
    "overview",
    "accounts",
    "orders",
    "rules",
    "settlements",
    "members",
    "risk",
    "leaderboard",
    "keys",
    "collectibles",
    "connections",
    "webhooks",
    "finance",
];

pub(crate) fn text_of(browser: &Browser, css: &str) -> String {
    let v = browser.script(
        "const el = document.querySelector(arguments[0]); return el ? el.innerText : ''",
        json!([css]),
    );
    v.as_str().unwrap_or_default().to_string()
}

pub(crate) fn wait_text(browser: &Browser, css: &str, want: &str) {
    let js = format!(
        "return String(!!document.querySelector({css:?}) && document.querySelector({css:?}).innerText.includes({want:?}))"
    );
    browser.wait_for(&js, "true");
}

pub(crate) fn set(browser: &Browser, css: &str, value: &str) {
    browser.script(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1]; \
         el.dispatchEvent(new Event('change')); return true",
        json!([css, value]),
    );
}

pub(crate) fn go(browser: &Browser, view: &str) {
    browser.click(&format!(r#"nav button[data-view="{view}"]"#));
    browser.wait_for(
        &format!("return location.hash === '#{view}' && document.body.dataset.status"),
        "loaded",
    );
}

fn setup(backend: &Backend) -> Server {
    let s = Server::simple(backend);
    create(&s, "op", json!({}));
    let mut commands = vec![json!({"type":"register_merchant","id":"m","account":"shop"})];
    for i in 1..=12u64 {
        let (c, o) = (format!("c{i:02}"), format!("o{i:02}"));
        commands.push(json!({"type":"register_consumer","id":format!("r{i}"),"account":c}));
        commands.push(
            json!({"type":"pay_order","id":format!("p{i}"),"order":o,"consumer":c,
            "merchant":"shop","cash_fen":i * 5_000,"stable_fen":0}),
        );
        commands.push(json!({"type":"confirm_order","id":format!("k{i}"),"order":o}));
    }
    s.post("/v1/economies/op/commands", ADMIN, &Value::Array(commands));
    s
}

fn operator_journey(backend: &Backend) {
    let s = setup(backend);
    let browser = Browser::start();
    browser.resize(1280);
    browser.open(&format!("http://{}/", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    browser.type_into("#key", ADMIN);
    browser.click("#signin-form button[type=submit]");
    browser.wait_for("return document.body.dataset.status", "loaded");
    rules_in_both_languages(&browser);
    tiers_and_a_partner_threshold(&s, &browser);
    a_thousand_members_from_csv(&s, &browser, backend);
    a_top_ten_award(&browser);
    frozen_and_sent_a_wallet_link(&s, &browser);
    every_tab(&s, &browser, backend);
    drop(browser);
    s.stop();
}

fn rules_in_both_languages(browser: &Browser) {
    go(browser, "rules");
    let rules = text_of(browser, "#rules-list");
    assert!(
        rules.contains("买家积分比例") && rules.contains("70 %"),
        "{rules}"
    );
    assert!(
        rules.contains("100 元订单：买家获得价值 21.00 元的积分"),
        "{rules}"
    );
    assert!(
        rules.contains("限制：买家 + 推荐人合计不超过 100 %"),
        "{rules}"
    );
    browser.click("#lang");
    wait_text(browser, "#rules-list", "Buyer's points share");
    let rules = text_of(browser, "#rules-list");
    assert!(rules.contains("points worth 21.00 yuan"), "{rules}");
    set(browser, "#rule-reward_bps", "60");
    browser.click("#rules-form button[type=submit]");
    browser.wait_for(
        "return String(!document.getElementById('whatif').classList.contains('hidden'))",
        "true",
    );
    browser.click("#rules-apply");
    browser.wait_for(
        "return String(document.getElementById('confirm-dialog').open)",
        "true",
    );
    assert!(
        text_of(browser, "#dlg-body").contains("Buyer's points share 70 % → 60 %"),
        "the dialog lists the change"
    );
    browser.click("#dlg-ok");
    wait_text(
        browser,
        "#rules-history",
        "Buyer's points share 70 % → 60 %",
    );
    let row = text_of(browser, "#rules-history tbody tr:first-child");
    assert!(!row.contains('—'), "the key that made it is named: {row}");
    browser.click("#lang");
    wait_text(browser, "#rules-history", "买家积分比例 70 % → 60 %");
}

/// Three tiers by points held (the twelve buyers hold 10.50 to 31.66 points), re-evaluated at each settlement, with a partner threshold.
fn tiers_and_a_partner_threshold(s: &Server, browser: &Browser) {
    let before = s.get("/v1/economies/op/accounts/c12", ADMIN)["tier"]["name_zh"].clone();
    go(browser, "members");
    set(browser, "#tiers-basis", "points");
    set(browser, "#tiers-downgrade", "at_settlement");
    browser.script(
        "const rows = [...document.querySelectorAll('#tiers-table tbody tr')]; \
         rows.slice(3).forEach((r) => r.remove()); \
         const want = [['普通会员','Member','0'],['银卡','Silver','20'],['金卡','Gold','30']]; \
         rows.slice(0, 3).forEach((r, i) => ['name_zh','name_en','min'].forEach((k, j) => \
           { r.querySelector(`[data-key=${k}]`).value = want[i][j]; })); return true",
        json!([]),
    );
    set(browser, "#tiers-partner", "31");
    browser.click("#tiers-save");
    wait_text(browser, "#tiers-note", "已保存");
    browser.wait_for(
        "return String(document.querySelectorAll('#tiers-table tbody tr').length)",
        "3",
    );
    let c12 = s.get("/v1/economies/op/accounts/c12", ADMIN);
    assert_ne!(c12["tier"]["name_zh"], before, "the tier changed");
    assert_eq!(c12["tier"]["name_zh"], "金卡");
    assert_eq!(
        c12["tier"]["partner"], true,
        "31.66 points reach the threshold of 31"
    );
    go(browser, "accounts");
    wait_text(browser, "#accounts-table", "金卡");
    let table = text_of(browser, "#accounts-table");
    assert!(
        table.contains("普通会员") && table.contains("银卡"),
        "{table}"
    );
}

fn a_thousand_members_from_csv(s: &Server, browser: &Browser, backend: &Backend) {
    let dir = crate::common::temp_dir(&format!("journey-csv-{}", backend.name()));
    let good = crate::member_import::members_csv(1000);
    let bad = good.replace("m500,会员 500,,", "m 500,会员 500,,");
    let (good_path, bad_path) = (dir.join("members.csv"), dir.join("members-bad.csv"));
    std::fs::write(&good_path, &good).unwrap();
    std::fs::write(&bad_path, &bad).unwrap();
    go(browser, "members");
    browser.type_into("#import-file", bad_path.to_str().unwrap());
    browser.wait_for(
        "return String(document.getElementById('import-check').disabled)",
        "false",
    );
    browser.click("#import-check");
    wait_text(browser, "#import-result", "发现 1 行有错误");
    let problems = text_of(browser, "#import-problems");
    assert!(
        problems.contains("第 502 行（m 500）：账户名须为"),
        "{problems}"
    );
    assert_eq!(
        browser.script(
            "return String(document.getElementById('import-run').disabled)",
            json!([])
        ),
        "true",
        "a bad file cannot be imported"
    );
    browser.type_into("#import-file", good_path.to_str().unwrap());
    browser.wait_for(
        "return String(document.getElementById('import-check').disabled)",
        "false",
    );
    browser.click("#import-check");
    wait_text(browser, "#import-result", "全部 1,000 行通过检查");
    browser.click("#import-run");
    wait_text(browser, "#import-result", "已导入 1,000 位会员");
    assert_eq!(
        s.get("/v1/economies/op/members/m999", ADMIN)["display_name"],
        "会员 999"
    );
}

fn a_top_ten_award(browser: &Browser) {
    go(browser, "members");
    set(browser, "#award-name", "top10-2026-12");
    set(browser, "#award-top", "10");
    set(browser, "#award-prizes", "金奖,银奖,铜奖,纪念奖");
    browser.click("#award-form button[type=submit]");
    wait_text(browser, "#awards-list", "top10-2026-12");
    let list = browser.script(
        "return document.querySelectorAll('#awards-list li').length",
        json!([]),
    );
    assert_eq!(list, json!(10), "ten places");
    let awards = text_of(browser, "#awards-list");
    assert!(
        awards.contains("c12") && awards.contains("金奖"),
        "{awards}"
    );
}

/// Frozen from its page; its wallet link, made there with a QR code, opens a wallet that says
/// so and refuses a sale in Chinese.
fn frozen_and_sent_a_wallet_link(s: &Server, browser: &Browser) {
    browser.open(&format!("http://{}/#accounts/c10", s.addr));
    browser.wait_for("return document.body.dataset.status", "loaded");
    set(browser, "#freeze-reason", "核查订单");
    browser.click("#freeze-button");
    wait_text(browser, "#ad-frozen", "核查订单");
    set(browser, "#link-ttl", "3600");
    browser.click("#link-form button[type=submit]");
    browser.wait_for(
        "return String(document.getElementById('link-out').hidden)",
        "false",
    );
    browser.wait_for(
        "return String(document.getElementById('link-qr').complete && document.getElementById('link-qr').naturalWidth > 100)",
        "true",
    );
    let link = browser.script(
        "return document.getElementById('link-url').value",
        json!([]),
    );
    let link = link.as_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("http://{}/wallet#t=", s.addr)),
        "{link}"
    );
    browser.open(&link);
    browser.wait_for("return document.body.dataset.status", "loaded");
    wait_text(browser, "#frozen", "账户已冻结：核查订单");
    set(browser, "#amount", "1");
    browser.click("#preview-sell");
    wait_text(browser, "#trade-result", "未执行：账户已冻结");
    browser.open(&format!("http://{}/#overview", s.addr));
    browser.wait_for("return document.body.dataset.status", "loaded");
}

fn every_tab(s: &Server, browser: &Browser, backend: &Backend) {
    for lang in ["zh", "en"] {
        let now = browser.script("return document.documentElement.lang", json!([]));
        if now.as_str().unwrap().starts_with("zh") != (lang == "zh") {
            browser.click("#lang");
        }
        for width in [375, 1280] {
            browser.resize(width);
            for view in VIEWS {
                // A fresh load at this width (the same URL again would not reload).
                browser.open("about:blank");
                browser.open(&format!("http://{}/#{view}", s.addr));
                browser.wait_for("return document.body.dataset.status", "loaded");
                let name = format!("journey-console-{view}-{lang}-{width}px-{}", backend.name());
                check_page(browser, &name, lang, width);
            }
        }
    }
}

/// A page as shown now: a screenshot named `name`; on a phone, no horizontal overflow and no
/// control under 44 px; on a Chinese page, no raw key among the visible words.
pub(crate) fn check_page(browser: &Browser, name: &str, lang: &str, width: u32) {
    browser.screenshot(name);
    if width == 375 {
        let (over, culprits) = browser.overflow();
        assert_eq!(over, 0, "{name} overflows: {culprits:?}");
        assert_eq!(
            browser.small_targets(),
            Vec::<String>::new(),
            "{name}: 44 px"
        );
    }
    if lang == "zh" {
        // Other systems' own field names are shown as code, and are not ours to translate.
        let text = browser.script(
            "const codes = [...document.querySelectorAll('code')]; \
             codes.forEach((c) => { c.dataset.d = c.style.display; c.style.display = 'none'; }); \
             const t = document.body.innerText; \
             codes.forEach((c) => { c.style.display = c.dataset.d; }); return t",
            json!([]),
        );
        let raw = raw_keys(text.as_str().unwrap());
        assert_eq!(raw, Vec::<String>::new(), "{name} shows raw keys");
    }
}
