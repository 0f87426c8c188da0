//! Bad input is a clear 4xx with a stable code and a message, and changes nothing.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

/// A server with economy `e`, and its journal head now.
fn fixture(backend: &Backend) -> (Server, Value) {
    let s = Server::simple(backend);
    create(&s, "e", json!({}));
    let head = s.get("/v1/economies/e", ADMIN)["head_seq"].clone();
    (s, head)
}

fn head(s: &Server) -> Value {
    s.get("/v1/economies/e", ADMIN)["head_seq"].clone()
}

/// A body over the limit, sent whole even when the server answers and closes before the end
/// (an HTTP client stops at the broken pipe and never reads the answer).
fn oversized(s: &Server, body: &str) -> (u16, Value) {
    let head = format!(
        "POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(&s.addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let request = (head + body).into_bytes();
    // Written beside the read, so the answer is read as soon as it comes.
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = writer.write_all(&request);
    });
    let mut bytes = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut bytes);
    let answer = String::from_utf8_lossy(&bytes).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Requests that must be refused: each with the status and code it must get, and what it got.
fn refused_requests(s: &Server) -> Vec<(u16, &'static str, (u16, Value))> {
    let post = |body: &str| s.call("POST", "/v1/economies/e/commands", Some(ADMIN), Some(body));
    vec![
        (400, "malformed_json", post("{\"type\":")),
        (400, "malformed_json", post("[1,2")),
        (400, "malformed_json", post("[1,]")),
        (400, "malformed_json", post("[{\"a\":1}]]")),
        (
            400,
            "malformed_json",
            post(r#"[{"type":"register_consumer","id":"ok-before-bad","account":"zz"},{nope}]"#),
        ),
        (422, "invalid_request", post("42")),
        (422, "invalid_request", post("[]")),
        (
            422,
            "batch_too_large",
            post(
                &serde_json::to_string(&vec![
                    json!({"type":"register_merchant","id":"a","account":"a"});
                    8191
                ])
                .unwrap(),
            ),
        ),
        (
            413,
            "body_too_large",
            oversized(s, &format!("[\"{}\"]", "x".repeat(5 << 20))),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":5,"name":"x"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","colour":"red"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","rules":{"reserve_bps":"a lot"}}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","rules":{"reserve_bps":20000}}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies",
                Some(ADMIN),
                Some(r#"{"id":"g","name":"x","timezone":"Mars/Olympus"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "POST",
                "/v1/economies/e/keys",
                Some(ADMIN),
                Some(r#"{"role":"merchant","account":"nobody"}"#),
            ),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "GET",
                "/v1/economies/e/events?limit=100000",
                Some(ADMIN),
                None,
            ),
        ),
        (
            400,
            "bad_request",
            s.call("GET", "/v1/economies/e/events?after=-1", Some(ADMIN), None),
        ),
        (
            422,
            "invalid_request",
            s.call(
                "GET",
                "/v1/economies/e/price-history?step=0",
                Some(ADMIN),
                None,
            ),
        ),
        (
            404,
            "not_found",
            s.call("GET", "/v1/nothing", Some(ADMIN), None),
        ),
        (
            405,
            "method_not_allowed",
            s.call("PUT", "/v1/economies/e/state", Some(ADMIN), None),
        ),
    ]
}

#[test]
fn malformed_bodies_paths_and_queries_are_clear_4xx() {
    let backend = Backend::sqlite();
    let (s, before) = fixture(&backend);
    for (want_status, want_code, (status, v)) in refused_requests(&s) {
        assert_eq!(status, want_status, "{v}");
        assert_eq!(v["error"]["code"], want_code, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    assert_eq!(head(&s), before, "nothing was applied");
    s.stop();
}

#[test]
fn header_tricks_are_refused() {
    let backend = Backend::sqlite();
    let (s, before) = fixture(&backend);
    // Header tricks.
    let body = r#"{"type":"register_merchant","id":"h1","account":"h1"}"#;
    let with = |headers: &str| {
        s.raw(format!("POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
    };
    let two_keys = format!("Authorization: Bearer {ADMIN}\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n");
    assert_eq!(with(&two_keys).0, 401, "two Authorization headers");
    assert_eq!(
        with(&format!(
            "Authorization: bearer{ADMIN}\r\nContent-Type: application/json\r\n"
        ))
        .0,
        401
    );
    let (status, text) = with(&format!(
        "Authorization: Bearer {ADMIN}\r\nContent-Type: text/plain\r\n"
    ));
    assert_eq!(status, 415, "{text}");
    let (status, _) = s.raw(format!("POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{body}").as_bytes());
    assert_eq!(status, 400, "two Content-Lengths");
    let (status, _) = s.raw(format!("POST /v1/economies/e/commands HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nzz\r\n").as_bytes());
    assert!(
        status == 400 || status == 422,
        "chunked and a length: {status}"
    );
    assert_eq!(head(&s), before, "nothing was applied");
    s.stop();
}

#[test]
fn a_rejected_command_is_an_outcome_and_amounts_come_as_strings_too() {
    let backend = Backend::sqlite();
    let (s, _) = fixture(&backend);
    let v = s.post(
        "/v1/economies/e/commands",
        ADMIN,
        &json!({"type":"sell","id":"q","account":"nobody","atoms":1}),
    );
    assert_eq!(v["outcomes"][0]["code"], "unknown_account");
    let state = s.get("/v1/economies/e?x=1", ADMIN);
    assert_eq!(state["reserve_fen_str"], state["reserve_fen"].to_string());
    s.stop();
}
