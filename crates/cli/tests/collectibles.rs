//! Issue 7 end to end on the real binary: the content store, certificates in the browser,
//! gifting across the holding period as the server's clock moves, the exchange outbox against a
//! real receiver on loopback (a crash between commit and delivery; a lost acknowledgement), and
//! what an exchange key may do.

#[macro_use]
mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;
mod web;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::Backend;
use web::*;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xfc, 0xcf, 0xc0, 0x50,
    0x0f, 0x00, 0x04, 0x85, 0x01, 0x80, 0x84, 0xa9, 0x8c, 0x21, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
const DAY_MS: i64 = 86_400_000;
/// 2026-06-01T00:00:00Z.
const T0: i64 = 1_780_272_000_000;
const SECRET: &str = "venue-shared-secret-0123456789";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn put_content(s: &Server, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut req = format!(
        "PUT /v1/economies/j/content HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    let (status, text) = s.raw(&req);
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET without a key; the status, the content type and the body's bytes.
fn get_bytes(s: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let kind = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, kind, out[split + 4..].to_vec())
}

/// A stand-in for the exchange, on a fake venue: checks each event's signature (by Python's
/// hmac and the standardwebhooks package), and applies each event id once.
struct Exchange {
    venue: FakeVenue,
    /// 0: answer 503 to everything; 1: apply, then answer 500 once (a lost acknowledgement),
    /// then 200; 2: apply and answer 200.
    mode: Arc<AtomicU8>,
    applied: Arc<Mutex<Vec<Value>>>,
}

impl Exchange {
    fn start() -> Exchange {
        let mode = Arc::new(AtomicU8::new(0));
        let applied: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen: Mutex<(HashSet<String>, bool)> = Mutex::default();
        let (m, a) = (mode.clone(), applied.clone());
        let venue = FakeVenue::start(move |d: &Delivery| {
            if m.load(Ordering::SeqCst) == 0 {
                return (503, vec![]);
            }
            if !common::webhook_signed(SECRET, &d.headers, &d.body) {
                return (401, vec![]);
            }
            let event: Value = serde_json::from_slice(&d.body).unwrap();
            let id = d.header("webhook-id");
            assert_eq!(event["event_id"], id.as_str());
            let mut seen = seen.lock().unwrap();
            // The application applies each event id once.
            if seen.0.insert(id) {
                a.lock().unwrap().push(event);
            }
            if m.load(Ordering::SeqCst) == 1 && !seen.1 {
                seen.1 = true;
                return (500, vec![]);
            }
            (200, vec![])
        });
        Exchange {
            venue,
            mode,
            applied,
        }
    }

    /// The deliveries that checked out, and those refused (401).
    fn answered(&self, status: u16) -> usize {
        let received = self.venue.received.lock().unwrap().clone();
        received
            .iter()
            .filter(|d| (status == 401) != common::webhook_signed(SECRET, &d.headers, &d.body))
            .count()
    }

    /// Sends `body` signed as given to the stand-in, as a forger would; answers the status.
    fn forge(&self, body: &[u8], id: &str, timestamp: &str, signature: &str) -> u16 {
        let headers = [
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature.to_string()),
        ];
        let body = String::from_utf8(body.to_vec()).unwrap();
        common::http(&self.venue.addr, "POST", "/", &headers, &body)
            .unwrap()
            .0
    }
}

fn outcome(v: &Value) -> &Value {
    &v["outcomes"][0]
}

fn send(s: &Server, key: &str, c: Value) -> Value {
    s.post("/v1/economies/j/commands", key, &c)
}

on_both_backends! {
    collectibles_end_to_end => crate::collectibles;
}

/// Economy `j` on a server whose clock stands at T0: a shop, ann and ben, each with a
/// confirmed order.
fn start(backend: &Backend) -> (Server, PathBuf) {
    let clock = std::env::temp_dir().join(format!(
        "jifen-collectibles-clock-{}-{}",
        backend.name(),
        std::process::id()
    ));
    write_clock(&clock, T0);
    let s = Server::start(&opts(backend, &clock));
    create(&s, "j", json!({}));
    send(
        &s,
        ADMIN,
        json!([
            {"type":"register_merchant","id":"1","account":"shop"},
            {"type":"register_consumer","id":"2","account":"ann"},
            {"type":"register_consumer","id":"3","account":"ben"},
            {"type":"pay_order","id":"4","order":"ring-1","consumer":"ann","merchant":"shop","cash_fen":500000,"stable_fen":0},
            {"type":"confirm_order","id":"5","order":"ring-1"},
            {"type":"pay_order","id":"6","order":"ring-2","consumer":"ben","merchant":"shop","cash_fen":300000,"stable_fen":0},
            {"type":"confirm_order","id":"7","order":"ring-2"},
        ]),
    );
    // The server set the economy clock itself, before the first batch.
    let state = s.get("/v1/economies/j/state", ADMIN);
    assert_eq!(state["clock"], T0 / 1000);
    (s, clock)
}

fn opts<'a>(backend: &'a Backend, clock: &'a PathBuf) -> Opts<'a> {
    let mut opts = Opts::with_clock(backend, clock);
    // The test's venue listens on loopback.
    opts.extra.push("--allow-private-targets");
    opts
}

/// The content store: an image round trip by its hash, bounds on size and type, and bytes
/// changed in the store never served under their old name. Answers the image's hash.
fn the_content_store(s: &Server, backend: &Backend) -> String {
    let (status, stored) = put_content(s, "image/png", PNG);
    assert_eq!(status, 201, "{stored}");
    let sha = stored["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha, sha256_hex(PNG));
    let (status, kind, bytes) = get_bytes(s, &format!("/v1/content/{sha}"));
    assert_eq!((status, kind.as_str()), (200, "image/png"), "no key needed");
    assert_eq!(bytes, PNG, "the round trip gives the same bytes");
    assert_eq!(sha256_hex(&bytes), sha, "served bytes match their name");
    let mut big = PNG.to_vec();
    big.resize(10 * 1024 * 1024 + 1, 0);
    assert_eq!(put_content(s, "image/png", &big).0, 413, "over 10 MiB");
    let (status, v) = put_content(s, "text/plain", b"hello");
    assert_eq!(status, 415, "{v}");
    let (status, v) = put_content(s, "image/png", b"%PDF-1.7 not a png");
    assert_eq!(status, 415, "a type the bytes do not have: {v}");
    assert_eq!(
        get_bytes(s, &format!("/v1/content/{}", "0".repeat(64))).0,
        404
    );
    let pdf = b"%PDF-1.4\n% a certificate of authenticity\n%%EOF\n";
    let (status, doc) = put_content(s, "application/pdf", pdf);
    assert_eq!(status, 201, "{doc}");
    // Bytes changed in the store behind the server's back are never served under the old name.
    let doc_sha = doc["sha256"].as_str().unwrap().to_string();
    let forged: &[u8] = b"%PDF-1.4\n% a different document\n%%EOF\n";
    match backend {
        Backend::Sqlite { dir } => {
            let db = rusqlite::Connection::open(dir.join("jifen.sqlite3")).unwrap();
            db.execute(
                "UPDATE content SET data = ?1 WHERE sha256 = ?2",
                rusqlite::params![forged, doc_sha],
            )
            .unwrap();
        }
        Backend::Postgres { url, .. } => {
            let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
            db.execute(
                "UPDATE content SET data = $1 WHERE sha256 = $2",
                &[&forged, &doc_sha],
            )
            .unwrap();
        }
    }
    let (status, _, body) = get_bytes(s, &format!("/v1/content/{doc_sha}"));
    assert_eq!(status, 500, "tampered content is refused");
    assert!(
        !body.windows(9).any(|w| w == b"different"),
        "and never served"
    );

    sha
}

/// A certificate, its public record, and the page that checks its content in the browser.
fn the_certificate_page(s: &Server, backend: &Backend, browser: &Browser, sha: &str) {
    let r = send(
        s,
        ADMIN,
        json!({"type":"issue_certificate","id":"cert","collectible":"cert-ring-1","order":"ring-1","series":"pearl-2026","content_sha256":sha}),
    );
    assert_eq!(outcome(&r)["ok"], true, "{r}");
    let public = get_bytes(s, "/v1/public/j/collectibles/cert-ring-1");
    assert_eq!(public.0, 200);
    let public: Value = serde_json::from_slice(&public.2).unwrap();
    assert_eq!(public["owner_masked"], "a***");
    assert_eq!(public["history"][0]["type"], "issue_certificate");

    let dir = std::env::temp_dir().join(format!(
        "jifen-collectibles-{}-{}",
        backend.name(),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (true_file, modified) = (dir.join("ring.png"), dir.join("ring-modified.png"));
    std::fs::write(&true_file, PNG).unwrap();
    let mut changed = PNG.to_vec();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&modified, &changed).unwrap();
    browser.resize(1280);
    browser.open(&format!("http://{}/c/j/cert-ring-1", s.addr));
    browser.wait_for("return document.body.dataset.status", "loaded");
    browser.wait_for(
        "return String(!!document.querySelector('#piece img') && document.querySelector('#piece img').complete)",
        "true",
    );
    browser.click("#verify");
    browser.wait_for(
        "return document.getElementById('verdict').dataset.verify || ''",
        "ok",
    );
    browser.type_into("#file", modified.to_str().unwrap());
    browser.wait_for(
        "return document.getElementById('file-verdict').dataset.verify || ''",
        "failed",
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.screenshot(&format!("certificate-{width}px-{}", backend.name()));
        if width == 375 {
            let (over, culprits) = browser.overflow();
            assert_eq!(over, 0, "the certificate overflows 375 px: {culprits:?}");
            assert_eq!(
                browser.small_targets(),
                Vec::<String>::new(),
                "44 px targets"
            );
        }
        browser.click("#lang");
        browser.wait_for("return document.documentElement.lang", "en");
        browser.screenshot(&format!("certificate-en-{width}px-{}", backend.name()));
        browser.click("#lang");
    }
    browser.type_into("#file", true_file.to_str().unwrap());
    browser.wait_for(
        "return document.getElementById('file-verdict').dataset.verify || ''",
        "ok",
    );
    assert_eq!(browser.accessibility_problems(), Vec::<String>::new());
    assert_eq!(browser.console_problems(), Vec::<String>::new());
}

/// A collectible minted from ann's points, refused as a gift inside its holding period (180
/// days), with the countdown in her wallet, and given once it is over. Answers its atoms.
fn gifting_across_the_holding_period(
    s: &Server,
    clock: &PathBuf,
    browser: &Browser,
    sha: &str,
    backend: &Backend,
) -> u64 {
    let ann = s.get("/v1/economies/j/accounts/ann", ADMIN);
    let half = ann["atoms"].as_u64().unwrap() / 2;
    let r = send(
        s,
        ADMIN,
        json!({"type":"mint_collectible","id":"mint-1","collectible":"pearl-1","account":"ann","series":"pearl-2026","atoms":half,"content_sha256":sha}),
    );
    assert_eq!(outcome(&r)["ok"], true, "{r}");
    let ann_after = s.get("/v1/economies/j/accounts/ann", ADMIN);
    assert_eq!(
        ann_after["atoms"].as_u64().unwrap(),
        ann["atoms"].as_u64().unwrap() - half
    );
    write_clock(clock, T0 + 30 * DAY_MS);
    let r = send(
        s,
        ADMIN,
        json!({"type":"gift_collectible","id":"gift-early","collectible":"pearl-1","to":"ben"}),
    );
    assert_eq!(outcome(&r)["code"], "holding_period", "{r}");
    assert_eq!(
        outcome(&r)["opens_at"],
        "2026-11-28T00:00:00Z",
        "the refusal says when gifting opens: {r}"
    );
    // The wallet shows the countdown.
    let link = s.post(
        "/v1/economies/j/wallet-links",
        ADMIN,
        &json!({"account": "ann"}),
    );
    let token = link["token"].as_str().unwrap();
    let (status, body) = s.raw(
        format!("GET /v1/wallet/collectibles HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wallet-Token: {token}\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let mine: Value = serde_json::from_str(&body).unwrap();
    let pearl = mine["collectibles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["collectible"] == "pearl-1")
        .unwrap()
        .clone();
    assert_eq!(pearl["giftable_in_s"], 150 * 86_400, "{pearl}");
    assert_eq!(pearl["atoms"], half);
    browser.open(&format!(
        "http://{}{}",
        s.addr,
        link["url"].as_str().unwrap()
    ));
    browser.wait_for("return document.body.dataset.status", "loaded");
    browser.wait_for(
        "return String(!!document.querySelector('#collectible-list li[data-collectible=\"pearl-1\"]'))",
        "true",
    );
    let shown = browser.script(
        "return document.querySelector('#collectible-list li[data-collectible=\"pearl-1\"]').innerText",
        json!([]),
    );
    assert!(
        shown.as_str().unwrap().contains("150"),
        "the countdown in days: {shown}"
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.script(
            "document.getElementById('collectibles-card').scrollIntoView(); return true",
            json!([]),
        );
        browser.capture(&format!("wallet-collectibles-{width}px-{}", backend.name()));
    }
    assert_eq!(browser.console_problems(), Vec::<String>::new());
    write_clock(clock, T0 + 181 * DAY_MS);
    let r = send(
        s,
        ADMIN,
        json!({"type":"gift_collectible","id":"gift-late","collectible":"pearl-1","to":"ben"}),
    );
    assert_eq!(outcome(&r)["ok"], true, "after the holding period: {r}");
    let ben = s.get("/v1/economies/j/accounts/ben", ADMIN);
    assert_eq!(ben["locked_atoms"], half, "{ben}");

    half
}

/// An export announced to the venue: while the venue is down the event waits, visibly; a crash
/// between the commit and the delivery, then a lost acknowledgement, still apply it exactly
/// once; and forged or tampered events are refused by the venue's check. Answers the server
/// restarted on the way.
fn an_export_reaches_the_venue_once(
    s: Server,
    backend: &Backend,
    clock: &PathBuf,
    exchange: &Exchange,
) -> Server {
    let url = format!("http://{}/events", exchange.venue.addr);
    let (status, _) = s.call(
        "PUT",
        "/v1/economies/j/venues/culture-exchange",
        Some(ADMIN),
        Some(&json!({"url": url, "secret": SECRET}).to_string()),
    );
    assert_eq!(status, 200);
    let export = json!({"type":"export_collectible","id":"ex-0","collectible":"pearl-1","venue":"culture-exchange"});
    let r = send(&s, ADMIN, export);
    assert_eq!(
        outcome(&r)["code"],
        "exchange_disabled",
        "off by default: {r}"
    );
    send(
        &s,
        ADMIN,
        json!({"type":"set_collectible_policy","id":"policy-1","policy":{"gifting_enabled":true,"gift_hold_days":180,"exchange_enabled":true}}),
    );
    let r = send(
        &s,
        ADMIN,
        json!({"type":"export_collectible","id":"ex-1","collectible":"pearl-1","venue":"culture-exchange"}),
    );
    assert_eq!(outcome(&r)["ok"], true, "{r}");
    let export_seq = outcome(&r)["seq"].as_u64().unwrap();
    // The venue is down: the event waits, with its attempts and error visible.
    let outbox = |s: &Server| s.get("/v1/economies/j/outbox", ADMIN)["venues"][0].clone();
    eventually("a failed attempt in the outbox status", || {
        outbox(&s)["waiting"]["attempts"].as_u64().unwrap_or(0) >= 1
    });
    let v = outbox(&s);
    assert_eq!(v["waiting"]["seq"], export_seq, "{v}");
    assert!(v["waiting"]["last_error"].as_str().unwrap().contains("503"));
    // An SRE sees the waiting export in /metrics (issue 26): the outbox is behind, for a while.
    let (_, metrics) = s.metrics();
    let series = |name: &str| -> f64 {
        let prefix = format!("{name}{{economy=\"j\",venue=\"culture-exchange\"}} ");
        (metrics.lines())
            .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert!(series("jifen_outbox_lag_events") >= 1.0);
    assert!(series("jifen_outbox_lag_seconds") > 0.0);
    // A crash between the commit and the delivery.
    drop(s);
    // The venue comes up, and loses its first acknowledgement.
    exchange.mode.store(1, Ordering::SeqCst);
    let s = Server::start(&opts(backend, clock));
    eventually("the event delivered after the restart", || {
        let v = outbox(&s);
        v["delivered_through_seq"].as_u64().unwrap_or(0) >= export_seq && v["waiting"].is_null()
    });
    assert!(
        exchange.answered(200) >= 2,
        "the lost acknowledgement made the server deliver again"
    );
    let applied = exchange.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 1, "applied exactly once: {applied:?}");
    assert_eq!(applied[0]["collectible"], "pearl-1");
    assert_eq!(applied[0]["seq"], export_seq);
    assert_eq!(applied[0]["facts"]["series"], "pearl-2026");
    a_forged_event_is_refused(exchange);
    s
}

/// A wrong signature, and a tampered body under a true signature, are refused.
fn a_forged_event_is_refused(exchange: &Exchange) {
    let last = exchange
        .venue
        .received
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let (id, timestamp) = (last.header("webhook-id"), last.header("webhook-timestamp"));
    let signature = last.header("webhook-signature");
    assert_eq!(exchange.forge(&last.body, &id, &timestamp, "v1,AAAA"), 401);
    let tampered = String::from_utf8(last.body.clone())
        .unwrap()
        .replace("pearl-1", "pearl-9");
    assert_eq!(
        exchange.forge(tampered.as_bytes(), &id, &timestamp, &signature),
        401
    );
    assert_eq!(exchange.answered(401), 2);
    assert_eq!(exchange.applied.lock().unwrap().len(), 1);
}

/// An exchange key may only return what is exported to its venue, and nothing else.
fn an_exchange_key_only_returns_its_exports(s: &Server) {
    let key = s.post(
        "/v1/economies/j/keys",
        ADMIN,
        &json!({"role": "exchange", "venue": "culture-exchange"}),
    );
    let exchange = key["key"].as_str().unwrap().to_string();
    for (method, path, body) in [
        ("GET", "/v1/economies/j", None),
        ("GET", "/v1/economies/j/state", None),
        ("GET", "/v1/economies/j/accounts/ann", None),
        ("GET", "/v1/economies/j/outbox", None),
        (
            "POST",
            "/v1/economies/j/commands",
            Some(json!({"type":"register_consumer","id":"x1","account":"mallory"})),
        ),
        (
            "POST",
            "/v1/economies/j/commands",
            Some(json!({"type":"gift_collectible","id":"x2","collectible":"pearl-1","to":"ann"})),
        ),
        (
            "POST",
            "/v1/economies/j/commands",
            Some(
                json!({"type":"return_collectible","id":"x3","collectible":"cert-ring-1","to":"ann"}),
            ),
        ),
        (
            "PUT",
            "/v1/economies/j/venues/other",
            Some(json!({"url":"http://x","secret":SECRET})),
        ),
    ] {
        let (status, v) = s.call(
            method,
            path,
            Some(&exchange),
            body.map(|b| b.to_string()).as_deref(),
        );
        assert_eq!(status, 403, "an exchange key: {method} {path}: {v}");
    }
    let r = send(
        s,
        &exchange,
        json!({"type":"return_collectible","id":"back-1","collectible":"pearl-1","to":"ann"}),
    );
    assert_eq!(outcome(&r)["ok"], true, "{r}");
    let state = s.get("/v1/economies/j/state", ADMIN);
    assert_eq!(state["collectibles"]["pearl-1"]["owner"], "ann");
    assert_eq!(state["collectibles"]["pearl-1"]["state"], "held");
}

fn collectibles(backend: &Backend) {
    let (s, clock) = start(backend);
    let sha = the_content_store(&s, backend);
    let browser = Browser::start();
    the_certificate_page(&s, backend, &browser, &sha);
    gifting_across_the_holding_period(&s, &clock, &browser, &sha, backend);
    drop(browser);
    let exchange = Exchange::start();
    let s = an_export_reaches_the_venue_once(s, backend, &clock, &exchange);
    an_exchange_key_only_returns_its_exports(&s);
    s.stop();
    // Every holding period replays from the journal: verify re-derives it all.
    let (out, text) =
        common::run(
            common::jifen()
                .args(backend.cli_args())
                .args(["verify", "--economy", "j"]),
        );
    assert!(out.status.success(), "{text}");
    let _ = std::fs::remove_file(&clock);
}
