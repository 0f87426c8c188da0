//! The first start of a server: its admin key, shown once, and the README's examples.

use serde_json::Value;

use crate::support::Backend;
use crate::web::*;

#[test]
fn first_start_prints_an_admin_key_once_and_the_readme_curl_works() {
    let backend = Backend::sqlite();
    let opts = Opts {
        backend: &backend,
        clock: None,
        extra: vec!["--demo"],
        admin_env: false,
        log_to: None,
    };
    let s = Server::start(&opts);
    let key = s
        .stdout
        .iter()
        .find_map(|l| l.split("stored): ").nth(1))
        .expect("the admin key is printed")
        .to_string();
    // The README's curl lines, run as printed with the key it says to export (only the port
    // differs: the test server listens on a free one).
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let curls: Vec<&str> = readme.lines().filter(|l| l.starts_with("curl ")).collect();
    assert!(curls.len() >= 2, "the README has curl examples");
    for line in curls {
        let line = line.replace("127.0.0.1:8080", &s.addr);
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                &format!("set -o pipefail; {line} --fail-with-body --silent --show-error"),
            ])
            .env("JIFEN_KEY", &key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{line}: not JSON"));
        assert!(body.is_object(), "{line}");
    }
    // The OpenAPI document lists every route the router serves.
    let doc = s.get("/v1/openapi.json", &key);
    for path in [
        "/v1/economies",
        "/v1/economies/{eco}/commands",
        "/v1/economies/{eco}/state",
        "/v1/economies/{eco}/price-history",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    let (status, metrics) = s.raw(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 200);
    assert!(metrics.contains("jifen_commands_applied_total"));
    s.stop();
    // A second start prints no key.
    let s = Server::start(&opts);
    assert!(
        !s.stdout.iter().any(|l| l.contains("admin key")),
        "{:?}",
        s.stdout
    );
    s.stop();
}
