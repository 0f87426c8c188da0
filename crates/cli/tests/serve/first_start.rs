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
    the_demo_has_sixty_days(&s, &key);
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

/// `serve --demo` (issue 23): 60 days of history on the server's clock, with daily settlements
/// that paid, exits, sales, consumers in every tier, a partner, an award, collectibles listed
/// for the Collectibles tab, a frozen account and orders still pending.
fn the_demo_has_sixty_days(s: &Server, key: &str) {
    let e = s.get("/v1/economies/demo", key);
    let settlements = s.get("/v1/economies/demo/settlements?limit=90", key)["settlements"].clone();
    let settlements = settlements.as_array().unwrap();
    assert_eq!(settlements.len(), 60, "a settlement a day");
    assert!(
        settlements
            .iter()
            .filter(|d| d["paid_fen"].as_u64() > Some(0))
            .count()
            >= 55
    );
    assert!(e["exits"].as_u64().unwrap() > 0, "exits happened: {e}");
    assert!(
        e["pending_orders"].as_u64().unwrap() > 0,
        "orders inside the return window"
    );
    let created = e["created_at"].as_str().unwrap();
    let history = s.get("/v1/economies/demo/price-history", key)["points"].clone();
    let prices: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["price_yuan_per_point"].as_str())
        .collect();
    assert!(
        prices.len() > 100,
        "a price line over 60 days from {created}"
    );
    assert_ne!(prices.first(), prices.last(), "the price moved");
    let mut levels = std::collections::BTreeSet::new();
    let (mut partners, mut frozen, mut after) = (0, 0, 0u64);
    loop {
        let page = s.get(
            &format!("/v1/economies/demo/accounts?limit=100&after={after}"),
            key,
        );
        for a in page["accounts"].as_array().unwrap() {
            let tier = &a["tier"];
            if a["kind"] == "consumer" {
                levels.insert(tier["level"].as_u64().unwrap());
                partners += usize::from(tier["partner"] == true);
                frozen += usize::from(!tier["frozen"].is_null());
            }
        }
        match page["next_after"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(levels.len(), 4, "consumers in every tier: {levels:?}");
    assert!(
        partners > 0 && frozen == 1,
        "{partners} partners, {frozen} frozen"
    );
    assert_eq!(
        e["members"]["awards"][0]["places"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let collectibles = s.get("/v1/economies/demo/collectibles", key)["collectibles"].clone();
    assert_eq!(collectibles.as_array().unwrap().len(), 3, "{collectibles}");
}
