//! The edge under attack (issue 18). Each test here failed on the build before its fix; the
//! closing note of that issue says how each one failed.

mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;
mod web;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Backend;
use web::*;

/// A seed the tests know, as an attacker holding a leaked key file would.
const KNOWN_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn write_key(path: &Path, seed: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, seed).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A token as the server seals one, made by Python's `hmac` (not the server's code): the hex of
/// the claims' JSON, a dot, and the hex HMAC-SHA256 of that under SHA-256(purpose ‖ seed).
fn forge(seed_hex: &str, purpose: &str, claims: &Value) -> String {
    let script = r#"
import hashlib, hmac, sys
seed = bytes.fromhex(sys.argv[1])
key = hashlib.sha256(sys.argv[2].encode() + seed).digest()
payload = sys.argv[3].encode().hex()
print(payload + "." + hmac.new(key, payload.encode(), hashlib.sha256).hexdigest())
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, seed_hex, purpose, &claims.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Runs `jifen serve` expecting it to refuse to start; returns what it printed. Panics if it
/// serves instead.
fn refuses_to_start(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = common::jifen();
    cmd.args(args)
        .env("JIFEN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            assert!(!status.success(), "it exited 0: {out}");
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    panic!("the server started instead of refusing: {out}");
}

// ----- item 1: key material -----

#[test]
fn the_repository_tracks_no_key_material_and_the_check_catches_it() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = repo.join("scripts/check-secrets");
    let (out, text) = common::run(std::process::Command::new(&script).arg(&repo));
    assert!(
        out.status.success(),
        "the checkout holds key material:\n{text}"
    );

    // A scratch repository: each kind of key material, committed alone, fails the check.
    let planted: [(&str, &[u8]); 4] = [
        ("crates/cli/jifen-data/settings.txt", b"anything"),
        ("deploy/tree-signing.seed", KNOWN_SEED.as_bytes()),
        (
            "docs/example.txt",
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAw\n-----END PRIVATE KEY-----\n",
        ),
        ("server.key", b"not even a key"),
    ];
    for (name, bytes) in planted {
        let dir = common::temp_dir(&format!("secrets-{}", name.replace('/', "_")));
        let git = |args: &[&str]| {
            let (out, text) = common::run(
                std::process::Command::new("git")
                    .args(args)
                    .current_dir(&dir),
            );
            assert!(out.status.success(), "{text}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.join("README.md"), "a clean file, 64 hex digits inside a sentence: 9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60.\n").unwrap();
        git(&["add", "README.md"]);
        let (clean, text) = common::run(std::process::Command::new(&script).arg(&dir));
        assert!(clean.status.success(), "a clean repository fails:\n{text}");
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        git(&["add", "-f", name]);
        let (planted, text) = common::run(std::process::Command::new(&script).arg(&dir));
        assert!(!planted.status.success(), "{name} was not caught:\n{text}");
        assert!(
            text.contains(name),
            "the check does not name {name}:\n{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_signing_key_others_can_read_stops_the_server() {
    let dir = common::temp_dir("shared-key");
    let key = dir.join("signing.key");
    write_key(&key, KNOWN_SEED, 0o644);
    let data = dir.join("data");
    let out = refuses_to_start(
        &[
            "--data",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--signing-key",
            key.to_str().unwrap(),
        ],
        &[("JIFEN_ADMIN_KEY", ADMIN)],
    );
    assert!(
        out.contains(key.to_str().unwrap()),
        "the path is not named: {out}"
    );
    assert!(out.contains("chmod 600"), "the fix is not named: {out}");
    // With the mode fixed, it starts.
    write_key(&key, KNOWN_SEED, 0o600);
    let backend = Backend::sqlite();
    let s = Server::start(&Opts {
        backend: &backend,
        clock: None,
        extra: vec!["--signing-key", key.to_str().unwrap()],
        admin_env: true,
        log_to: None,
    });
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn forged_tokens_that_outlive_the_maximum_lifetime_are_refused() {
    let dir = common::temp_dir("forged-tokens");
    let key = dir.join("signing.key");
    write_key(&key, KNOWN_SEED, 0o600);
    let backend = Backend::sqlite();
    let s = Server::start(&Opts {
        backend: &backend,
        clock: None,
        extra: vec!["--signing-key", key.to_str().unwrap()],
        admin_env: true,
        log_to: None,
    });
    create(&s, "e", json!({}));
    s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type": "register_consumer", "id": "r1", "account": "c1"}),
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let year_2100_ms = 4_102_444_800_000i64;
    let wallet = |expires_ms: i64| {
        let token = forge(
            KNOWN_SEED,
            "jifen-wallet-link-v1",
            &json!({"e": "e", "a": "c1", "x": expires_ms}),
        );
        let (status, _) = s.raw(
            format!("GET /v1/wallet HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wallet-Token: {token}\r\n\r\n")
                .as_bytes(),
        );
        status
    };
    // The forgery itself is right: a link of ten minutes is honoured.
    assert_eq!(wallet(now_ms + 600_000), 200);
    assert_eq!(
        wallet(year_2100_ms),
        401,
        "a wallet link valid until 2100 was honoured"
    );
    assert_eq!(
        wallet(now_ms + 25 * 3_600_000),
        401,
        "a wallet link of 25 hours was honoured"
    );

    let session = |expires_ms: i64| {
        let token = forge(
            KNOWN_SEED,
            "jifen-console-session-v1",
            &json!({"k": "admin-env", "x": expires_ms, "n": "00"}),
        );
        let (status, _) = s.raw(
            format!("GET /v1/economies HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: jifen_session={token}\r\n\r\n")
                .as_bytes(),
        );
        status
    };
    assert_eq!(session(now_ms + 3_600_000), 200);
    assert_eq!(
        session(year_2100_ms),
        401,
        "a session valid until 2100 was honoured"
    );
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
