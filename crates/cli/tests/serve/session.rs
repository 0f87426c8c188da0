//! Console sessions over plain HTTP: who may sign in, a strict cookie, CSRF tokens for changes,
//! and sessions that end when tampered with or when their key is revoked.

use serde_json::{json, Value};

use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    only_operator_and_admin_keys_sign_in => super::only_operator_and_admin_keys_sign_in;
    changes_by_cookie_need_the_csrf_token => super::changes_by_cookie_need_the_csrf_token;
    a_tampered_or_revoked_session_is_refused => super::a_tampered_or_revoked_session_is_refused;
}

/// Economy `c` with an operator key (its record too) and a merchant key.
struct Fixture {
    s: Server,
    operator: Value,
    merchant: Value,
}

impl Fixture {
    fn new(backend: &Backend) -> Fixture {
        let s = Server::simple(backend);
        create(&s, "c", json!({}));
        s.post(
            "/v1/economies/c/commands",
            ADMIN,
            &json!([
                {"type":"register_merchant","id":"1","account":"shop"},
                {"type":"register_consumer","id":"2","account":"alice"},
            ]),
        );
        let operator = s.post("/v1/economies/c/keys", ADMIN, &json!({"role": "operator"}));
        let merchant = s.post(
            "/v1/economies/c/keys",
            ADMIN,
            &json!({"role": "merchant", "account": "shop"}),
        );
        Fixture {
            s,
            operator,
            merchant,
        }
    }

    fn operator_key(&self) -> &str {
        self.operator["key"].as_str().unwrap()
    }

    /// `POST /v1/session` with `key`: the status, the headers and the body.
    fn sign_in(&self, key: &str) -> (u16, String, String) {
        let body = json!({ "key": key }).to_string();
        let answer = crate::common::raw_answer(
            &self.s.addr,
            format!(
                "POST /v1/session HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (status, head.to_string(), body.to_string())
    }

    /// A request with the session `cookie` (`jifen_session=…`) and, when given, a CSRF token.
    fn with_cookie(
        &self,
        cookie: &str,
        method: &str,
        path: &str,
        csrf: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(c) = csrf {
            req.push_str(&format!("X-CSRF-Token: {c}\r\n"));
        }
        req.push_str(&format!("\r\n{body}"));
        self.s.raw(req.as_bytes())
    }
}

/// An operator's session: the cookie (`jifen_session=…`) and the CSRF token; the cookie is
/// HttpOnly and SameSite=Strict.
pub fn operator_session(f_addr: &str, key: &str) -> (String, String) {
    let (cookie, csrf) = crate::common::sign_in(f_addr, key);
    (format!("jifen_session={cookie}"), csrf)
}

fn only_operator_and_admin_keys_sign_in(backend: &Backend) {
    let f = Fixture::new(backend);
    assert_eq!(f.sign_in("jfk_nope_nope").0, 401, "a wrong key");
    let merchant = f.merchant["key"].as_str().unwrap();
    assert_eq!(
        f.sign_in(merchant).0,
        403,
        "merchants do not sign in to the console"
    );
    let (status, head, body) = f.sign_in(f.operator_key());
    assert_eq!(status, 200, "{body}");
    let cookie_line = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"));
    assert!(serde_json::from_str::<Value>(&body).unwrap()["csrf"].is_string());
    f.s.stop();
}

fn changes_by_cookie_need_the_csrf_token(backend: &Backend) {
    let f = Fixture::new(backend);
    let (cookie, csrf) = operator_session(&f.s.addr, f.operator_key());
    assert_eq!(
        f.with_cookie(&cookie, "GET", "/v1/economies/c/overview", None, "")
            .0,
        200
    );
    let register = r#"{"type":"register_consumer","id":"csrf-1","account":"carol"}"#;
    let (status, body) = f.with_cookie(&cookie, "POST", "/v1/economies/c/commands", None, register);
    assert_eq!(
        status, 403,
        "a change by cookie without the CSRF token: {body}"
    );
    assert!(body.contains("csrf_failed"), "{body}");
    let wrong = "0".repeat(csrf.len());
    let (status, _) = f.with_cookie(
        &cookie,
        "POST",
        "/v1/economies/c/commands",
        Some(&wrong),
        register,
    );
    assert_eq!(status, 403);
    let (status, _) =
        f.s.call("GET", "/v1/economies/c/accounts/carol", Some(ADMIN), None);
    assert_eq!(status, 404, "the refused changes changed nothing");
    let (status, _) = f.with_cookie(
        &cookie,
        "POST",
        "/v1/economies/c/commands",
        Some(&csrf),
        register,
    );
    assert_eq!(status, 200, "with the token it goes through");
    f.s.stop();
}

fn a_tampered_or_revoked_session_is_refused(backend: &Backend) {
    let f = Fixture::new(backend);
    let (cookie, _) = operator_session(&f.s.addr, f.operator_key());
    let tampered = cookie.replacen("7b", "7c", 1);
    let (status, body) = f.with_cookie(&tampered, "GET", "/v1/economies/c/overview", None, "");
    assert_eq!(status, 401, "{body}");
    let id = f.operator["id"].as_str().unwrap();
    let (status, _) = f.s.call(
        "DELETE",
        &format!("/v1/economies/c/keys/{id}"),
        Some(ADMIN),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = f.with_cookie(&cookie, "GET", "/v1/economies/c/overview", None, "");
    assert_eq!(status, 401, "a revoked key's session");
    f.s.stop();
}
