//! Issue 8's browser check, in issue 6's wallet: a consumer's wallet link shows their entries
//! as included in the signed record; the verify button checks the inclusion proof in the
//! browser and turns green for a real entry, and red when fed a tampered proof. A link reaches
//! its own account only, and not once tampered with or expired.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    a_link_reaches_its_own_account_only => super::a_link_reaches_its_own_account_only;
    the_wallet_verifies_an_entry_in_the_browser => super::wallet_in_browser;
}

/// Economy `w` with alice's and bob's orders, a signed head, and a link to alice's wallet.
struct Fixture {
    s: Server,
    link: Value,
    token: String,
    alice_order: u64,
    bob_order: u64,
}

impl Fixture {
    fn new(backend: &Backend) -> Fixture {
        let s = Server::simple(backend);
        create(&s, "w", json!({}));
        let sent = s.post("/v1/economies/w/commands", ADMIN, &json!([
            {"type":"register_merchant","id":"1","account":"shop"},
            {"type":"register_consumer","id":"2","account":"alice"},
            {"type":"register_consumer","id":"3","account":"bob"},
            {"type":"pay_order","id":"4","order":"o1","consumer":"alice","merchant":"shop","cash_fen":50000,"stable_fen":0},
            {"type":"confirm_order","id":"5","order":"o1"},
            {"type":"pay_order","id":"6","order":"o2","consumer":"bob","merchant":"shop","cash_fen":20000,"stable_fen":0},
        ]));
        // Seqs as journaled (the server's own `advance_clock` comes first).
        let seq_of = |i: usize| sent["outcomes"][i]["seq"].as_u64().unwrap();
        let (alice_order, bob_order) = (seq_of(3), seq_of(5));
        s.post("/v1/economies/w/tree-heads", ADMIN, &json!({}));
        let link = s.post(
            "/v1/economies/w/wallet-links",
            ADMIN,
            &json!({"account": "alice"}),
        );
        let token = link["token"].as_str().unwrap().to_string();
        Fixture {
            s,
            link,
            token,
            alice_order,
            bob_order,
        }
    }

    /// A wallet request with `token`: the status and the body.
    fn wallet(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
        let mut headers = vec![("X-Wallet-Token", token.to_string())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json".into()));
        }
        let (status, text) =
            crate::common::http(&self.s.addr, method, path, &headers, body.unwrap_or("")).unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn proof(&self, seq: u64) -> (u16, Value) {
        self.wallet(
            "GET",
            &format!("/v1/wallet/proof?seq={seq}"),
            &self.token,
            None,
        )
    }
}

fn a_link_reaches_its_own_account_only(backend: &Backend) {
    let f = Fixture::new(backend);
    let (status, _) = f.s.call("GET", "/v1/wallet", None, None);
    assert_eq!(status, 401);
    assert_eq!(f.proof(f.alice_order).0, 200, "alice's own order");
    assert_eq!(
        f.proof(f.bob_order).0,
        404,
        "bob's order is not alice's to see"
    );
    // Naming another account in a request is refused.
    let body = r#"{"action":"sell","atoms":1,"account":"bob"}"#;
    let (status, _) = f.wallet("POST", "/v1/wallet/quote", &f.token, Some(body));
    assert_eq!(status, 422, "a wallet request naming another account");
    // A tampered link, and an expired one, are refused.
    assert_eq!(f.wallet("GET", "/v1/wallet", &f.token, None).0, 200);
    let (payload, mac) = f.token.split_once('.').unwrap();
    let bob_payload = hex::encode(
        String::from_utf8(hex::decode(payload).unwrap())
            .unwrap()
            .replace("alice", "bob"),
    );
    let tampered = format!("{bob_payload}.{mac}");
    assert_eq!(
        f.wallet("GET", "/v1/wallet", &tampered, None).0,
        401,
        "tampered"
    );
    let short = f.s.post(
        "/v1/economies/w/wallet-links",
        ADMIN,
        &json!({"account": "alice", "ttl_s": 1}),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let expired = short["token"].as_str().unwrap();
    assert_eq!(
        f.wallet("GET", "/v1/wallet", expired, None).0,
        401,
        "expired"
    );
    f.s.stop();
}

/// The verify button: green for the real proof, red for a tampered one.
fn verify_turns_green_then_red(f: &Fixture, browser: &Browser) {
    let badge = format!(
        r#"return document.querySelector('li[data-seq="{}"] .badge').dataset.verify || ''"#,
        f.alice_order
    );
    browser.click(&format!(
        r#"li[data-seq="{}"] button.verify"#,
        f.alice_order
    ));
    browser.wait_for(&badge, "ok");
    let mut tampered = f.proof(f.alice_order).1;
    let first = tampered["proof"][0].as_str().unwrap().to_string();
    let flipped = if first.starts_with('0') { "1" } else { "0" };
    tampered["proof"][0] = json!(format!("{flipped}{}", &first[1..]));
    browser.script(
        "window.jifenWallet.verify(arguments[1], arguments[0]); return true",
        json!([tampered, f.alice_order]),
    );
    browser.wait_for(&badge, "failed");
}

/// Sell one point: the preview is the engine's own figure, confirming applies it, and the page
/// shows the API's balances after.
fn a_sale_previewed_then_made(f: &Fixture, browser: &Browser) {
    let body = r#"{"action":"sell","atoms":100000000}"#;
    let (status, quote) = f.wallet("POST", "/v1/wallet/quote", &f.token, Some(body));
    assert_eq!(status, 200, "{quote}");
    let net = quote["net_fen"].as_u64().unwrap();
    browser.script(
        "document.getElementById('amount').value = '1'; return true",
        json!([]),
    );
    browser.click("#preview-sell");
    browser.wait_for(
        "return String(document.getElementById('preview').hidden)",
        "false",
    );
    browser.wait_for(
        "return document.getElementById('q-net').textContent",
        &format!("{}.{:02}", net / 100, net % 100),
    );
    let atoms = || {
        f.s.get("/v1/economies/w/accounts/alice", ADMIN)["atoms"]
            .as_u64()
            .unwrap()
    };
    let before = atoms();
    browser.click("#confirm");
    browser.wait_for(
        "return document.getElementById('trade-result').dataset.outcome || ''",
        "ok",
    );
    assert_eq!(before - atoms(), 100_000_000, "one point sold");
    let account = f.s.get("/v1/economies/w/accounts/alice", ADMIN);
    browser.wait_for(
        "return document.getElementById('points').title",
        account["points"].as_str().unwrap(),
    );
    let stable = account["stable_fen"].as_u64().unwrap();
    assert_eq!(
        browser.script(
            "return document.getElementById('stable').textContent",
            json!([])
        ),
        format!("{}.{:02}", stable / 100, stable % 100)
    );
}

fn wallet_in_browser(backend: &Backend) {
    let f = Fixture::new(backend);
    let last = f.bob_order;
    let browser = Browser::start();
    browser.open(&format!(
        "http://{}{}",
        f.s.addr,
        f.link["url"].as_str().unwrap()
    ));
    browser.wait_for("return document.body.dataset.status", "loaded");
    // The price chart is drawn by uPlot, embedded in the page (no network).
    browser.wait_for(
        "return String(!!document.querySelector('#chart .uplot canvas'))",
        "true",
    );
    let text = browser.script("return document.body.innerText", json!([]));
    let text = text.as_str().unwrap();
    assert!(
        text.contains("额度是上限，只从回馈池支付，不是承诺") && !text.contains("分红"),
        "neutral words, never 分红 (dividend): {text}"
    );
    assert!(
        text.contains(&format!("已收录于签名记录 #{last}")),
        "{text}"
    );
    verify_turns_green_then_red(&f, &browser);
    browser.screenshot(&format!("wallet-375px-{}", backend.name()));
    a_sale_previewed_then_made(&f, &browser);
    // English on request.
    browser.click("#lang");
    let text = browser.script("return document.body.innerText", json!([]));
    let text = text.as_str().unwrap();
    assert!(
        text.contains("A cap, paid only from the reward pool, not a promise")
            && !text.to_lowercase().contains("dividend"),
        "{text}"
    );
    browser.resize(1280);
    browser.screenshot(&format!("wallet-1280px-{}", backend.name()));
    assert_eq!(browser.accessibility_problems(), Vec::<String>::new());
    assert_eq!(browser.console_problems(), Vec::<String>::new());
    drop(browser);
    f.s.stop();
}
