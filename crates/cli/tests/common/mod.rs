//! Helpers shared by the integration tests: run the real `jifen` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use std::process::{Command, Output};

/// Runs a test body on each backend: `on_both_backends! { name => body; }` makes the tests
/// `name::sqlite` and `name::postgres`, each calling `body(&backend)`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident => $body:path;)+) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $body(&crate::support::Backend::sqlite());
                }

                #[test]
                fn postgres() {
                    $body(&crate::support::Backend::postgres());
                }
            }
        )+
    };
}

pub fn jifen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jifen"))
}

/// The conformance vectors, in the repository (`tests/vectors`).
pub fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    assert!(
        dir.is_dir(),
        "the conformance vectors are missing at {}",
        dir.display()
    );
    dir
}

/// Runs a command and describes it fully, for failure messages.
pub fn run(cmd: &mut Command) -> (Output, String) {
    let out = cmd.output().expect("the jifen binary runs");
    let text = format!(
        "command: {cmd:?}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jifen-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends raw bytes and returns the whole answer as text.
pub fn raw_answer(addr: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

/// Signs in to the console at `addr` with `key`: the session cookie's value and its CSRF token.
pub fn sign_in(addr: &str, key: &str) -> (String, String) {
    let body = json!({ "key": key }).to_string();
    let answer = raw_answer(
        addr,
        format!("POST /v1/session HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .as_bytes(),
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .and_then(|l| l.split_once("jifen_session="))
        .map(|(_, rest)| rest.split(';').next().unwrap().to_string())
        .unwrap();
    let csrf = serde_json::from_str::<Value>(body).unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    (cookie, csrf)
}

/// A request with the session cookie (and its CSRF token): the status.
pub fn with_session(addr: &str, method: &str, path: &str, cookie: &str, csrf: &str) -> u16 {
    let body = if method == "GET" { "" } else { "{}" };
    let answer = raw_answer(
        addr,
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: jifen_session={cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .as_bytes(),
    );
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// Whether `headers` (lower-case names) sign `body` under `secret` by the Standard Webhooks
/// scheme, as checked by Python's hmac and the `standardwebhooks` package (an implementation
/// independent of jifen's).
pub fn webhook_signed(secret: &str, headers: &[(String, String)], body: &[u8]) -> bool {
    use base64::Engine;
    let header = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let input = json!({
        "secret": secret,
        "id": header("webhook-id"),
        "timestamp": header("webhook-timestamp"),
        "signature": header("webhook-signature"),
        "body": base64::engine::general_purpose::STANDARD.encode(body),
    });
    let (out, ok) = python_script("verify_webhook.py", &input);
    if !ok {
        eprintln!("webhook refused: {}", String::from_utf8_lossy(&out));
    }
    ok
}

/// The Python of the tools `scripts/test` installs (`JIFEN_TEST_PYTHON`): standardwebhooks,
/// openapi-spec-validator and schemathesis. Fails loudly without it: those checks never skip.
pub fn python() -> PathBuf {
    let path = std::env::var("JIFEN_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "JIFEN_TEST_PYTHON is not set: these tests need the Python tools scripts/test installs \
             (scripts/python-tools prints the path). Run the suite with scripts/test."
        )
    });
    PathBuf::from(path)
}

/// One HTTP request to `addr` through an HTTP client (`ureq`), with a deadline of 60 s: the
/// status and the body, or why no answer came.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Result<(u16, String), String> {
    http_within(addr, method, path, headers, body, Duration::from_secs(60))
}

/// As [`http`], with another deadline.
pub fn http_within(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
    deadline: Duration,
) -> Result<(u16, String), String> {
    let mut req = ureq::request(method, &format!("http://{addr}{path}")).timeout(deadline);
    for (name, value) in headers {
        req = req.set(name, value);
    }
    let sent = if body.is_empty() && matches!(method, "GET" | "HEAD" | "DELETE") {
        req.call()
    } else {
        req.send_string(body)
    };
    let answer = match sent {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = answer.status();
    let text = answer.into_string().map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// xorshift64*: a small deterministic generator, so a failing test can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// Runs a Python script of `tests/support` with `input` as JSON on stdin: its standard output
/// and whether it exited 0.
pub fn python_script(script: &str, input: &Value) -> (Vec<u8>, bool) {
    use std::io::Write;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(script);
    let mut child = Command::new(python())
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.status.success())
}

/// A TCP port free on loopback now (for a process the test starts).
///
/// It is taken below the kernel's ephemeral range (32768–60999 here), so an outgoing
/// connection made meanwhile by another test cannot be given the same port before the
/// process binds it; and never twice in one test binary. (A port from `bind(0)` came from
/// that range, and a receiver once found it taken by a client's socket.)
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (start + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
