//! The receiver examples of `docs/WEBHOOKS.md`, exactly as printed there, run against real
//! deliveries: the Python one with one event per POST, the Node one with batches of 100. Each
//! prints every event it accepts; what they print must be what the journal implies, each once, in
//! order. They still accept after a rotation (the old secret signs beside the new), and refuse a
//! forged or unsigned request with 401.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::support::Backend;
use crate::web::*;
use crate::webhooks::{check_against_journal, journal, submit, vector_commands};

/// The code block of `docs/WEBHOOKS.md` that follows `<!-- tested: {name} -->`.
fn documented(name: &str) -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/WEBHOOKS.md");
    let text = std::fs::read_to_string(doc).unwrap();
    let marker = format!("<!-- tested: {name} -->");
    let after = &text[text.find(&marker).expect("the marker") + marker.len()..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("\n```").unwrap()].to_string()
}

/// A documented receiver, running, printing to a file.
struct Example {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Example {
    fn start(name: &str, program: &Path, port: u16, secret: &str) -> Example {
        let dir = common::temp_dir(&format!("webhook-doc-{name}"));
        std::fs::write(dir.join(name), documented(name)).unwrap();
        let child = Command::new(program)
            .arg(dir.join(name))
            .arg(port.to_string())
            .env("WEBHOOK_SECRET", secret)
            .stdout(std::fs::File::create(dir.join("out")).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{program:?} starts: {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{name} does not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Example { dir, port, child }
    }

    /// The events it accepted and printed, in order, pings left out.
    fn printed(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("out"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("one event per line"))
            .filter(|e| e["type"] != "webhook.ping")
            .collect()
    }

    /// The status it answers a POST with these headers.
    fn answer(&self, headers: &[(&str, String)]) -> u16 {
        let addr = format!("127.0.0.1:{}", self.port);
        let body = json!({"type": "points.granted", "id": "jifen:w:1:0", "data": {}}).to_string();
        common::http(&addr, "POST", "/hook", headers, &body)
            .unwrap()
            .0
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn make_subscription(s: &Server, id: &str, port: u16, batch: usize) -> String {
    let url = format!("http://127.0.0.1:{port}/hook");
    let made = s.post(
        "/v1/economies/w/webhooks",
        ADMIN,
        &json!({"id": id, "url": url, "events": ["*"], "batch": batch}),
    );
    made["secret"].as_str().unwrap().to_string()
}

fn wait_caught_up(s: &Server) {
    let head = journal(s, "w").last().unwrap()["seq"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = s.get("/v1/economies/w/webhooks", ADMIN);
        let subs = list["webhooks"].as_array().unwrap();
        for w in subs {
            assert_eq!(w["failed"], 0, "a documented receiver refused: {w}");
        }
        if subs
            .iter()
            .all(|w| w["cursor"]["seq"].as_u64() > Some(head))
        {
            return;
        }
        assert!(Instant::now() < deadline, "not delivered: {list}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check_printed(s: &Server, example: &Example) {
    let events = example.printed();
    let ids: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            let id = e["id"].as_str().unwrap();
            let mut parts = id.rsplit(':');
            let n = parts.next().unwrap().parse().unwrap();
            (parts.next().unwrap().parse().unwrap(), n)
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "once each, in order");
    check_against_journal(s, "w", &events);
}

#[test]
fn the_documented_receivers_verify_real_deliveries() {
    let backend = Backend::sqlite();
    let clock = common::temp_dir("webhook-doc-clock").join("clock");
    write_clock(&clock, 0);
    let mut o = Opts::with_clock(&backend, &clock);
    o.extra = vec!["--allow-private-targets"];
    let s = Server::start(&o);
    let (rules, commands) = vector_commands("mixed-202");
    create(&s, "w", rules);
    let node = PathBuf::from("node");
    let examples = [
        ("receiver.py", common::python(), 1),
        ("receiver.js", node, 100),
    ]
    .map(|(name, program, batch)| {
        // Nothing is sent before the first command, by when the example listens.
        let (id, port) = (name.replace('.', "-"), common::free_port());
        let secret = make_subscription(&s, &id, port, batch);
        (id, Example::start(name, &program, port, &secret))
    });
    submit(&s, "w", &commands);
    wait_caught_up(&s);
    for (id, example) in &examples {
        check_printed(&s, example);
        eprintln!(
            "{id}: {} events verified and printed",
            example.printed().len()
        );
        // After a rotation the example still holds the old secret, which signs beside the new.
        s.post(
            &format!("/v1/economies/w/webhooks/{id}/rotate"),
            ADMIN,
            &json!({}),
        );
        let ping = s.post(
            &format!("/v1/economies/w/webhooks/{id}/ping"),
            ADMIN,
            &json!({}),
        );
        assert_eq!(ping["delivered"], true, "{id} after a rotation: {ping}");
        let now = jifen_journal::time::now_ms() / 1000;
        let forged = [
            ("webhook-id", "jifen:w:1:0".to_string()),
            ("webhook-timestamp", now.to_string()),
            ("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl".to_string()),
        ];
        assert_eq!(example.answer(&forged), 401, "{id} takes a forged request");
        assert_eq!(example.answer(&[]), 401, "{id} takes an unsigned request");
    }
    s.stop();
}
