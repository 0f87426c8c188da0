//! `jifen serve --demo`: an economy with the brief's rules (the SPEC §3 defaults) and some
//! activity, so a newcomer sees something at once.

use jifen_journal::{JournalError, Submitted};
use serde_json::{json, Value};

use crate::app::App;

pub const DEMO_ECONOMY: &str = "demo";
/// Consumers in the demo; each buys one 100-yuan bottle, as in the brief's worked example.
const DEMO_CONSUMERS: usize = 100;

fn demo_commands() -> Vec<Value> {
    let mut out =
        vec![json!({"type": "register_merchant", "id": "demo-m", "account": "wine-shop"})];
    for i in 1..=DEMO_CONSUMERS {
        let name = format!("c{i:03}");
        let mut register =
            json!({"type": "register_consumer", "id": format!("demo-r{i}"), "account": name});
        if i > 1 && i.is_multiple_of(3) {
            register["referrer"] = json!(format!("c{:03}", i - 1));
        }
        out.push(register);
        let order = format!("o{i:03}");
        out.push(json!({"type": "pay_order", "id": format!("demo-p{i}"), "order": order, "consumer": name, "merchant": "wine-shop", "cash_fen": 10_000, "stable_fen": 0}));
        out.push(json!({"type": "confirm_order", "id": format!("demo-c{i}"), "order": order}));
    }
    // A few orders still inside the return window, one sale and one conversion.
    for i in 1..=5 {
        out.push(json!({"type": "pay_order", "id": format!("demo-q{i}"), "order": format!("p{i:03}"), "consumer": format!("c{i:03}"), "merchant": "wine-shop", "cash_fen": 29_900, "stable_fen": 0}));
    }
    out.push(json!({"type": "sell", "id": "demo-s1", "account": "c050", "atoms": 500_000_000u64}));
    out.push(json!({"type": "convert_to_stable", "id": "demo-x1", "account": "c060", "atoms": 300_000_000u64}));
    out
}

/// Creates the demo economy unless it exists. Returns whether it was created.
pub fn ensure_demo(app: &App) -> Result<bool, JournalError> {
    if app.economy(DEMO_ECONOMY).is_some() {
        return Ok(false);
    }
    let now = app.now_ms();
    let rules = jifen_core::Rules::default();
    let meta = app.with_store(|s| {
        Ok(jifen_journal::create_economy(
            s,
            DEMO_ECONOMY,
            "示例酒庄 Demo wine shop",
            &rules,
            jifen_journal::DEFAULT_TIMEZONE,
            now,
        ))
    })??;
    let economy = app.open_economy(meta)?;
    let commands = demo_commands().into_iter().map(Submitted::Value).collect();
    economy.journal.submit_wait(commands)?;
    Ok(true)
}
