//! Operator webhooks end to end: the real binary delivers to a real receiver on loopback
//! (`tests/support/webhook_receiver.py`), which checks every signature with the
//! `standardwebhooks` package and Python's hmac and every event against the schema the OpenAPI
//! document declares. What it receives is compared with what the journal implies, derived here
//! from `GET …/events` and the SPEC §11 state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    every_event_the_journal_implies_arrives_signed_in_order => super::every_event;
    the_list_answers_while_a_paused_subscription_falls_behind => super::paused_behind;
}

/// A receiver process and its files.
pub struct Receiver {
    dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Receiver {
    /// A receiver (not yet listening) that checks events against `openapi`.
    pub fn new(name: &str, openapi: &Value) -> Receiver {
        let dir = common::temp_dir(&format!("webhook-receiver-{name}"));
        std::fs::write(dir.join("openapi.json"), openapi.to_string()).unwrap();
        std::fs::write(dir.join("secrets.json"), "[]").unwrap();
        std::fs::write(dir.join("control"), "ok").unwrap();
        std::fs::write(dir.join("out.jsonl"), "").unwrap();
        Receiver {
            dir,
            port: common::free_port(),
            child: None,
        }
    }

    pub fn spawn(&mut self) {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/webhook_receiver.py");
        let mut child = Command::new(common::python())
            .arg(script)
            .arg(self.port.to_string())
            .args(
                ["out.jsonl", "secrets.json", "openapi.json", "control"].map(|f| self.dir.join(f)),
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening", "the receiver did not start");
        self.child = Some(child);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn set_secrets(&self, secrets: &[&str]) {
        std::fs::write(self.dir.join("secrets.json"), json!(secrets).to_string()).unwrap();
    }

    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("control"), mode).unwrap();
    }

    /// Every event received with a valid signature, in the order received.
    pub fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("out.jsonl"))
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn openapi(s: &Server) -> Value {
    s.get("/v1/openapi.json", ADMIN)
}

/// A subscription of `eco` to every event: its secret.
pub fn subscribe(s: &Server, eco: &str, id: &str, url: &str, batch: usize) -> String {
    let made = s.post(
        &format!("/v1/economies/{eco}/webhooks"),
        ADMIN,
        &json!({"id": id, "url": url, "events": ["*"], "batch": batch}),
    );
    let secret = made["secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    assert!(secret.starts_with("whsec_"), "{made}");
    secret
}

/// The commands of a conformance vector, as JSON values.
pub fn vector_commands(name: &str) -> (Value, Vec<Value>) {
    let dir = common::shared().join("golden-collectibles").join(name);
    let lines = std::fs::read_to_string(dir.join("commands.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| Value::String(l.to_string())))
        .collect();
    (rules_json(&dir.join("rules.toml")), lines)
}

pub fn submit(s: &Server, eco: &str, commands: &[Value]) {
    for batch in commands.chunks(97) {
        s.post(
            &format!("/v1/economies/{eco}/commands"),
            ADMIN,
            &Value::Array(batch.to_vec()),
        );
    }
}

/// The economy's whole journal, from `GET …/events`.
pub fn journal(s: &Server, eco: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |e: &Value| e["seq"].as_u64().unwrap());
        let page = s.get(
            &format!("/v1/economies/{eco}/events?after={after}&limit=1000"),
            ADMIN,
        );
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            return out;
        }
        out.extend(events.iter().cloned());
    }
}

fn position(e: &Value) -> (u64, u64) {
    let id = e["id"].as_str().unwrap();
    let mut parts = id.rsplit(':');
    let n = parts.next().unwrap().parse().unwrap();
    let seq = parts.next().unwrap().parse().unwrap();
    assert_eq!(seq, e["seq"].as_u64().unwrap(), "{id} names its seq");
    (seq, n)
}

/// The events received, each once (by id), after checking that each arrived with a valid
/// signature and a body of its declared schema, and that first arrivals are in order.
pub fn deduplicated(received: &[Value]) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out: Vec<Value> = Vec::new();
    for r in received {
        assert!(r["schema_error"].is_null(), "{r}");
        let e = &r["event"];
        if e["type"] == "webhook.ping" || !seen.insert(e["id"].as_str().unwrap().to_string()) {
            continue;
        }
        if let Some(last) = out.last() {
            assert!(
                position(last) < position(e),
                "out of order: {} then {}",
                last["id"],
                e["id"]
            );
        }
        out.push(e.clone());
    }
    out
}

/// The event each accepted command of these types implies, by the command's field it names.
const PRIMARY: [(&str, &str, &str); 12] = [
    ("pay_order", "order.paid", "order"),
    ("confirm_order", "order.confirmed", "order"),
    ("refund_order", "order.refunded", "order"),
    ("sell", "sale.completed", "account"),
    ("convert_to_stable", "stable.converted", "account"),
    ("redeem_stable", "stable.redeemed", "account"),
    ("settle_dividends", "settlement.completed", "day"),
    ("mint_collectible", "collectible.minted", "collectible"),
    ("issue_certificate", "collectible.minted", "collectible"),
    ("gift_collectible", "collectible.gifted", "collectible"),
    ("export_collectible", "collectible.exported", "collectible"),
    ("return_collectible", "collectible.returned", "collectible"),
];

/// Checks `events` (each once, in order) against the journal and the state of `eco`: one event
/// per accepted command of a type that has one, naming what the command named; dividends and
/// exits per account as the state counts them; points granted as issued.
pub fn check_against_journal(s: &Server, eco: &str, events: &[Value]) {
    let entries = journal(s, eco);
    let mut by_seq: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for e in events {
        by_seq
            .entry(e["seq"].as_u64().unwrap())
            .or_default()
            .push(e);
    }
    let primary: HashMap<&str, (&str, &str)> =
        PRIMARY.iter().map(|(c, e, f)| (*c, (*e, *f))).collect();
    let mut implied = 0;
    for entry in &entries {
        let seq = entry["seq"].as_u64().unwrap();
        let here = by_seq.get(&seq).cloned().unwrap_or_default();
        let command = &entry["command"];
        let want = primary
            .get(command["type"].as_str().unwrap_or(""))
            .filter(|_| entry["outcome"]["ok"] == true);
        let kinds: HashSet<&str> = PRIMARY.iter().map(|p| p.1).collect();
        let got: Vec<&&Value> = here
            .iter()
            .filter(|e| kinds.contains(e["type"].as_str().unwrap()))
            .collect();
        match want {
            Some((kind, field)) => {
                implied += 1;
                assert_eq!(
                    got.len(),
                    1,
                    "seq {seq} ({command}) implies one {kind}: {got:?}"
                );
                assert_eq!(got[0]["type"], *kind, "seq {seq}");
                let named = if *field == "day" {
                    &got[0]["data"]["day"]
                } else {
                    &got[0]["data"][*field]
                };
                assert_eq!(named, &command[*field], "seq {seq}: {}", got[0]);
            }
            None => assert!(
                got.is_empty(),
                "seq {seq} ({command}) implies none: {got:?}"
            ),
        }
        assert!(
            here.is_empty() || entry["outcome"]["ok"] == true,
            "a rejected command has no events: seq {seq}"
        );
    }
    assert!(implied > 100, "a mixed run: {implied} commands with events");
    check_effects(s, eco, events);
}

fn check_effects(s: &Server, eco: &str, events: &[Value]) {
    let state = s.get(&format!("/v1/economies/{eco}/state"), ADMIN);
    let mut dividends: HashMap<String, u64> = HashMap::new();
    let mut exits: HashMap<String, u64> = HashMap::new();
    let (mut issued, mut per_day) = (0u64, HashMap::new());
    for e in events {
        let d = &e["data"];
        let account = d["account"].as_str().unwrap_or("").to_string();
        match e["type"].as_str().unwrap() {
            "dividend.paid" => {
                *dividends.entry(account).or_default() += d["paid_fen"].as_u64().unwrap();
                *per_day.entry(e["seq"].as_u64().unwrap()).or_insert(0u64) +=
                    d["paid_fen"].as_u64().unwrap();
            }
            "consumer.exited" => *exits.entry(account).or_default() += 1,
            "points.granted" => {
                issued += d["atoms"].as_u64().unwrap() - d["from_treasury_atoms"].as_u64().unwrap()
            }
            "settlement.completed" => {
                let paid = per_day
                    .get(&e["seq"].as_u64().unwrap())
                    .copied()
                    .unwrap_or(0);
                assert_eq!(d["paid_fen"].as_u64().unwrap(), paid, "{e}");
            }
            _ => {}
        }
    }
    for (name, a) in state["accounts"].as_object().unwrap() {
        let got = dividends.get(name).copied().unwrap_or(0);
        assert_eq!(
            a["dividends_fen"].as_u64().unwrap(),
            got,
            "{name}'s dividends"
        );
        assert_eq!(
            a["exits"].as_u64().unwrap(),
            exits.get(name).copied().unwrap_or(0),
            "{name}'s exits"
        );
    }
    assert!(
        exits.values().sum::<u64>() > 0 && !dividends.is_empty(),
        "exits and dividends happened"
    );
    assert_eq!(
        state["issued_atoms"].as_u64().unwrap(),
        issued,
        "points granted are points issued"
    );
}

/// Waits until the receiver has every event through the journal's head.
pub fn wait_delivered(s: &Server, eco: &str, receiver: &Receiver, within: Duration) -> Vec<Value> {
    let head = journal(s, eco)
        .last()
        .map_or(0, |e| e["seq"].as_u64().unwrap());
    let deadline = Instant::now() + within;
    loop {
        let list = s.get(&format!("/v1/economies/{eco}/webhooks"), ADMIN);
        let done = list["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["cursor"]["seq"].as_u64().unwrap_or(0) > head && w["lag_events"] == 0);
        if done {
            return receiver.received();
        }
        assert!(
            Instant::now() < deadline,
            "not delivered within {within:?}: {list}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A mixed run (orders, settlements, exits, sales, collectibles: the mixed-202 vector) reaches
/// the receiver whole, signed, each event of its declared schema, in order; on PostgreSQL in
/// batches of 50 per POST.
fn every_event(backend: &Backend) {
    let clock = common::temp_dir("webhook-clock").join("clock");
    write_clock(&clock, 0);
    let mut o = Opts::with_clock(backend, &clock);
    o.extra = vec!["--allow-private-targets"];
    let s = Server::start(&o);
    let mut receiver = Receiver::new(backend.name(), &openapi(&s));
    receiver.spawn();
    let (rules, commands) = vector_commands("mixed-202");
    create(&s, "w", rules);
    let batch = if backend.name() == "postgres" { 50 } else { 1 };
    let secret = subscribe(&s, "w", "crm", &receiver.url(), batch);
    receiver.set_secrets(&[&secret]);
    let ping = s.post("/v1/economies/w/webhooks/crm/ping", ADMIN, &json!({}));
    assert_eq!(ping["delivered"], true, "{ping}");
    let started = Instant::now();
    submit(&s, "w", &commands);
    let received = wait_delivered(&s, "w", &receiver, Duration::from_secs(120));
    eprintln!(
        "{}: {} events delivered in {:?}",
        backend.name(),
        received.len(),
        started.elapsed()
    );
    let events = deduplicated(&received);
    check_against_journal(&s, "w", &events);
    let types: HashSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.len() >= 13,
        "a mixed run reaches most types: {types:?}"
    );
    s.stop();
}

fn sleep_until(start: Instant, at: Duration) {
    if let Some(d) = at.checked_sub(start.elapsed()) {
        std::thread::sleep(d);
    }
}

/// The receiver answers 500 for its first 30 s, is down for the next 30 s, then comes back;
/// the server is SIGKILLed three times on the way, the last while delivering. After dropping
/// repeats by event id, the receiver has every event exactly once, in order.
#[test]
fn a_failing_receiver_and_a_killed_server_lose_nothing() {
    let backend = Backend::sqlite();
    let clock = common::temp_dir("webhook-fault-clock").join("clock");
    write_clock(&clock, 0);
    let mut o = Opts::with_clock(&backend, &clock);
    o.extra = vec!["--allow-private-targets"];
    let mut s = Server::start(&o);
    let mut receiver = Receiver::new("faults", &openapi(&s));
    receiver.set_mode("fail");
    receiver.spawn();
    let (rules, commands) = vector_commands("mixed-201");
    let parts: Vec<&[Value]> = commands.chunks(commands.len().div_ceil(4)).collect();
    create(&s, "f", rules);
    let secret = subscribe(&s, "f", "crm", &receiver.url(), 1);
    receiver.set_secrets(&[&secret]);
    let start = Instant::now();
    submit(&s, "f", parts[0]);
    sleep_until(start, Duration::from_secs(8));
    drop(s); // SIGKILL 1, while every attempt fails
    s = Server::start(&o);
    submit(&s, "f", parts[1]);
    sleep_until(start, Duration::from_secs(30));
    receiver.kill();
    sleep_until(start, Duration::from_secs(40));
    drop(s); // SIGKILL 2, while the receiver is down
    s = Server::start(&o);
    submit(&s, "f", parts[2]);
    sleep_until(start, Duration::from_secs(60));
    receiver.set_mode("ok");
    receiver.spawn();
    // The subscription has been failing since the second start, so its next attempt may be up to
    // a backoff step (32 s, with jitter) after the receiver is back.
    let back = Instant::now();
    while receiver.received().len() < 50 {
        assert!(
            back.elapsed() < Duration::from_secs(120),
            "no deliveries under way"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(s); // SIGKILL 3, while delivering
    s = Server::start(&o);
    submit(&s, "f", parts[3]);
    let received = wait_delivered(&s, "f", &receiver, Duration::from_secs(180));
    let events = deduplicated(&received);
    eprintln!(
        "faults: {} deliveries, {} events, done after {:?}",
        received.len(),
        events.len(),
        start.elapsed()
    );
    check_against_journal(&s, "f", &events);
    s.stop();
}

/// The lag of each event at the receiver: when it arrived less when it was committed.
fn lags_ms(received: &[Value]) -> Vec<i64> {
    received
        .iter()
        .filter(|r| r["event"]["type"] != "webhook.ping")
        .map(|r| {
            let time = r["event"]["time"].as_str().unwrap();
            r["received_ms"].as_i64().unwrap() - common_time_ms(time)
        })
        .collect()
}

/// Milliseconds since the epoch of an RFC 3339 time with milliseconds and a Z.
fn common_time_ms(t: &str) -> i64 {
    let (date, rest) = t.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let rest = rest.trim_end_matches('Z');
    let (hms, ms) = rest.split_once('.').unwrap_or((rest, "0"));
    let h: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + h[0]) * 60 + h[1]) * 60_000 + h[2] * 1000 + ms.parse::<i64>().unwrap()
}

/// A subscription whose receiver answers after 9 s does not slow another: the fast one's
/// every event arrives within a second of its commit.
#[test]
fn a_slow_subscription_does_not_slow_another() {
    let backend = Backend::sqlite();
    let s = Server::start(&Opts::with(&backend, vec!["--allow-private-targets"]));
    let doc = openapi(&s);
    let (mut slow, mut fast) = (Receiver::new("slow", &doc), Receiver::new("fast", &doc));
    slow.set_mode("slow:9");
    slow.spawn();
    fast.spawn();
    create(&s, "l", json!({}));
    let secret = subscribe(&s, "l", "slow", &slow.url(), 1);
    slow.set_secrets(&[&secret]);
    let secret = subscribe(&s, "l", "fast", &fast.url(), 1);
    fast.set_secrets(&[&secret]);
    s.post(
        "/v1/economies/l/commands",
        ADMIN,
        &json!([
        {"type":"register_merchant","id":"m","account":"m1"},
        {"type":"register_consumer","id":"c","account":"c1"}]),
    );
    let start = Instant::now();
    let mut k = 0;
    while start.elapsed() < Duration::from_secs(15) {
        let batch: Vec<Value> = (0..5)
            .flat_map(|_| {
                k += 1;
                [
                    json!({"type":"pay_order","id":format!("p{k}"),"order":format!("o{k}"),"consumer":"c1","merchant":"m1","cash_fen":10_000,"stable_fen":0}),
                    json!({"type":"confirm_order","id":format!("k{k}"),"order":format!("o{k}")}),
                ]
            })
            .collect();
        s.post("/v1/economies/l/commands", ADMIN, &Value::Array(batch));
        let list = s.get("/v1/economies/l/webhooks", ADMIN);
        let fast_row = list["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == "fast")
            .unwrap()
            .clone();
        assert!(
            fast_row["lag_seconds"].as_f64().unwrap() < 1.0,
            "{fast_row}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eventually("the fast receiver has every event", || {
        fast.received().len() as u64 >= 3 * k
    });
    let lags = lags_ms(&fast.received());
    let worst = lags.iter().max().copied().unwrap();
    eprintln!(
        "fast subscription: {} events, worst lag {worst} ms; slow one: {} events",
        lags.len(),
        slow.received().len()
    );
    assert!(
        worst < 1000,
        "the fast subscription's worst lag: {worst} ms"
    );
    let (status, text) = s.raw(format!("GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\n\r\n").as_bytes());
    assert_eq!(status, 200);
    let series = |name: &str, sub: &str| -> f64 {
        let prefix = format!("{name}{{economy=\"l\",subscription=\"{sub}\"}} ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
        line[prefix.len()..].parse().unwrap()
    };
    assert_eq!(
        series("jifen_webhook_delivered_total", "fast") as usize,
        fast.received().len()
    );
    assert!(series("jifen_webhook_lag_seconds", "fast") < 1.0);
    assert!(
        series("jifen_webhook_lag_events", "slow") > 0.0,
        "the slow one is behind"
    );
    assert!(
        !slow.received().is_empty(),
        "the slow one is served too, 9 s at a time"
    );
    s.stop();
}

/// After a rotation both secrets sign each delivery until the overlap ends; then only the new.
/// Also: what a subscription may be is checked, with clear errors.
#[test]
fn a_rotated_secret_signs_beside_the_new_until_the_overlap_ends() {
    let backend = Backend::sqlite();
    let s = Server::start(&Opts::with(
        &backend,
        vec!["--allow-private-targets", "--webhook-secret-overlap", "4s"],
    ));
    let mut receiver = Receiver::new("rotate", &openapi(&s));
    receiver.spawn();
    create(&s, "r", json!({}));
    let old = subscribe(&s, "r", "crm", &receiver.url(), 1);
    let register = |name: &str| {
        s.post("/v1/economies/r/commands", ADMIN, &json!([
            {"type":"register_merchant","id":format!("m-{name}"),"account":format!("m-{name}")},
            {"type":"register_consumer","id":format!("c-{name}"),"account":format!("c-{name}")},
            {"type":"pay_order","id":format!("p-{name}"),"order":format!("o-{name}"),"consumer":format!("c-{name}"),"merchant":format!("m-{name}"),"cash_fen":100,"stable_fen":0}]));
    };
    receiver.set_secrets(&[&old]);
    register("a");
    eventually("the first event", || receiver.received().len() == 1);
    let rotated = s.post("/v1/economies/r/webhooks/crm/rotate", ADMIN, &json!({}));
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(rotated["old_secret_valid_until"].is_string(), "{rotated}");
    receiver.set_secrets(&[&old, &new]);
    register("b");
    eventually("the second event", || receiver.received().len() == 2);
    assert_eq!(
        receiver.received()[1]["verified"],
        json!([0, 1]),
        "both sign during the overlap"
    );
    std::thread::sleep(Duration::from_millis(4500));
    register("c");
    eventually("the third event", || receiver.received().len() == 3);
    assert_eq!(
        receiver.received()[2]["verified"],
        json!([1]),
        "only the new one after"
    );
    let list = s.get("/v1/economies/r/webhooks", ADMIN);
    assert!(
        list["webhooks"][0]["old_secret_valid_until"].is_null(),
        "{list}"
    );
    assert!(
        !list.to_string().contains(&new[6..]),
        "secrets are shown once"
    );
    subscriptions_are_checked(&s, &receiver.url());
    s.stop();
}

fn subscriptions_are_checked(s: &Server, url: &str) {
    let post = |body: Value| {
        s.call(
            "POST",
            "/v1/economies/r/webhooks",
            Some(ADMIN),
            Some(&body.to_string()),
        )
    };
    let cases = [
        (
            json!({"id":"x","url":url,"events":["points.minted"]}),
            422,
            "not an event type",
        ),
        (json!({"id":"x","url":url,"events":[]}), 422, "at least one"),
        (
            json!({"id":"x y","url":url,"events":["*"]}),
            422,
            "letters, digits",
        ),
        (
            json!({"id":"x","url":"ftp://a.example/","events":["*"]}),
            422,
            "http://",
        ),
        (
            json!({"id":"x","url":format!("https://a.example/{}", "a".repeat(2100)),"events":["*"]}),
            422,
            "2048",
        ),
        (
            json!({"id":"x","url":url,"events":["*"],"batch":101}),
            422,
            "1 to 100",
        ),
        (json!({"id":"crm","url":url,"events":["*"]}), 409, "exists"),
    ];
    for (body, status, words) in cases {
        let (got, v) = post(body.clone());
        assert_eq!(got, status, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(words),
            "{body}: {v}"
        );
    }
    for k in 1..50 {
        let (got, v) = post(json!({"id":format!("s{k}"),"url":url,"events":["order.paid"]}));
        assert_eq!(got, 201, "{v}");
    }
    let (got, v) = post(json!({"id":"s50","url":url,"events":["*"]}));
    assert_eq!(
        (got, v["error"]["code"].as_str()),
        (409, Some("too_many_webhooks")),
        "{v}"
    );
    let (got, _) = s.call(
        "PATCH",
        "/v1/economies/r/webhooks/nope",
        Some(ADMIN),
        Some("{}"),
    );
    assert_eq!(got, 404);
    let (got, v) = s.call(
        "PATCH",
        "/v1/economies/r/webhooks/crm",
        Some(ADMIN),
        Some(r#"{"paused":true}"#),
    );
    assert_eq!((got, v["state"].as_str()), (200, Some("paused")), "{v}");
    let (got, _) = s.call("DELETE", "/v1/economies/r/webhooks/s1", Some(ADMIN), None);
    assert_eq!(got, 200);
}

/// Without --allow-private-targets, loopback, private and link-local receivers are refused.
#[test]
fn private_receivers_are_refused_without_the_flag() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "p", json!({}));
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
    ] {
        let (got, v) = s.call(
            "POST",
            "/v1/economies/p/webhooks",
            Some(ADMIN),
            Some(&json!({"id":"x","url":url,"events":["*"]}).to_string()),
        );
        assert_eq!(got, 422, "{url}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("internal address"),
            "{url}: {v}"
        );
    }
    s.stop();
}

/// `GET …/webhooks` reports the lag of a paused subscription whose events were never derived,
/// without reading the store from the request (on PostgreSQL the synchronous client panicked
/// inside the async handler, and the request got no answer).
fn paused_behind(backend: &Backend) {
    let s = Server::start(&Opts::with(backend, vec!["--allow-private-targets"]));
    let (rules, commands) = vector_commands("mixed-202");
    create(&s, "q", rules);
    subscribe(&s, "q", "crm", "http://127.0.0.1:9/hook", 1);
    let path = "/v1/economies/q/webhooks/crm";
    let (got, _) = s.call("PATCH", path, Some(ADMIN), Some(r#"{"paused":true}"#));
    assert_eq!(got, 200);
    submit(&s, "q", &commands[..200]);
    let head = journal(&s, "q").last().unwrap()["seq"].as_u64().unwrap();
    let list = s.get("/v1/economies/q/webhooks", ADMIN);
    let w = &list["webhooks"][0];
    assert_eq!(w["state"], "paused", "{list}");
    let lag = w["lag_events"].as_u64().unwrap();
    assert!(lag > 0 && lag <= head, "{list}");
    s.stop();
}
