//! Shared by the end-to-end tests: the real `jifen serve` binary on port 0 (`Server`), and a
//! WebDriver session on Debian's chromedriver and headless Chromium (`Browser`).

#![allow(dead_code)]

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

    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        if let Some(k) = key {
            req.push_str(&format!("Authorization: Bearer {k}\r\n"));
        }
        let body = body.unwrap_or("");
        if !body.is_empty() || method == "POST" || method == "PATCH" {
            req.push_str("Content-Type: application/json\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        let (status, text) = self.raw(req.as_bytes());
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
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

pub fn create(s: &Server, id: &str, rules: Value) {
    s.post(
        "/v1/economies",
        ADMIN,
        &json!({"id": id, "name": format!("economy {id}"), "rules": rules}),
    );
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

/// A WebDriver session on Debian's chromedriver and headless Chromium, spoken to over plain
/// HTTP (W3C WebDriver).
pub struct Browser {
    pub driver: Child,
    pub port: u16,
    pub session: String,
}

impl Browser {
    pub fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = std::process::Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver, which scripts/test installs)");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
        };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--window-size=375,812"]}}}});
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["value"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        b
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // chromedriver keeps the connection open: read the headers, then Content-Length bytes.
        let (_, bytes) = read_message(&mut BufReader::new(s));
        let out = String::from_utf8_lossy(&bytes).to_string();
        let json = out.as_str();
        serde_json::from_str(json).unwrap_or_else(|_| panic!("webdriver said {out:?}"))
    }

    pub fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn script(&self, js: &str, args: Value) -> Value {
        self.call(
            "POST",
            &self.at("/execute/sync"),
            Some(json!({"script": js, "args": args})),
        )["value"]
            .clone()
    }

    /// Waits until `js` returns `want`.
    pub fn wait_for(&self, js: &str, want: &str) {
        let mut got = Value::Null;
        for _ in 0..100 {
            got = self.script(js, json!([]));
            if got == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{js} gave {got}, not {want}");
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &self.at(&format!("/element/{id}/click")),
            Some(json!({})),
        );
    }
}

impl Browser {
    pub fn open(&self, url: &str) {
        self.call("POST", &self.at("/url"), Some(json!({ "url": url })));
    }

    pub fn element(&self, css: &str) -> String {
        let found = self.call(
            "POST",
            &self.at("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        found["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Types into an element, as a person would (for a file input: a file's path).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call(
            "POST",
            &self.at(&format!("/element/{id}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// Presses keys (WebDriver key codes, e.g. "\u{E004}" for Tab) on whatever has focus.
    pub fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": k.to_string()}));
            actions.push(json!({"type": "keyUp", "value": k.to_string()}));
        }
        self.call(
            "POST",
            &self.at("/actions"),
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
    }

    pub fn resize(&self, width: u32) {
        self.call(
            "POST",
            &self.at("/window/rect"),
            Some(json!({"width": width, "height": 900})),
        );
    }

    /// Saves a screenshot of the top of the page as `target/screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) {
        self.script("window.scrollTo(0, 0); return true", json!([]));
        self.capture(name);
    }

    /// Saves a screenshot of what the viewport shows now.
    pub fn capture(&self, name: &str) {
        let shot = self.call("GET", &self.at("/screenshot"), None);
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let encoded = dir.join(format!("{name}.png.base64"));
        std::fs::write(&encoded, shot["value"].as_str().unwrap_or_default()).unwrap();
        let decoded = std::process::Command::new("base64")
            .arg("-d")
            .arg(&encoded)
            .output()
            .unwrap();
        assert!(decoded.stdout.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(dir.join(format!("{name}.png")), decoded.stdout).unwrap();
        let _ = std::fs::remove_file(&encoded);
    }

    /// The browser console's errors and warnings since the last call.
    pub fn console_problems(&self) -> Vec<String> {
        let logs = self.call(
            "POST",
            &self.at("/se/log"),
            Some(json!({"type": "browser"})),
        );
        logs["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no browser log: {logs}"))
            .iter()
            .filter(|l| l["level"] == "SEVERE" || l["level"] == "WARNING")
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Form controls of the page without a label (a `<label for>`, an enclosing label, or
    /// `aria-label`), and clickable things the keyboard cannot reach.
    pub fn accessibility_problems(&self) -> Vec<String> {
        let found = self.script(
            r#"const out = [];
            for (const el of document.querySelectorAll("input, select, textarea")) {
              if (el.type === "hidden") continue;
              if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) out.push("no label: #" + el.id);
            }
            for (const el of document.querySelectorAll("[onclick], div[role=button], span[role=button]")) {
              if (el.tabIndex < 0) out.push("not focusable: " + el.outerHTML.slice(0, 80));
            }
            return out;"#,
            json!([]),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &self.at(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Fen as the pages show them: yuan with two decimals.
pub fn yuan(fen: &Value) -> String {
    let n: u64 = fen.as_u64().unwrap();
    format!("{}.{:02}", n / 100, n % 100)
}

/// Atoms as the pages show them: points with all eight decimals.
pub fn points_of(atoms: &Value) -> String {
    let n: u64 = atoms.as_u64().unwrap();
    format!("{}.{:08}", n / 100_000_000, n % 100_000_000)
}
