//! Reads of large views come from a copy of committed state, off the writer's thread, and
//! still show every command answered before them; metrics read the committed head without a
//! trip to any writer.

use serde_json::json;

use crate::support::Backend;
use crate::web::*;

on_both_backends! {
    every_answered_command_is_in_the_next_read => super::every_answered_command_is_in_the_next_read;
}

fn every_answered_command_is_in_the_next_read(backend: &Backend) {
    let s = Server::simple(backend);
    create(&s, "e", json!({}));
    for i in 0..40 {
        let v = s.post(
            "/v1/economies/e/commands",
            ADMIN,
            &json!({"type":"register_consumer","id":format!("r{i}"),"account":format!("c{i}")}),
        );
        let seq = v["outcomes"][0]["seq"].as_u64().unwrap();
        // The state, the leaderboard and the search read copies: each holds the command.
        let state = s.get("/v1/economies/e/state", ADMIN);
        assert!(
            state["accounts"].get(format!("c{i}")).is_some(),
            "{i}: {state}"
        );
        let found = s.get(&format!("/v1/economies/e/accounts?q=c{i}"), ADMIN);
        assert!(
            found["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["account"] == format!("c{i}")),
            "{found}"
        );
        let (status, metrics) = s.call("GET", "/metrics", Some(ADMIN), None);
        assert_eq!(status, 200);
        let head = metrics
            .as_str()
            .unwrap()
            .lines()
            .find(|l| l.starts_with("jifen_economy_head_seq{economy=\"e\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap();
        assert!(
            head >= seq,
            "the metrics' head {head} is before the answered {seq}"
        );
    }
    s.stop();
}
