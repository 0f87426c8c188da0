//! The OpenAPI document the server serves: valid by an independent validator
//! (openapi-spec-validator from PyPI), every operation id unique, every command type a schema
//! told apart by `type`, every error declared with the one error schema, public endpoints
//! declared public; and a bounded schemathesis run against the live server finds no 5xx and no
//! answer that breaks the document.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{json, Value};

use crate::common;
use crate::support::Backend;
use crate::web::*;

/// How long schemathesis may run, in seconds (the suite allows it two minutes).
const FUZZ_SECONDS: &str = "100";

/// A server with economy `shop`, a consumer and a wallet link to them; the link's token.
fn fixture(backend: &Backend) -> (Server, String) {
    let s = Server::simple(backend);
    create(&s, "shop", json!({}));
    s.post(
        "/v1/economies/shop/commands",
        ADMIN,
        &json!([
            {"type":"register_merchant","id":"m","account":"wine-shop"},
            {"type":"register_consumer","id":"c","account":"c1001"},
        ]),
    );
    let link = s.post(
        "/v1/economies/shop/wallet-links",
        ADMIN,
        &json!({"account": "c1001", "ttl_s": 3600}),
    );
    (s, link["token"].as_str().unwrap().to_string())
}

/// Every operation of the document: path, method and the operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    out
}

fn is_public(op: &Value) -> bool {
    op["security"]
        .as_array()
        .is_some_and(|list| list.iter().any(|r| r == &json!({})))
}

fn the_document_holds_what_it_must(doc: &Value) {
    let ops = operations(doc);
    let ids: Vec<&str> = ops
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids repeat: {ids:?}");
    let command = &doc["components"]["schemas"]["Command"];
    assert_eq!(command["oneOf"].as_array().unwrap().len(), 27, "{command}");
    assert_eq!(command["discriminator"]["propertyName"], "type");
    let pay = &doc["components"]["schemas"]["Command_pay_order"];
    assert_eq!(
        pay["properties"]["type"]["enum"],
        json!(["pay_order"]),
        "{pay}"
    );
    assert!(
        pay["required"]
            .as_array()
            .unwrap()
            .contains(&json!("cash_fen")),
        "{pay}"
    );
    assert!(pay["examples"].is_array(), "{pay}");
    let body = &doc["paths"]["/v1/economies/{eco}/commands"]["post"]["requestBody"];
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CommandsBody"
    );
    for (path, method, op) in &ops {
        if *method != "get"
            && *method != "delete"
            && path != "/v1/economies/{eco}/tree-heads"
            && path != "/v1/economies/{eco}/verify"
            // Actions on a subscription named by the path; they take no body.
            && !path.ends_with("/webhooks/{id}/rotate")
            && !path.ends_with("/webhooks/{id}/ping")
        {
            assert!(
                op.get("requestBody").is_some(),
                "{method} {path} has no typed body"
            );
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            // /healthz's and /readyz's 503 are their answers (what they list), not errors.
            let answer = (path == "/healthz" || path == "/readyz") && status == "503";
            if (status.starts_with('4') || status.starts_with('5')) && !answer {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    for (path, method) in [
        ("/healthz", "get"),
        ("/v1/openapi.json", "get"),
        ("/v1/tree-key", "get"),
        ("/v1/content/{sha256}", "get"),
        ("/v1/public/{economy}/collectibles/{collectible}", "get"),
        ("/v1/session", "post"),
    ] {
        assert!(
            is_public(&doc["paths"][path][method]),
            "{method} {path} is public"
        );
    }
    assert!(!is_public(&doc["paths"]["/v1/economies"]["post"]));
}

#[test]
fn the_document_is_valid_and_complete() {
    let backend = Backend::sqlite();
    let (s, _) = fixture(&backend);
    let doc = s.get("/v1/openapi.json", ADMIN);
    let dir = common::temp_dir("openapi");
    let file = dir.join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let (out, text) = common::run(
        Command::new(common::python())
            .args(["-m", "openapi_spec_validator"])
            .arg(&file),
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK"), "{text}");
    the_document_holds_what_it_must(&doc);
    s.stop();
}

#[test]
fn a_bounded_fuzz_finds_no_5xx_and_no_answer_outside_the_document() {
    let backend = Backend::sqlite();
    let (s, token) = fixture(&backend);
    let dir = common::temp_dir("schemathesis");
    let config = dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        "seed = 20261204\n\n[parameters]\n\"path.eco\" = \"shop\"\n\"path.economy\" = \"shop\"\n",
    )
    .unwrap();
    let schemathesis = common::python().with_file_name("schemathesis");
    let (out, text) = common::run(
        Command::new(schemathesis)
            .current_dir(&dir)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(format!("http://{}/v1/openapi.json", s.addr))
            .args(["-H", &format!("Authorization: Bearer {ADMIN}")])
            .args(["-H", &format!("X-Wallet-Token: {token}")])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            .args(["--max-time", FUZZ_SECONDS, "--workers", "1"]),
    );
    assert!(out.status.success(), "{text}");
    let summary = text
        .lines()
        .rev()
        .find(|l| l.contains(" in "))
        .unwrap_or_default();
    println!("schemathesis: {summary}");
    s.stop();
}
