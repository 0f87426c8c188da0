//! The scheduler confirms due orders and settles each past day exactly once, across a restart
//! while the clock moves on.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::common;
use crate::support::Backend;
use crate::web::*;

const DAY: i64 = 86_400_000;
/// 2026-01-10T04:00:00Z is noon in Shanghai.
const T0: i64 = 1_768_017_600_000;

on_both_backends! {
    the_scheduler_confirms_and_settles_once_across_a_restart => super::scheduler_across_restart;
}

fn settles_by_day(s: &Server) -> std::collections::BTreeMap<String, u32> {
    let mut days = std::collections::BTreeMap::new();
    let mut after = 0;
    loop {
        let v = s.get(
            &format!("/v1/economies/e/events?after={after}&limit=1000"),
            ADMIN,
        );
        let events = v["events"].as_array().unwrap();
        if events.is_empty() {
            return days;
        }
        for e in events {
            if e["command"]["type"] == "settle_dividends" && e["outcome"]["ok"] == true {
                *days
                    .entry(e["command"]["day"].as_str().unwrap().to_string())
                    .or_insert(0) += 1;
            }
        }
        after = v["next_after"].as_u64().unwrap();
    }
}

fn status(s: &Server, order: &str) -> serde_json::Value {
    s.get(&format!("/v1/economies/e/orders/{order}"), ADMIN)["status"].clone()
}

/// Before the restart: o1 is confirmed seven days after it was paid, o2 (three days younger)
/// is not, and the seven days past are settled.
fn before_the_restart(s: &Server, clock: &Path) {
    s.post(
        "/v1/economies",
        ADMIN,
        &json!({"id": "e", "name": "e", "auto_confirm_days": 7}),
    );
    s.post("/v1/economies/e/commands", ADMIN, &json!([
        {"type":"register_merchant","id":"1","account":"m"},
        {"type":"register_consumer","id":"2","account":"c"},
        {"type":"pay_order","id":"3","order":"o1","consumer":"c","merchant":"m","cash_fen":10000,"stable_fen":0},
    ]));
    write_clock(&clock.to_path_buf(), T0 + 3 * DAY);
    s.post("/v1/economies/e/commands", ADMIN, &json!({"type":"pay_order","id":"4","order":"o2","consumer":"c","merchant":"m","cash_fen":10000,"stable_fen":0}));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(status(s, "o1"), "pending");
    // Seven days and a minute after o1: it is confirmed, o2 is not.
    write_clock(&clock.to_path_buf(), T0 + 7 * DAY + 60_000);
    eventually("o1 auto-confirmed", || status(s, "o1") == "confirmed");
    assert_eq!(status(s, "o2"), "pending");
    // Days 01-10 .. 01-16 are settled (today in Shanghai is 01-17).
    eventually("seven days settled", || settles_by_day(s).len() == 7);
}

/// After the restart: o2 confirmed, ten days settled, each exactly once.
fn after_the_restart(s: &Server) {
    eventually("o2 auto-confirmed after the restart", || {
        status(s, "o2") == "confirmed"
    });
    eventually("ten days settled", || settles_by_day(s).len() == 10);
    std::thread::sleep(Duration::from_millis(500));
    let days = settles_by_day(s);
    assert_eq!(days.keys().next().unwrap(), "2026-01-10");
    assert_eq!(days.keys().last().unwrap(), "2026-01-19");
    assert!(
        days.values().all(|n| *n == 1),
        "each day settled exactly once: {days:?}"
    );
    let confirms = s.get("/v1/economies/e/events?limit=1000", ADMIN)["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"]["type"] == "confirm_order")
        .count();
    assert_eq!(confirms, 2, "each order confirmed exactly once");
}

/// The price history has a point per day, in time order, each with the price and every amount
/// also as a string; the last change shows up once the writer falls idle.
fn the_price_history_has_a_point_per_day(s: &Server) {
    let history = || {
        s.get(
            &format!(
                "/v1/economies/e/price-history?from={T0}&to={}&step=1d",
                T0 + 11 * DAY
            ),
            ADMIN,
        )
    };
    let reserve_now = s.get("/v1/economies/e", ADMIN)["reserve_fen"].clone();
    eventually("the history reaches the state now", || {
        history()["points"]
            .as_array()
            .and_then(|p| p.last())
            .map(|p| p["reserve_fen"].clone())
            == Some(reserve_now.clone())
    });
    let h = history();
    let points = h["points"].as_array().unwrap();
    assert_eq!(points.len(), 12, "{h}");
    assert!(points
        .windows(2)
        .all(|w| w[0]["t_ms"].as_i64() < w[1]["t_ms"].as_i64()));
    for p in points {
        assert!(
            p["price_yuan_per_point"]
                .as_str()
                .is_some_and(|x| x.contains('.')),
            "{p}"
        );
        assert_eq!(p["reserve_fen_str"], p["reserve_fen"].to_string(), "{p}");
    }
    // After o1's confirmation (day 7) and before o2's (day 10) the reserve holds o1's share.
    assert_eq!(points[8]["reserve_fen"], 3000, "{h}");
}

fn scheduler_across_restart(backend: &Backend) {
    let clock = common::temp_dir(&format!("clock-{}", backend.name())).join("now");
    write_clock(&clock, T0);
    let opts = Opts::with_clock(backend, &clock);
    let s = Server::start(&opts);
    before_the_restart(&s, &clock);
    s.stop();
    // Restart; the clock moves on while the server is down.
    write_clock(&clock, T0 + 10 * DAY + 3_600_000);
    let s = Server::start(&opts);
    after_the_restart(&s);
    the_price_history_has_a_point_per_day(&s);
    s.stop();
}
