//! Issue 23's members over HTTP: a CSV import whose dry run reports every bad line and writes
//! nothing, then imports a thousand members in one batch (display names, referrers, identity
//! links that the shop's later orders follow); a note per account; and a wallet link with its
//! QR code, read back by an independent decoder (zxing-cpp, from PyPI).

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

/// A thousand members: m0 refers the next nine, and every tenth has a phone identity.
pub fn members_csv(n: usize) -> String {
    let mut csv = String::from("account,display_name,referrer,identity\n");
    for i in 0..n {
        let referrer = if i > 0 && i < 10 { "m0" } else { "" };
        let identity = if i % 10 == 0 {
            format!("phone:139{i:08}")
        } else {
            String::new()
        };
        csv.push_str(&format!("m{i},会员 {i},{referrer},{identity}\n"));
    }
    csv
}

fn import(s: &Server, csv: &str, dry_run: bool) -> (u16, Value) {
    let path = format!("/v1/economies/i/members/import?dry_run={dry_run}");
    let headers = [
        ("Authorization", format!("Bearer {ADMIN}")),
        ("Content-Type", "text/csv".to_string()),
    ];
    let (status, text) = crate::common::http(&s.addr, "POST", &path, &headers, csv).unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn accounts(s: &Server) -> u64 {
    let search = s.get("/v1/economies/i/accounts?limit=100", ADMIN);
    search["accounts"].as_array().unwrap().len() as u64
}

#[test]
fn members_are_imported_whole_after_a_dry_run_and_links_carry_a_qr_code() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "i", json!({}));
    s.post(
        "/v1/economies/i/commands",
        ADMIN,
        &json!([
        {"type":"register_merchant","id":"1","account":"shop"}]),
    );
    // One bad line (an account name with a space) among a thousand: the dry run names it, and
    // an import of that file writes nothing.
    let good = members_csv(1000);
    let bad = good.replace("m500,会员 500,,", "m 500,会员 500,,");
    let (status, report) = import(&s, &bad, true);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["problems"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["problems"][0]["line"], 502);
    assert_eq!(report["problems"][0]["code"], "bad_account");
    let (status, refused) = import(&s, &bad, false);
    assert_eq!(
        (status, &refused["error"]["code"]),
        (422, &json!("invalid_import"))
    );
    assert_eq!(refused["problems"][0]["line"], 502);
    assert_eq!(accounts(&s), 1, "nothing was written");
    // The good file: a clean dry run, then one batch.
    let (status, report) = import(&s, &good, true);
    assert_eq!(
        (status, report["members"].clone()),
        (200, json!(1000)),
        "{report}"
    );
    let (status, done) = import(&s, &good, false);
    assert_eq!(
        (status, done["imported"].clone()),
        (200, json!(1000)),
        "{done}"
    );
    let m5 = s.get("/v1/economies/i/accounts/m5", ADMIN);
    assert_eq!(m5["referrer"], "m0");
    let profile = s.get("/v1/economies/i/members/m5", ADMIN);
    assert_eq!(profile["display_name"], "会员 5");
    // Importing again: every line is now a duplicate.
    let (_, again) = import(&s, &good, true);
    assert_eq!(again["problems"].as_array().unwrap().len(), 1000);
    assert_eq!(again["problems"][0]["code"], "duplicate_account");
    a_note_is_kept(&s);
    an_identity_link_is_followed(&s);
    a_link_carries_its_qr_code(&s);
}

fn a_note_is_kept(s: &Server) {
    let headers = [
        ("Authorization", format!("Bearer {ADMIN}")),
        ("Content-Type", "application/json".to_string()),
    ];
    let body = json!({"note": "VIP：偏好白葡萄酒"}).to_string();
    let (status, text) = crate::common::http(
        &s.addr,
        "PUT",
        "/v1/economies/i/members/m7/note",
        &headers,
        &body,
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    let profile = s.get("/v1/economies/i/members/m7", ADMIN);
    assert_eq!(profile["note"], "VIP：偏好白葡萄酒");
    assert_eq!(profile["display_name"], "会员 7", "the name stays");
}

/// The import linked m20's phone: linking it again is refused as a duplicate in a dry run.
fn an_identity_link_is_followed(s: &Server) {
    let csv = "account,display_name,referrer,identity\nnew1,,,13900000020\n";
    let (_, report) = import(s, csv, true);
    assert_eq!(
        report["problems"][0]["code"], "duplicate_identity",
        "{report}"
    );
}

fn a_link_carries_its_qr_code(s: &Server) {
    let link = s.post(
        "/v1/economies/i/wallet-links",
        ADMIN,
        &json!({"account": "m3", "ttl_s": 3600, "base_url": "https://shop.example/"}),
    );
    let whole = link["link"].as_str().unwrap();
    assert_eq!(
        whole,
        format!("https://shop.example{}", link["url"].as_str().unwrap())
    );
    let (decoded, ok) =
        crate::common::python_script("qr_decode.py", &json!({"data_url": link["qr_png"]}));
    assert!(ok, "the QR code decodes");
    assert_eq!(String::from_utf8(decoded).unwrap(), whole);
    let body = json!({"account": "m3", "base_url": "javascript:alert(1)"}).to_string();
    let bad = s.call(
        "POST",
        "/v1/economies/i/wallet-links",
        Some(ADMIN),
        Some(&body),
    );
    assert_eq!(bad.0, 422, "{bad:?}");
}
