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
