//! Issue 8: a journal of more than 100,000 entries; an independent Python implementation
//! recomputes the tree and verifies every proof the server gives; `jifen proof verify` checks
//! heads and proofs offline and refuses a forged signature; changing one entry after a head was
//! signed is caught by `jifen verify` and by the consistency proof from that head.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{json, Value};

use crate::common;
use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    transparency_proofs_check_independently_and_tampering_is_caught => super::transparency;
}

/// Writes `path` with `value` as JSON.
fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, value.to_string()).unwrap();
}

/// `jifen proof verify`, trusting only the public key in `dir`, with `(flag, file)` pairs.
fn verify_offline(dir: &Path, extra: &[(&str, &str)]) -> (Output, String) {
    let mut cmd = common::jifen();
    cmd.args(["proof", "verify", "--public-key"])
        .arg(dir.join("key.json"));
    for (flag, file) in extra {
        cmd.arg(flag).arg(dir.join(file));
    }
    common::run(&mut cmd)
}

/// Economy `t`: 1,000 consumers and 50,000 orders paid and confirmed, then one settlement.
/// Answers the settlement's seq.
fn a_long_journal(s: &Server) -> u64 {
    create(s, "t", json!({}));
    let mut batch = vec![json!({"type":"register_merchant","id":"m","account":"m"})];
    for c in 0..1000 {
        batch.push(
            json!({"type":"register_consumer","id":format!("r{c}"),"account":format!("c{c}")}),
        );
    }
    s.post("/v1/economies/t/commands", ADMIN, &Value::Array(batch));
    for n in (0..50_000).step_by(2500) {
        let batch: Vec<Value> = (n..n + 2500)
            .flat_map(|i| {
                let (o, c) = (format!("o{i}"), format!("c{}", i % 1000));
                [
                    json!({"type":"pay_order","id":format!("p{i}"),"order":o,"consumer":c,"merchant":"m","cash_fen":1000 + i % 97,"stable_fen":0}),
                    json!({"type":"confirm_order","id":format!("k{i}"),"order":o}),
                ]
            })
            .collect();
        s.post("/v1/economies/t/commands", ADMIN, &Value::Array(batch));
    }
    let settled = s.post(
        "/v1/economies/t/commands",
        ADMIN,
        &json!({"type":"settle_dividends","id":"day1","day":"2026-11-25"}),
    );
    settled["outcomes"][0]["seq"].as_u64().unwrap()
}

/// The head the tree signer signs after the settlement at `settle_seq`.
fn head_after_settlement(s: &Server, settle_seq: u64) -> Value {
    let mut head = Value::Null;
    eventually("a head after the settlement", || {
        let (status, v) = s.call(
            "GET",
            "/v1/economies/t/tree-heads/latest",
            Some(ADMIN),
            None,
        );
        head = v;
        status == 200
    });
    let size = head["tree_size"].as_u64().unwrap();
    // Every command sent, plus the server's own `advance_clock` entries, up to the settlement.
    assert!(size > 1 + 1000 + 100_000, "{head}");
    assert_eq!(size, settle_seq, "{head}");
    head
}

/// The independent Python implementation recomputes the tree and checks sampled proofs.
fn python_recomputes_the_tree(s: &Server) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/merkle_check.py");
    let url = format!("http://{}", s.addr);
    let (out, text) = common::run(std::process::Command::new("python3").arg(&script).args([
        "--url",
        &url,
        "--key",
        ADMIN,
        "--economy",
        "t",
        "--samples",
        "25",
    ]));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all checks passed"), "{text}");
}

/// Offline, with the CLI: a true inclusion proof passes; a forged head and a changed proof fail.
fn offline_checks_refuse_forgeries(s: &Server, dir: &Path, head: &Value) {
    let size = head["tree_size"].as_u64().unwrap();
    write_json(&dir.join("key.json"), &s.get("/v1/tree-key", ADMIN));
    write_json(&dir.join("head.json"), head);
    let proof = s.get(
        &format!("/v1/economies/t/proofs/inclusion?seq=777&tree_size={size}"),
        ADMIN,
    );
    write_json(&dir.join("inclusion.json"), &proof);
    let (out, text) = verify_offline(
        dir,
        &[("--head", "head.json"), ("--inclusion", "inclusion.json")],
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("entry 777") && text.contains("is included"),
        "{text}"
    );
    let mut forged = head.clone();
    forged["root_hash"] = json!("00".repeat(32));
    write_json(&dir.join("forged.json"), &forged);
    let (out, text) = verify_offline(
        dir,
        &[("--head", "forged.json"), ("--inclusion", "inclusion.json")],
    );
    assert!(!out.status.success() && text.contains("forged"), "{text}");
    let mut bad_proof = proof.clone();
    bad_proof["proof"][0] = json!("11".repeat(32));
    write_json(&dir.join("bad-inclusion.json"), &bad_proof);
    let (out, text) = verify_offline(
        dir,
        &[
            ("--head", "head.json"),
            ("--inclusion", "bad-inclusion.json"),
        ],
    );
    assert!(
        !out.status.success() && text.contains("NOT included"),
        "{text}"
    );
}

/// More entries, a second head, and a consistency proof between the two: answers the second
/// head's size.
fn a_later_head_is_consistent(s: &Server, dir: &Path, size: u64) -> u64 {
    let late = s.post(
        "/v1/economies/t/commands",
        ADMIN,
        &json!([{"type":"register_consumer","id":"late-1","account":"late1"},{"type":"register_consumer","id":"late-2","account":"late2"}]),
    );
    let head2 = s.post("/v1/economies/t/tree-heads", ADMIN, &json!({}));
    let size2 = head2["tree_size"].as_u64().unwrap();
    assert_eq!(size2, late["outcomes"][1]["seq"].as_u64().unwrap());
    assert!(size2 > size);
    write_json(&dir.join("head2.json"), &head2);
    let consistency = s.get(
        &format!("/v1/economies/t/proofs/consistency?from={size}&to={size2}"),
        ADMIN,
    );
    write_json(&dir.join("consistency.json"), &consistency);
    let (out, text) = verify_offline(
        dir,
        &[
            ("--head", "head2.json"),
            ("--consistency", "consistency.json"),
            ("--old-head", "head.json"),
        ],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("is a prefix"), "{text}");
    size2
}

/// Entry `size - 5` gets another time. Its hash link does not cover the time, so only the
/// signed tree can tell: `jifen verify` does, and so does a consistency proof from the first
/// head, after a restart.
fn a_changed_entry_is_caught(backend: &Backend, dir: &Path, size: u64, size2: u64) {
    let target = size - 5;
    backend.rewrite_block("t", target, |entries| {
        let e = entries.iter_mut().find(|e| e.seq == target).unwrap();
        e.ts_ms += 1;
    });
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).args(["verify"]));
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("an entry was changed after it was signed"),
        "{text}"
    );
    let s = Server::simple(backend);
    let consistency = s.get(
        &format!("/v1/economies/t/proofs/consistency?from={size}&to={size2}"),
        ADMIN,
    );
    write_json(&dir.join("consistency-after.json"), &consistency);
    let head3 = s.post("/v1/economies/t/tree-heads", ADMIN, &json!({}));
    write_json(&dir.join("head3.json"), &head3);
    let (out, text) = verify_offline(
        dir,
        &[
            ("--head", "head3.json"),
            ("--consistency", "consistency-after.json"),
            ("--old-head", "head.json"),
        ],
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("history was rewritten") || text.contains("the proof is from"),
        "{text}"
    );
    s.stop();
}

fn transparency(backend: &Backend) {
    let s = Server::simple(backend);
    let settle_seq = a_long_journal(&s);
    let head = head_after_settlement(&s, settle_seq);
    let size = head["tree_size"].as_u64().unwrap();
    python_recomputes_the_tree(&s);
    let dir = common::temp_dir(&format!("proofs-{}", backend.name()));
    offline_checks_refuse_forgeries(&s, &dir, &head);
    let size2 = a_later_head_is_consistent(&s, &dir, size);
    s.stop();
    let (out, text) = common::run(common::jifen().args(backend.cli_args()).args(["verify"]));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 signed tree head(s) match"), "{text}");
    a_changed_entry_is_caught(backend, &dir, size, size2);
}
