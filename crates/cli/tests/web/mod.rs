//! Shared by the end-to-end tests: the real `jifen serve` binary on port 0 (`Server`), a
//! WebDriver session on Debian's chromedriver and headless Chromium (`Browser`), and a stand-in
//! for the systems jifen sends to (`FakeVenue`).

#![allow(dead_code)]

mod browser;
mod venue;

pub use browser::Browser;
#[allow(unused_imports)]
pub use venue::{Answer, Delivery, FakeVenue};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::common;

/// Reads one HTTP message: the start line, the headers (names lower-cased) and a body of
/// `Content-Length` bytes. For peers that keep the connection open.
pub fn read_message(reader: &mut impl BufRead) -> (Vec<(String, String)>, Vec<u8>) {
    let mut start = String::new();
    reader.read_line(&mut start).unwrap();
    read_message_rest(reader)
}

/// The headers (names lower-cased) and the body of a message whose start line is read.
pub fn read_message_rest(reader: &mut impl BufRead) -> (Vec<(String, String)>, Vec<u8>) {
    let (mut headers, mut length) = (Vec::new(), 0);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "content-length" {
                length = v.parse().unwrap();
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (headers, body)
}
use super::support::Backend;

pub const ADMIN: &str = "test-admin-key-0123456789";

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stdout: Vec<String>,
}

pub struct Opts<'a> {
    pub backend: &'a Backend,
    pub clock: Option<&'a PathBuf>,
    pub extra: Vec<&'a str>,
    pub admin_env: bool,
    /// Log at debug level into this file instead of warnings to the test's stderr.
    pub log_to: Option<&'a PathBuf>,
}

impl<'a> Opts<'a> {
    /// The default options (the test admin key in the environment, warnings to stderr) with
    /// `extra` flags for `jifen serve`.
    pub fn with(backend: &'a Backend, extra: Vec<&'a str>) -> Opts<'a> {
        Opts {
            backend,
            clock: None,
            extra,
            admin_env: true,
            log_to: None,
        }
    }

    /// The default options, with the server's time read from `clock` (see `write_clock`).
    pub fn with_clock(backend: &'a Backend, clock: &'a PathBuf) -> Opts<'a> {
        Opts {
            backend,
            clock: Some(clock),
            extra: vec![],
            admin_env: true,
            log_to: None,
        }
    }
}

impl Server {
    pub fn start(o: &Opts<'_>) -> Server {
        let mut cmd = common::jifen();
        cmd.args(o.backend.cli_args())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--scheduler-tick-ms",
                "100",
            ])
            .args(&o.extra)
            .stdout(Stdio::piped());
        match o.log_to {
            Some(path) => {
                cmd.env("JIFEN_LOG", "debug")
                    .stderr(std::fs::File::create(path).unwrap());
            }
            None => {
                cmd.env("JIFEN_LOG", "warn").stderr(Stdio::inherit());
            }
        }
        if o.admin_env {
            cmd.env("JIFEN_ADMIN_KEY", ADMIN);
        } else {
            cmd.env_remove("JIFEN_ADMIN_KEY");
        }
        if let Some(clock) = o.clock {
            cmd.arg("--clock-file").arg(clock);
        }
        let mut child = cmd.spawn().expect("jifen serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stdout = Vec::new();
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve exited early; stdout: {stdout:?}"))
                .unwrap();
            stdout.push(line.clone());
            if let Some(a) = line.strip_prefix("listening on http://") {
                break a.to_string();
            }
        };
        Server {
            child,
            addr,
            stdout,
        }
    }

    pub fn simple(backend: &Backend) -> Server {
        Server::start(&Opts {
            backend,
            clock: None,
            extra: vec![],
            admin_env: true,
            log_to: None,
        })
    }

    /// Sends raw bytes; returns the status and the body.
    pub fn raw(&self, request: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.write_all(request).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    /// One request through an HTTP client: the status and the body (as JSON when it is).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut headers = Vec::new();
        if let Some(k) = key {
            headers.push(("Authorization", format!("Bearer {k}")));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || method == "POST" || method == "PATCH" {
            headers.push(("Content-Type", "application/json".to_string()));
        }
        let (status, text) = common::http(&self.addr, method, path, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// `/metrics` as the admin key sees it (every economy's series): the status and the text.
    pub fn metrics(&self) -> (u16, String) {
        let headers = [("Authorization", format!("Bearer {ADMIN}"))];
        common::http(&self.addr, "GET", "/metrics", &headers, "").expect("/metrics answers")
    }

    pub fn get(&self, path: &str, key: &str) -> Value {
        let (status, v) = self.call("GET", path, Some(key), None);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    pub fn post(&self, path: &str, key: &str, body: &Value) -> Value {
        let (status, v) = self.call("POST", path, Some(key), Some(&body.to_string()));
        assert!(status == 200 || status == 201, "POST {path}: {status} {v}");
        v
    }

    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "serve did not stop cleanly on SIGTERM: {status}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rules_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let table: toml::Table = text.parse().unwrap();
    serde_json::to_value(table).unwrap()
}

/// Creates an economy with the risk rules off (tests of other parts pay many orders a day
/// per consumer, which the recommended rules would hold); [`create_with_risk`] keeps them.
pub fn create(s: &Server, id: &str, rules: Value) {
    let mut risk = risk_rules(true);
    risk["enabled"] = json!(false);
    s.post(
        "/v1/economies",
        ADMIN,
        &json!({"id": id, "name": format!("economy {id}"), "rules": rules, "risk": risk}),
    );
}

/// Creates an economy with the server's default risk rules (the recommended ones).
pub fn create_with_risk(s: &Server, id: &str, rules: Value) {
    s.post(
        "/v1/economies",
        ADMIN,
        &json!({"id": id, "name": format!("economy {id}"), "rules": rules}),
    );
}

/// The recommended risk rules of SPEC §17 as a JSON object (`enabled` as given).
pub fn risk_rules(enabled: bool) -> Value {
    json!({"enabled": enabled, "velocity_orders": 10, "velocity_fen": 5_000_000,
        "large_order_fen": 2_000_000, "large_order_median_times": 10, "self_dealing": true,
        "ring_referees": 20, "ring_hours": 24, "ring_shared_signals": true,
        "refund_rate_pct": 50, "new_account_hours": 1, "new_account_fen": 500_000,
        "hold_days": 14})
}

/// Sets the test clock, atomically (the server may be reading it at that moment).
pub fn write_clock(path: &PathBuf, ms: i64) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, ms.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits until `check` holds, up to 20 s.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for: {what}");
}

/// Digits in groups of three, as the pages write whole yuan and points.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Fen as the pages show them: yuan with thousands separators and two decimals.
pub fn yuan(fen: &Value) -> String {
    let n: u64 = fen.as_u64().unwrap();
    format!("{}.{:02}", grouped(n / 100), n % 100)
}

/// Atoms as the pages show them: points to two decimals, cut (never rounded up).
pub fn points_of(atoms: &Value) -> String {
    let n: u64 = atoms.as_u64().unwrap();
    format!(
        "{}.{:02}",
        grouped(n / 100_000_000),
        n % 100_000_000 / 1_000_000
    )
}

/// Atoms in full, as the pages show them on hover: all eight decimals.
pub fn points_full(atoms: &Value) -> String {
    let n: u64 = atoms.as_u64().unwrap();
    format!("{}.{:08}", grouped(n / 100_000_000), n % 100_000_000)
}

/// Snake-case words in visible text: a raw key or code that escaped translation.
pub fn raw_keys(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.contains('_') && w.chars().any(|c| c.is_ascii_lowercase()))
        .map(str::to_string)
        .collect()
}
