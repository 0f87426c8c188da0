//! The edge under attack (issue 18). Each test here failed on the build before its fix; the
//! closing note of that issue says how each one failed.

mod common;
#[path = "../../journal/tests/support/mod.rs"]
mod support;
mod web;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::Backend;
use web::*;

/// A seed the tests know, as an attacker holding a leaked key file would.
/// A PEM block, spelt so that this file does not hold one.
const PEM: &str = concat!(
    "-----BEGIN ",
    "PRIVATE KEY-----\nMC4CAQAw\n-----END ",
    "PRIVATE KEY-----\n"
);
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
            let output = child.wait_with_output().unwrap();
            let out = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!status.success(), "it exited 0: {out}");
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    panic!(
        "the server started instead of refusing: {}",
        String::from_utf8_lossy(&output.stdout)
    );
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
        ("docs/example.txt", PEM.as_bytes()),
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
    let s = Server::start(&Opts::with(
        &backend,
        vec!["--signing-key", key.to_str().unwrap()],
    ));
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn forged_tokens_that_outlive_the_maximum_lifetime_are_refused() {
    let dir = common::temp_dir("forged-tokens");
    let key = dir.join("signing.key");
    write_key(&key, KNOWN_SEED, 0o600);
    let backend = Backend::sqlite();
    let s = Server::start(&Opts::with(
        &backend,
        vec!["--signing-key", key.to_str().unwrap()],
    ));
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

// ----- item 2: the server's own ids -----

#[test]
fn clients_cannot_take_the_server_s_ids() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    let ids = [
        "auto-settle:2026-12-01",
        "auto-confirm:o1",
        "clock:2026-12-04T00:00:00Z",
        "jifen:settle:2026-12-01",
        "jifen:confirm:o1",
        "jifen:anything",
    ];
    for id in ids {
        let batch = json!([
            {"type": "register_consumer", "id": "fine-1", "account": "a1"},
            {"type": "register_consumer", "id": id, "account": "a2"},
        ]);
        let (status, v) = s.call(
            "POST",
            "/v1/economies/e/commands",
            Some(ADMIN),
            Some(&batch.to_string()),
        );
        assert_eq!(status, 422, "{id}: {v}");
        assert_eq!(v["error"]["code"], "reserved_id", "{id}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("command 1"),
            "{v}"
        );
    }
    // Nothing of a refused request was journaled.
    for id in ids.iter().chain(&["fine-1"]) {
        assert_eq!(entries_with_id(&s, "e", id), 0, "{id}");
    }
    // An id that merely contains the words is the client's own.
    s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type": "register_consumer", "id": "my-auto-settle:x", "account": "c0"}),
    );
    // A wallet link cannot name one either.
    let token = consumer_with_link(&s, "e", "c1");
    let body = json!({"action": "sell", "atoms": 1, "id": "jifen:settle:2026-12-01"}).to_string();
    let (status, text) = s.raw(
        format!("POST /v1/wallet/act HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Wallet-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .as_bytes(),
    );
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("reserved_id"), "{text}");
    assert_eq!(entries_with_id(&s, "e", "jifen:settle:2026-12-01"), 0);
    s.stop();
}

/// Journal entries of economy `eco` whose command has id `id`.
fn entries_with_id(s: &Server, eco: &str, id: &str) -> usize {
    let mut n = 0;
    let mut after = 0;
    loop {
        let v = s.get(
            &format!("/v1/economies/{eco}/events?after={after}&limit=1000"),
            ADMIN,
        );
        let events = v["events"].as_array().unwrap();
        if events.is_empty() {
            return n;
        }
        n += events.iter().filter(|e| e["command"]["id"] == id).count();
        after = v["next_after"].as_u64().unwrap();
    }
}

fn metric(s: &Server, key: Option<&str>, name: &str) -> Option<f64> {
    let (status, v) = s.call("GET", "/metrics", key, None);
    assert_eq!(status, 200);
    let text = v.as_str().unwrap_or_default().to_string();
    text.lines()
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// An economy imported with a command that already holds the id the scheduler will confirm o1
/// under, served eight days later: the server, its clock file, that time and its log file.
fn a_squatted_confirmation(
    backend: &Backend,
    dir: &std::path::Path,
) -> (Server, PathBuf, i64, PathBuf) {
    // Written before the server runs, through `jifen import` (which restores journals as
    // written): a command that already holds the id the scheduler will confirm o1 under.
    let commands = dir.join("commands.jsonl");
    std::fs::write(
        &commands,
        [
            json!({"type": "register_merchant", "id": "1", "account": "m"}),
            json!({"type": "register_consumer", "id": "2", "account": "c"}),
            json!({"type": "pay_order", "id": "3", "order": "o1", "consumer": "c", "merchant": "m", "cash_fen": 1000, "stable_fen": 0}),
            json!({"type": "register_consumer", "id": "jifen:confirm:o1", "account": "squatter"}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect::<String>(),
    )
    .unwrap();
    for args in [
        vec!["economy", "create", "--id", "e", "--timezone", "UTC"],
        vec!["import", "--economy", "e", commands.to_str().unwrap()],
    ] {
        let (out, text) = common::run(common::jifen().args(backend.cli_args()).args(&args));
        assert!(out.status.success(), "{text}");
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = dir.join("clock");
    write_clock(&clock, now_ms + 8 * 86_400_000);
    let log = dir.join("serve.log");
    let s = Server::start(&Opts {
        backend,
        clock: Some(&clock),
        extra: vec![],
        admin_env: true,
        log_to: Some(&log),
    });
    (s, clock, now_ms, log)
}

/// The refusal is an ERROR in the log, a metric and a problem in the overview, not retried
/// within the hour, and the days still settle.
fn the_refusal_is_counted_logged_and_shown(s: &Server, log: &std::path::Path) {
    eventually("the refusal is counted", || {
        metric(s, Some(ADMIN), "jifen_scheduler_failures_total").unwrap_or(0.0) >= 1.0
    });
    // Twenty ticks later it has not been tried again.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        entries_with_id(s, "e", "jifen:confirm:o1"),
        2,
        "the squatter and one refusal"
    );
    assert_eq!(metric(s, Some(ADMIN), "jifen_scheduler_failing"), Some(1.0));
    let overview = s.get("/v1/economies/e/overview", ADMIN);
    let problems = overview["scheduler_problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{overview}");
    assert_eq!(problems[0]["command"], "confirm_order");
    assert_eq!(problems[0]["subject"], "o1");
    assert_eq!(problems[0]["code"], "id_conflict");
    assert_eq!(problems[0]["attempts"], 1);
    let logged = std::fs::read_to_string(log).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| l.contains("ERROR") && l.contains("the scheduler's own command was refused")),
        "no ERROR line in the log"
    );
    // The days still settle: one refusal does not hold the rest back.
    assert_eq!(s.get("/v1/economies/e", ADMIN)["settled_days"], 8);
}

/// The console shows it, as a banner at the top of the overview, in both languages.
fn the_banner_in_both_languages(s: &Server) {
    let browser = Browser::start();
    browser.resize(1280);
    browser.open(&format!("http://{}/", s.addr));
    browser.wait_for("return document.body.dataset.status", "signed-out");
    browser.type_into("#key", ADMIN);
    browser.press("\u{E007}");
    browser.wait_for("return document.body.dataset.status", "loaded");
    let banner = || {
        browser
            .script(
                "const b = document.getElementById('ov-problems'); return b.classList.contains('hidden') ? '' : b.innerText",
                json!([]),
            )
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let zh = banner();
    assert!(
        zh.contains("自动确认订单（o1）被拒绝：这个操作编号已用于另一项不同的操作"),
        "{zh}"
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.screenshot(&format!("console-scheduler-banner-zh-{width}px"));
    }
    browser.click("#lang");
    // The overview is drawn again after its reads come back.
    browser.wait_for(
        "return String(document.getElementById('ov-problems').innerText.includes('The automatic order confirmation'))",
        "true",
    );
    let en = banner();
    assert!(
        en.contains("The automatic order confirmation for o1 was refused: This operation id was already used for a different operation"),
        "{en}"
    );
    for width in [1280, 375] {
        browser.resize(width);
        browser.screenshot(&format!("console-scheduler-banner-en-{width}px"));
    }
    drop(browser);
}

#[test]
fn a_refused_scheduler_command_is_an_error_a_metric_a_banner_and_backs_off() {
    let backend = Backend::sqlite();
    let dir = common::temp_dir("scheduler-refused");
    let (s, clock, now_ms, log) = a_squatted_confirmation(&backend, &dir);
    the_refusal_is_counted_logged_and_shown(&s, &log);
    the_banner_in_both_languages(&s);
    // An hour later (by the server's clock) it is tried once more, and journaled once more.
    write_clock(&clock, now_ms + 8 * 86_400_000 + 61 * 60_000);
    eventually("the second attempt", || {
        entries_with_id(&s, "e", "jifen:confirm:o1") == 3
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(entries_with_id(&s, "e", "jifen:confirm:o1"), 3);
    let overview = s.get("/v1/economies/e/overview", ADMIN);
    assert_eq!(overview["scheduler_problems"][0]["attempts"], 2);
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- item 7: the data directory -----

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_data_directory_is_private_and_a_chosen_admin_key_is_hashed_slowly() {
    let backend = Backend::sqlite();
    let Backend::Sqlite { dir } = &backend else {
        unreachable!()
    };
    // As an operator might have made it: open to everyone.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type": "register_consumer", "id": "r1", "account": "c1"}),
    );
    let secret = "venue-secret-0123456789-abcdef";
    let put = s.call(
        "PUT",
        "/v1/economies/e/venues/v1",
        Some(ADMIN),
        Some(&json!({"url": "https://93.184.216.34/hook", "secret": secret}).to_string()),
    );
    assert_eq!(put.0, 200, "{}", put.1);
    let mut answers = vec![put.1.to_string()];
    for path in [
        "/v1/economies/e/venues",
        "/v1/economies/e/outbox",
        "/v1/economies/e",
    ] {
        answers.push(s.get(path, ADMIN).to_string());
    }
    for a in &answers {
        assert!(
            !a.contains(secret),
            "a read returned the venue's secret: {a}"
        );
    }
    s.stop();
    assert_eq!(mode(dir), 0o700, "the data directory");
    for file in [
        "jifen.sqlite3",
        "jifen.sqlite3-wal",
        "tree-signing.key",
        "lock",
    ] {
        let path = dir.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    let snapshots: Vec<PathBuf> = walk(&dir.join("snapshots"));
    assert!(!snapshots.is_empty(), "the shutdown snapshot");
    for f in snapshots {
        let want = if f.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&f), want, "{}", f.display());
    }
    let conn = rusqlite::Connection::open(dir.join("jifen.sqlite3")).unwrap();
    let record: String = conn
        .query_row(
            "SELECT value FROM settings WHERE scope = 'api_keys' AND key = 'admin-env'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let record: Value = serde_json::from_str(&record).unwrap();
    let hash = record["hash"].as_str().unwrap();
    assert!(
        hash.starts_with("$argon2id$"),
        "the chosen admin key is stored as {hash}"
    );
    // And it still signs in, after a restart too, at the speed of a hash already checked.
    let s = Server::simple(&backend);
    let started = Instant::now();
    for _ in 0..50 {
        s.get("/v1/economies", ADMIN);
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        s.call(
            "GET",
            "/v1/economies",
            Some("test-admin-key-0123456780"),
            None
        )
        .0,
        401
    );
    s.stop();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
    }
    out
}

// ----- item 11: one writer -----

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    let pid = s.child.id();
    let data = backend.cli_args();
    let commands = common::temp_dir("second-writer").join("c.jsonl");
    std::fs::write(
        &commands,
        "{\"type\":\"register_consumer\",\"id\":\"x1\",\"account\":\"x\"}\n",
    )
    .unwrap();
    let mut serve: Vec<&str> = data.iter().map(String::as_str).collect();
    serve.extend(["serve", "--listen", "127.0.0.1:0"]);
    let out = refuses_to_start(&serve, &[("JIFEN_ADMIN_KEY", ADMIN)]);
    assert!(
        out.contains(&format!("in use by process {pid} (jifen serve)")),
        "{out}"
    );
    for args in [
        vec!["import", "--economy", "e", commands.to_str().unwrap()],
        vec!["economy", "create", "--id", "f"],
    ] {
        let (done, text) = common::run(common::jifen().args(&data).args(&args));
        assert!(!done.status.success(), "{text}");
        assert!(text.contains(&format!("in use by process {pid}")), "{text}");
    }
    s.stop();
    // Stopped, the import goes through; into an economy that does not exist only with --create.
    let (done, text) = common::run(common::jifen().args(&data).args([
        "import",
        "--economy",
        "e-typo",
        commands.to_str().unwrap(),
    ]));
    assert!(!done.status.success(), "{text}");
    assert!(
        text.contains("e-typo does not exist") && text.contains("--create"),
        "{text}"
    );
    let (done, text) = common::run(common::jifen().args(&data).args([
        "import",
        "--economy",
        "e",
        commands.to_str().unwrap(),
    ]));
    assert!(done.status.success(), "{text}");
    let (done, text) = common::run(common::jifen().args(&data).args([
        "import",
        "--create",
        "--economy",
        "g",
        commands.to_str().unwrap(),
    ]));
    assert!(done.status.success(), "{text}");
}

#[test]
fn a_second_server_on_one_postgresql_database_is_refused() {
    let backend = Backend::postgres();
    let s = Server::simple(&backend);
    let Backend::Postgres { url, .. } = &backend else {
        unreachable!()
    };
    let other_data = common::temp_dir("second-pg-server");
    let out = refuses_to_start(
        &[
            "--database",
            url,
            "--data",
            other_data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        &[("JIFEN_ADMIN_KEY", ADMIN)],
    );
    assert!(
        out.contains(&format!("in use by jifen serve (pid {})", s.child.id())),
        "{out}"
    );
    assert!(
        !out.contains("postgres@") || !out.contains(":secret"),
        "{out}"
    );
    s.stop();
}

// ----- item 12: starting and failing to start -----

#[test]
fn a_failed_start_creates_no_admin_key_and_errors_name_their_path() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = common::temp_dir("failed-start");
    let data = dir.join("data");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--data",
        data.to_str().unwrap(),
        "serve",
        "--listen",
        listen.as_str(),
    ];
    let out = refuses_to_start(&args, &[]);
    assert!(out.contains(&listen), "{out}");
    assert!(
        !out.contains("jfk_"),
        "a key was printed by a start that failed: {out}"
    );
    drop(taken);
    // The first start that serves prints the key (so none was made by the failed one).
    let mut child = common::jifen()
        .args(args)
        .env_remove("JIFEN_ADMIN_KEY")
        .env("JIFEN_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            first.push_str(&line);
            if line.starts_with("listening") {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.contains("admin key (shown once"), "{first}");

    // A data directory that cannot be made is named in the error.
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let inside = file.join("data");
    let out = refuses_to_start(
        &[
            "--data",
            inside.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        &[("JIFEN_ADMIN_KEY", ADMIN)],
    );
    assert!(
        out.contains(inside.to_str().unwrap()),
        "the path is not named: {out}"
    );

    // The help says what --signing-key takes, and where to put the admin key.
    let (help, text) = common::run(common::jifen().args(["serve", "--help"]));
    assert!(help.status.success(), "{text}");
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("--signing-key <FILE>"), "{text}");
    assert!(text.contains("visible to") && text.contains("ps"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- item 3: slow and idle connections -----

/// `jifen serve` with its open-file limit (soft and hard) set to `nofile`; returns the child
/// and its address.
fn serve_with_file_limit(
    nofile: u32,
    data: &Path,
    extra: &[&str],
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_jifen"))
        .args([
            "--data",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env("JIFEN_ADMIN_KEY", ADMIN)
        .env("JIFEN_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("listening on http://") {
            return (child, addr.to_string());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not start");
}

#[test]
fn half_sent_requests_and_idle_connections_cannot_starve_the_server() {
    use std::io::{Read, Write};
    let dir = common::temp_dir("slowloris");
    let (mut child, addr) = serve_with_file_limit(256, &dir, &["--header-read-timeout-s", "2"]);
    // More connections than the server has file descriptors, each sending half a request line
    // and then nothing, from threads so that none waits for another to be accepted.
    let openers: Vec<_> = (0..400)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let target = addr.parse().unwrap();
                let mut s =
                    std::net::TcpStream::connect_timeout(&target, Duration::from_secs(20)).ok()?;
                s.write_all(b"GET /hea").ok()?;
                Some(s)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // The health check is answered within moments: slots come free as the header timeout closes
    // the silent connections.
    let started = Instant::now();
    let target = addr.parse().unwrap();
    let mut health = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(15))
        .expect("/healthz's connection accepted within 15 s");
    health
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = health
        .read(&mut buf)
        .expect("/healthz answered within 15 s");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    eprintln!("/healthz answered after {:?}", started.elapsed());
    // The kept-alive connection, now silent, is closed after the timeout too.
    let n = health.read(&mut buf).expect("closed, not timed out");
    assert_eq!(n, 0, "an idle connection stayed open");
    // And every half-sent request was closed by the server (read gives end of file).
    let streams: Vec<std::net::TcpStream> = openers
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    assert!(streams.len() > 256, "only {} connected", streams.len());
    for mut s in streams {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut one = [0u8; 64];
        match s.read(&mut one) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Ok(n) => panic!("a half-sent request got {n} bytes"),
            Err(e) => panic!("a half-sent request's connection is still open: {e}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- item 12: headers and error bodies -----

#[test]
fn every_refusal_has_the_json_body_and_pages_have_strict_headers() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    for (request, status, code) in [
        (
            format!(
                "GET /{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                "a".repeat(10_000)
            ),
            414,
            "uri_too_long",
        ),
        (
            format!(
                "GET /{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                "a".repeat(100_000)
            ),
            414,
            "uri_too_long",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
                "b".repeat(500_000)
            ),
            431,
            "headers_too_large",
        ),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400, "bad_request"),
        (
            "GET /v1/economies HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_string(),
            401,
            "unauthorized",
        ),
        (
            "DELETE /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_string(),
            405,
            "method_not_allowed",
        ),
    ] {
        let answer = common::raw_answer(&s.addr, request.as_bytes());
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{}: {head}",
            &request[..40.min(request.len())]
        );
        let v: Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("no JSON body: {answer}"));
        assert_eq!(v["error"]["code"], code, "{answer}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
    }
    // Every answer says nosniff; behind HTTPS, pages also say HSTS.
    let page = common::raw_answer(
        &s.addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-Proto: https\r\n\r\n",
    );
    let head = page.split_once("\r\n\r\n").unwrap().0.to_ascii_lowercase();
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(
        head.contains("strict-transport-security: max-age="),
        "{head}"
    );
    let health = common::raw_answer(
        &s.addr,
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(health
        .to_ascii_lowercase()
        .contains("x-content-type-options: nosniff"));
    assert!(!health
        .to_ascii_lowercase()
        .contains("strict-transport-security"));
    // The pages' scripts run by hash, not by 'unsafe-inline'.
    for path in ["/", "/wallet", "/c/e/x"] {
        let answer = common::raw_answer(
            &s.addr,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let csp = answer
            .lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with("content-security-policy:")
            })
            .unwrap_or_else(|| panic!("{path}: no policy"))
            .to_string();
        let script = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap_or_else(|| panic!("{path}: {csp}"));
        assert!(!script.contains("unsafe-inline"), "{path}: {script}");
        assert!(script.contains("'sha256-"), "{path}: {script}");
    }
    s.stop();
}

// ----- item 4: rate limits without a key -----

/// Sends `n` requests over one kept-alive connection; returns each answer's status and
/// whether it carried `Retry-After`.
fn burst(addr: &str, n: usize, request: impl Fn(usize) -> String) -> Vec<(u16, bool)> {
    use std::io::{BufReader, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut out = Vec::new();
    for i in 0..n {
        s.write_all(request(i).as_bytes()).unwrap();
        let mut status_line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut status_line).unwrap();
        let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
        // The rest of the head and the body.
        let (headers, _) = web::read_message_rest(&mut reader);
        out.push((status, headers.iter().any(|(k, _)| k == "retry-after")));
    }
    out
}

/// Registers consumer `account` in economy `eco` and returns a wallet link's token for it.
fn consumer_with_link(s: &Server, eco: &str, account: &str) -> String {
    s.post(
        &format!("/v1/economies/{eco}/commands"),
        ADMIN,
        &json!({"type": "register_consumer", "id": format!("register-{account}"), "account": account}),
    );
    s.post(
        &format!("/v1/economies/{eco}/wallet-links"),
        ADMIN,
        &json!({ "account": account }),
    )["token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn wallet_links_and_keyless_callers_are_rate_limited() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    let token = consumer_with_link(&s, "e", "c1");
    // 200 sales at once through one link, each with its own id (each would be journaled).
    let answers = burst(&s.addr, 200, |i| {
        let body = json!({"action": "sell", "atoms": 1, "id": format!("flood-{i}")}).to_string();
        format!(
            "POST /v1/wallet/act HTTP/1.1\r\nHost: t\r\nX-Wallet-Token: {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    let passed = answers.iter().filter(|(st, _)| *st == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(st, _)| *st == 429).collect();
    assert!(passed <= 10, "{passed} of 200 sales went through");
    assert_eq!(passed + limited.len(), 200, "{answers:?}");
    assert!(
        limited.iter().all(|(_, retry)| *retry),
        "a 429 without Retry-After"
    );
    let journaled: usize = (0..200)
        .map(|i| entries_with_id(&s, "e", &format!("flood-{i}")))
        .sum();
    assert_eq!(journaled, passed);
    // The public certificate data, from one address without a key.
    let answers = burst(&s.addr, 300, |_| {
        "GET /v1/public/e/collectibles/nothing HTTP/1.1\r\nHost: t\r\n\r\n".to_string()
    });
    let limited = answers
        .iter()
        .filter(|(st, retry)| *st == 429 && *retry)
        .count();
    assert!(limited >= 150, "only {limited} of 300 limited");
    // Guessing keys is limited by address too. A guess that passes the limit costs the
    // server an argon2 check (against the chosen admin key), so on a loaded machine the burst
    // lasts long enough for the bucket to refill: the bound is the burst plus the refill over
    // the time it took, not a fixed count.
    let started = std::time::Instant::now();
    let answers = burst(&s.addr, 300, |i| {
        format!(
            "GET /v1/economies HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer guess-{i:020}\r\n\r\n"
        )
    });
    let refill = (50.0 * started.elapsed().as_secs_f64()).ceil() as usize;
    let passed = answers.iter().filter(|(st, _)| *st != 429).count();
    assert!(
        passed <= 100 + refill + 5 && passed < 300,
        "{passed} of 300 guesses passed in {:?} (at most 100 + {refill})",
        started.elapsed()
    );
    // A caller with a key is not held back by any of this.
    s.get("/v1/economies/e", ADMIN);
    s.stop();
}

// ----- item 5: a what-if stops with its request -----

/// CPU seconds the process has used so far (user and system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn a_what_if_stops_when_its_request_does_and_runs_once_per_economy() {
    // Enough work that a what-if outlasts the 1 s timeout on a fast machine (150,000 orders
    // no longer did on this one).
    let backend = Backend::sqlite();
    let dir = common::temp_dir("what-if");
    let commands = dir.join("big.jsonl");
    let mut text =
        String::from("{\"type\":\"register_merchant\",\"id\":\"m\",\"account\":\"m\"}\n");
    for i in 0..400_000 {
        text.push_str(&format!(
            "{{\"type\":\"register_consumer\",\"id\":\"r{i}\",\"account\":\"c{i}\"}}\n\
             {{\"type\":\"pay_order\",\"id\":\"p{i}\",\"order\":\"o{i}\",\"consumer\":\"c{i}\",\"merchant\":\"m\",\"cash_fen\":1000,\"stable_fen\":0}}\n\
             {{\"type\":\"confirm_order\",\"id\":\"k{i}\",\"order\":\"o{i}\"}}\n"
        ));
    }
    std::fs::write(&commands, text).unwrap();
    let (out, log) = common::run(common::jifen().args(backend.cli_args()).args([
        "import",
        "--create",
        "--economy",
        "big",
        commands.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{log}");
    let s = Server::start(&Opts::with(&backend, vec!["--request-timeout-s", "1"]));
    let mut rules = s.get("/v1/economies/big/rules", ADMIN)["rules"].clone();
    rules
        .as_object_mut()
        .unwrap()
        .retain(|k, _| !k.ends_with("_str"));
    let body = json!({ "rules": rules }).to_string();
    let ask = |s: &Server| {
        s.call(
            "POST",
            "/v1/economies/big/rules/preview",
            Some(ADMIN),
            Some(&body),
        )
    };
    // Six at once: one runs (and times out), the others are told one is running.
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..6).map(|_| scope.spawn(|| ask(&s))).collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    let codes: Vec<&str> = answers
        .iter()
        .map(|(_, v)| v["error"]["code"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "timeout").count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == "what_if_running").count(),
        5,
        "{answers:?}"
    );
    // Once every caller has its answer, the work stops. The work holds the economy's slot
    // until it has stopped, so a moment later a new what-if is let in (and times out too).
    std::thread::sleep(Duration::from_millis(300));
    let (status, v) = ask(&s);
    assert_eq!(v["error"]["code"], "timeout", "{status} {v}");
    // And the server is idle after it. Of two one-second windows the quieter counts: other
    // work of the server (a snapshot of the imported journal) may fall in one of them, while
    // a what-if still running would keep a core busy in both.
    std::thread::sleep(Duration::from_millis(300));
    let pid = s.child.id();
    let busy = (0..2)
        .map(|_| {
            let before = cpu_seconds(pid);
            std::thread::sleep(Duration::from_secs(1));
            cpu_seconds(pid) - before
        })
        .fold(f64::MAX, f64::min);
    assert!(
        busy < 0.3,
        "the server used {busy:.2} s of CPU in each second after the timeout"
    );
    s.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- item 6: outgoing requests stay outside -----

#[test]
fn venues_cannot_point_inside_and_redirects_are_not_followed() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    let put = |s: &Server, url: &str| {
        s.call(
            "PUT",
            "/v1/economies/e/venues/v",
            Some(ADMIN),
            Some(&json!({"url": url, "secret": "a-venue-secret-0123456789"}).to_string()),
        )
    };
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "http://10.0.0.7/hook",
        "http://192.168.0.1/",
        "http://[::1]:8080/",
        "http://[::ffff:169.254.169.254]/",
        "http://localhost:8080/hook",
        "http://0.0.0.0/",
    ] {
        let (status, v) = put(&s, url);
        assert_eq!(status, 422, "{url}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("internal"),
            "{url}: {v}"
        );
    }
    assert_eq!(put(&s, "https://93.184.216.34/hook").0, 200);
    s.stop();

    // With the flag (venues on a private network), a venue that redirects is not followed.
    let target = FakeVenue::start(|_| (200, vec![]));
    let stolen = format!("http://{}/stolen", target.addr);
    let venue = FakeVenue::start(move |_| (302, vec![("location", stolen.clone())]));
    let backend = Backend::sqlite();
    let s = Server::start(&Opts::with(&backend, vec!["--allow-private-targets"]));
    create(&s, "e", json!({}));
    assert_eq!(put(&s, &format!("http://{}/events", venue.addr)).0, 200);
    let sha = "ab".repeat(32);
    s.post("/v1/economies/e/commands", ADMIN, &json!([
        {"type": "register_merchant", "id": "1", "account": "m"},
        {"type": "register_consumer", "id": "2", "account": "c"},
        {"type": "pay_order", "id": "3", "order": "o", "consumer": "c", "merchant": "m", "cash_fen": 100000, "stable_fen": 0},
        {"type": "confirm_order", "id": "4", "order": "o"},
        {"type": "set_collectible_policy", "id": "5", "policy": {"gifting_enabled": true, "gift_hold_days": 0, "exchange_enabled": true}},
        {"type": "mint_collectible", "id": "6", "collectible": "p1", "account": "c", "series": "s", "atoms": 1000, "content_sha256": sha},
        {"type": "export_collectible", "id": "7", "collectible": "p1", "venue": "v"},
    ]));
    eventually("the venue was asked", || venue.count() >= 1);
    eventually("the outbox says it was a redirect", || {
        let v = s.get("/v1/economies/e/outbox", ADMIN);
        v["venues"][0]["waiting"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("302"))
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(target.count(), 0, "the redirect was followed");
    s.stop();
}

// ----- item 8: signing out -----

#[test]
fn signing_out_ends_the_session_for_good() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "e", json!({}));
    let (cookie, csrf) = common::sign_in(&s.addr, ADMIN);
    assert_eq!(
        common::with_session(&s.addr, "GET", "/v1/economies", &cookie, &csrf),
        200
    );
    assert_eq!(
        common::with_session(&s.addr, "DELETE", "/v1/session", &cookie, &csrf),
        200
    );
    // The old cookie and its CSRF token no longer speak for anyone.
    assert_eq!(
        common::with_session(&s.addr, "GET", "/v1/economies", &cookie, &csrf),
        401
    );
    assert_eq!(
        common::with_session(&s.addr, "POST", "/v1/economies/e/keys", &cookie, &csrf),
        401
    );
    let (status, v) = s.call("GET", "/v1/session", None, None);
    assert_eq!(status, 200, "{v}");
    s.stop();
    // Nor after a restart.
    let s = Server::simple(&backend);
    assert_eq!(
        common::with_session(&s.addr, "GET", "/v1/economies", &cookie, &csrf),
        401
    );
    // Another session of the same key is unaffected.
    let (other, other_csrf) = common::sign_in(&s.addr, ADMIN);
    assert_eq!(
        common::with_session(&s.addr, "GET", "/v1/economies", &other, &other_csrf),
        200
    );
    s.stop();
}

// ----- item 9: metrics -----

#[test]
fn metrics_without_a_key_name_no_economy() {
    let backend = Backend::sqlite();
    let s = Server::start(&Opts::with(
        &backend,
        vec!["--metrics-listen", "127.0.0.1:0"],
    ));
    for id in ["tenant-alpha", "tenant-beta"] {
        create(&s, id, json!({}));
        s.post(
            &format!("/v1/economies/{id}/commands"),
            ADMIN,
            &json!({"type": "register_consumer", "id": "r1", "account": "c1"}),
        );
    }
    let text = |key: Option<&str>| {
        let (status, v) = s.call("GET", "/metrics", key, None);
        assert_eq!(status, 200, "{v}");
        v.as_str().unwrap().to_string()
    };
    let public = text(None);
    assert!(public.contains("jifen_http_requests_total"), "{public}");
    assert!(
        !public.contains("tenant-"),
        "a keyless /metrics names economies:\n{public}"
    );
    let all = text(Some(ADMIN));
    assert!(all.contains("economy=\"tenant-alpha\"") && all.contains("economy=\"tenant-beta\""));
    let operator = s.post(
        "/v1/economies/tenant-alpha/keys",
        ADMIN,
        &json!({"role": "operator"}),
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    let own = text(Some(&operator));
    assert!(
        own.contains("economy=\"tenant-alpha\"") && !own.contains("tenant-beta"),
        "{own}"
    );
    assert_eq!(
        s.call("GET", "/metrics", Some("not-a-key-0123456789"), None)
            .0,
        401
    );
    // The separate address answers everything, without a key, and nothing else.
    let metrics_addr = s
        .stdout
        .iter()
        .find_map(|l| l.strip_prefix("metrics on http://"))
        .and_then(|l| l.strip_suffix("/metrics"))
        .expect("the metrics address is printed")
        .to_string();
    let answer = common::raw_answer(
        &metrics_addr,
        b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.contains("economy=\"tenant-beta\""), "{answer}");
    let other = common::raw_answer(
        &metrics_addr,
        b"GET /v1/economies HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    s.stop();
}

// ----- item 10: a damaged store -----

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_name() != "lock" {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// What the server did with a store: refused to start, served and reported damage, or served
/// with nothing to report. Returns (refused, reported), and what it said.
fn serve_damaged(data: &Path) -> (bool, bool, String) {
    use std::io::BufRead;
    let mut child = common::jifen()
        .args([
            "--data",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("JIFEN_ADMIN_KEY", ADMIN)
        .env("JIFEN_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut addr = None;
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        if let Some(a) = line.strip_prefix("listening on http://") {
            addr = Some(a.to_string());
            break;
        }
    }
    let Some(addr) = addr else {
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        return (
            true,
            false,
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
    };
    let mut health = Value::Null;
    for _ in 0..200 {
        let answer = common::raw_answer(
            &addr,
            b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        health = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        if !health["store_check"].is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !health["store_check"].is_null(),
        "no store check reported: {health}"
    );
    let reported = health["status"] == "damaged";
    (false, reported, health.to_string())
}

#[test]
fn single_byte_flips_in_the_database_are_reported_never_served_silently() {
    let backend = Backend::sqlite();
    let Backend::Sqlite { dir } = &backend else {
        unreachable!()
    };
    // A store with a few thousand entries over several blocks, a snapshot, a settlement and
    // keys.
    store_with_history(&backend, 1000);
    let db_len = std::fs::metadata(dir.join("jifen.sqlite3")).unwrap().len();
    // JIFEN_TEST_FLIP_SEED=S repeats a run.
    let seed = std::env::var("JIFEN_TEST_FLIP_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("flip seed {seed} over {db_len} bytes");
    let mut rng = common::Rng(seed);
    let work = common::temp_dir("flips");
    let (mut seen, mut refused_n, mut reported_n) = (0, 0, 0);
    // JIFEN_TEST_FLIPS=N tries more (the suite tries 20).
    let flips: usize = std::env::var("JIFEN_TEST_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for flip in 0..flips {
        let copy = work.join(format!("flip-{flip}"));
        copy_dir(dir, &copy);
        let at = rng.next() % db_len;
        let xor = (rng.next() % 255 + 1) as u8;
        let path = copy.join("jifen.sqlite3");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at as usize] ^= xor;
        std::fs::write(&path, &bytes).unwrap();
        let (verified, verify_text) =
            common::run(common::jifen().args(["--data", copy.to_str().unwrap(), "verify"]));
        let verify_saw = !verified.status.success();
        let (refused, reported, said) = serve_damaged(&copy);
        eprintln!(
            "flip {flip}: byte {at} ^ {xor:#04x}: verify {}, server {}",
            if verify_saw {
                "reports damage"
            } else {
                "passes"
            },
            if refused {
                "refuses to start"
            } else if reported {
                "reports damage"
            } else {
                "serves"
            }
        );
        assert!(
            verify_saw == (refused || reported),
            "flip {flip} (seed {seed}, byte {at} ^ {xor:#04x}): verify {} but the server {}:\n{verify_text}\n{said}",
            if verify_saw { "saw damage" } else { "saw none" },
            if refused || reported { "reported some" } else { "served without a word" },
        );
        seen += usize::from(verify_saw);
        refused_n += usize::from(refused);
        reported_n += usize::from(reported);
        let _ = std::fs::remove_dir_all(&copy);
    }
    eprintln!(
        "{seen} of {flips} flips seen; the server refused {refused_n} and reported {reported_n}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// A store with `n` consumers registered, paid and confirmed, a snapshot every 1000 entries, a
/// settlement and a key, stopped cleanly with everything in the database file.
fn store_with_history(backend: &Backend, n: usize) {
    let s = Server::start(&Opts::with(backend, vec!["--snapshot-every", "1000"]));
    create(&s, "e", json!({}));
    s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type": "register_merchant", "id": "m", "account": "m"}),
    );
    let batch: Vec<Value> = (0..n)
        .flat_map(|i| {
            vec![
                json!({"type": "register_consumer", "id": format!("r{i}"), "account": format!("c{i}")}),
                json!({"type": "pay_order", "id": format!("p{i}"), "order": format!("o{i}"), "consumer": format!("c{i}"), "merchant": "m", "cash_fen": 1000, "stable_fen": 0}),
                json!({"type": "confirm_order", "id": format!("k{i}"), "order": format!("o{i}")}),
            ]
        })
        .collect();
    for chunk in batch.chunks(900) {
        s.post(
            "/v1/economies/e/commands",
            ADMIN,
            &Value::Array(chunk.to_vec()),
        );
    }
    s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type": "settle_dividends", "id": "d1", "day": "2026-01-01"}),
    );
    s.post("/v1/economies/e/keys", ADMIN, &json!({"role": "auditor"}));
    s.stop();
    if let Backend::Sqlite { dir } = backend {
        let conn = rusqlite::Connection::open(dir.join("jifen.sqlite3")).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
    }
}

#[test]
fn damage_to_an_index_and_to_snapshotted_history_is_caught() {
    // An index page: a byte of its last cell flipped. The rows are intact; the index is not.
    let backend = Backend::sqlite();
    store_with_history(&backend, 400);
    let Backend::Sqlite { dir } = &backend else {
        unreachable!()
    };
    let db = dir.join("jifen.sqlite3");
    let (page_size, root): (i64, i64) = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let page_size = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        let root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'samples_by_time'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (page_size, root)
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let last = (root * page_size - 1) as usize;
    bytes[last] ^= 0x55;
    std::fs::write(&db, &bytes).unwrap();
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).arg("verify"));
    assert!(
        !out.status.success(),
        "verify passed a damaged index:\n{text}"
    );
    assert!(
        text.contains("FAILED  store: SQLite integrity_check"),
        "{text}"
    );
    let (refused, reported, said) = serve_damaged(dir);
    assert!(
        refused || reported,
        "the server served a damaged index silently: {said}"
    );

    // History a snapshot covers: an entry's time changed (the hash chain does not cover times;
    // the Merkle groups the snapshot recorded do).
    let backend = Backend::sqlite();
    store_with_history(&backend, 500);
    backend.rewrite_block("e", 5, |entries| {
        let e = entries.iter_mut().find(|e| e.seq == 5).unwrap();
        e.ts_ms += 1;
    });
    let Backend::Sqlite { dir } = &backend else {
        unreachable!()
    };
    let (refused, _, said) = serve_damaged(dir);
    assert!(refused, "the server started on changed history: {said}");
    assert!(said.contains("Merkle root of entries 1 to 256"), "{said}");
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).arg("verify"));
    assert!(!out.status.success(), "{text}");
}

#[test]
fn verify_checks_postgresql_with_amcheck_or_says_it_could_not() {
    let backend = Backend::postgres();
    store_with_history(&backend, 50);
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).arg("verify"));
    assert!(out.status.success(), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("store:"))
        .unwrap_or_else(|| panic!("no store line: {text}"));
    assert!(
        line.starts_with("ok      store: PostgreSQL amcheck (bt_index_check) on")
            || line.starts_with("note    store: PostgreSQL: amcheck is not installed"),
        "{line}"
    );
    eprintln!("{line}");
}

#[test]
fn a_generated_admin_key_can_be_rotated() {
    let backend = Backend::sqlite();
    let first = |s: &Server| {
        s.stdout
            .iter()
            .find_map(|l| l.split_once("admin key (shown once; only its hash is stored): "))
            .map(|(_, k)| k.to_string())
    };
    let opts = Opts {
        backend: &backend,
        clock: None,
        extra: vec![],
        admin_env: false,
        log_to: None,
    };
    let s = Server::start(&opts);
    let old = first(&s).expect("a first start prints the key");
    assert_eq!(s.call("GET", "/v1/economies", Some(&old), None).0, 200);
    // Not while the server runs.
    let (out, text) = common::run(
        common::jifen()
            .args(backend.cli_args())
            .args(["admin-key", "rotate"]),
    );
    assert!(
        !out.status.success() && text.contains("in use by process"),
        "{text}"
    );
    s.stop();
    let (out, text) = common::run(
        common::jifen()
            .args(backend.cli_args())
            .args(["admin-key", "rotate"]),
    );
    assert!(out.status.success(), "{text}");
    let new = String::from_utf8_lossy(&out.stdout)
        .split_once("admin key (shown once; only its hash is stored): ")
        .map(|(_, k)| k.trim().to_string())
        .unwrap();
    let s = Server::start(&opts);
    assert!(first(&s).is_none(), "a key was printed again");
    assert_eq!(s.call("GET", "/v1/economies", Some(&old), None).0, 401);
    assert_eq!(s.call("GET", "/v1/economies", Some(&new), None).0, 200);
    s.stop();
}
