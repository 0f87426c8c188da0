//! Inside WeChat (issue 23, docs/WECHAT.md): an admin uploads WeChat's domain verification file
//! and the server answers it at its root with exactly its content; only admins may, names and
//! contents are bounded, and a deleted file is gone. The wallet uses no cookies.

use serde_json::json;

use crate::support::Backend;
use crate::web::*;

fn put(s: &Server, key: &str, name: &str, body: &str) -> u16 {
    let headers = [
        ("Authorization", format!("Bearer {key}")),
        ("Content-Type", "text/plain".to_string()),
    ];
    let path = format!("/v1/wechat/verification-files/{name}");
    crate::common::http(&s.addr, "PUT", &path, &headers, body)
        .unwrap()
        .0
}

#[test]
fn a_wechat_verification_file_is_served_at_the_root() {
    let backend = Backend::sqlite();
    let s = Server::simple(&backend);
    create(&s, "w", json!({}));
    let operator = s.post("/v1/economies/w/keys", ADMIN, &json!({"role": "operator"}));
    let operator = operator["key"].as_str().unwrap();
    let content = "a8f3c2d1e0b9f7a6";
    assert_eq!(
        put(&s, operator, "6ynZPDvfTF.txt", content),
        403,
        "admins only"
    );
    assert_eq!(
        put(&s, ADMIN, "index.html", content),
        422,
        "WeChat's names only"
    );
    assert_eq!(
        put(&s, ADMIN, "6ynZPDvfTF.txt", &"x".repeat(1025)),
        422,
        "small"
    );
    assert_eq!(
        put(&s, ADMIN, "6ynZPDvfTF.txt", "bad\u{7}"),
        422,
        "printable"
    );
    assert_eq!(put(&s, ADMIN, "6ynZPDvfTF.txt", content), 200);
    let answer = crate::common::raw_answer(
        &s.addr,
        b"GET /6ynZPDvfTF.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        body, content,
        "exactly the content, as WeChat's check wants"
    );
    assert!(
        head.to_lowercase().contains("content-type: text/plain"),
        "{head}"
    );
    let listed = s.get("/v1/wechat/verification-files", ADMIN);
    assert_eq!(listed["files"][0]["name"], "6ynZPDvfTF.txt");
    let (status, _) = s.raw(b"GET /other.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 404);
    let (status, _) = s.call(
        "DELETE",
        "/v1/wechat/verification-files/6ynZPDvfTF.txt",
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) =
        s.raw(b"GET /6ynZPDvfTF.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 404, "deleted");
    // The pages the consumer opens inside WeChat keep nothing in cookies.
    let wallet = include_str!("../../../server/assets/wallet.html");
    assert!(!wallet.contains("document.cookie") && !wallet.contains("credentials:"));
}
