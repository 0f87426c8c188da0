//! A core [`Command`] written back as its SPEC §5 JSON object, for tools that make commands
//! (the simulator's `--commands`). Amounts left out (`None`) are written as absent fields.

use jifen_core::{Amount, Command};
use serde_json::{json, Map, Value};

/// The command's JSON object under `id`. `set_rules` and `set_collectible_policy` are written
/// with their values; an invalid one (`None`) as `null`.
pub fn command_json(id: &str, command: &Command) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(command.type_name()));
    m.insert("id".into(), json!(id));
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    let amount = |a: &Amount| a.map_or(Value::Null, |n| json!(n));
    match command {
        Command::RegisterConsumer { account, referrer } => {
            put("account", json!(account.as_str()));
            if let Some(r) = referrer {
                put("referrer", json!(r.as_str()));
            }
        }
        Command::RegisterMerchant { account } => put("account", json!(account.as_str())),
        Command::PayOrder {
            order,
            consumer,
            merchant,
            cash_fen,
            stable_fen,
            signals,
        } => {
            put("order", json!(order.as_str()));
            put("consumer", json!(consumer.as_str()));
            put("merchant", json!(merchant.as_str()));
            put("cash_fen", amount(cash_fen));
            put("stable_fen", amount(stable_fen));
            if let Some(s) = signals {
                put("signals", crate::risk::signals_to_json(s));
            }
        }
        Command::ConfirmOrder { order } => put("order", json!(order.as_str())),
        Command::RefundOrder {
            order,
            cash_fen,
            stable_fen,
        } => {
            put("order", json!(order.as_str()));
            if let Some(c) = cash_fen {
                put("cash_fen", amount(c));
            }
            if let Some(s) = stable_fen {
                put("stable_fen", amount(s));
            }
        }
        Command::Sell { account, atoms } | Command::ConvertToStable { account, atoms } => {
            put("account", json!(account.as_str()));
            put("atoms", amount(atoms));
        }
        Command::RedeemStable { account, fen } => {
            put("account", json!(account.as_str()));
            put("fen", amount(fen));
        }
        Command::SettleDividends { day } => put("day", json!(day.as_str())),
        Command::AdvanceClock { at } => put("at", json!(at.as_str())),
        Command::RecordPayout {
            account,
            amount_fen,
            reference,
        } => {
            put("account", json!(account.as_str()));
            put("amount_fen", amount(amount_fen));
            put("reference", json!(reference.as_str()));
        }
        Command::SetTiers { .. }
        | Command::FreezeAccount { .. }
        | Command::UnfreezeAccount { .. }
        | Command::RecordAward { .. } => member_json(&mut m, command),
        Command::SetRiskRules { .. }
        | Command::SetTrust { .. }
        | Command::RecordSignals { .. }
        | Command::ReviewOrder { .. } => risk_json(&mut m, command),
        other => return collectible_json(m, other),
    }
    Value::Object(m)
}

/// SPEC §16's commands' fields.
fn member_json(m: &mut Map<String, Value>, command: &Command) {
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    let amount = |a: &Amount| a.map_or(Value::Null, |n| json!(n));
    match command {
        Command::SetTiers { tiers } => {
            let v = tiers
                .as_deref()
                .map_or(Value::Null, crate::rules::tiers_to_json);
            put("tiers", v);
        }
        Command::FreezeAccount { account, reason } => {
            put("account", json!(account.as_str()));
            put("reason", json!(reason.as_str()));
        }
        Command::UnfreezeAccount { account } => put("account", json!(account.as_str())),
        Command::RecordAward { award, top, prizes } => {
            put("award", json!(award.as_str()));
            put("top", amount(top));
            let list = prizes
                .as_ref()
                .map(|p| p.iter().map(|t| t.as_str()).collect::<Vec<_>>());
            put("prizes", json!(list));
        }
        _ => {}
    }
}

/// SPEC §17's commands' fields.
fn risk_json(m: &mut Map<String, Value>, command: &Command) {
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    match command {
        Command::SetRiskRules { risk } => {
            put(
                "risk",
                risk.as_ref().map_or(Value::Null, crate::risk::risk_to_json),
            );
        }
        Command::SetTrust { account, list } => {
            put("account", json!(account.as_str()));
            put("list", json!(list.as_str()));
        }
        Command::RecordSignals { account, signals } => {
            put("account", json!(account.as_str()));
            put("signals", crate::risk::signals_to_json(signals));
        }
        Command::ReviewOrder {
            order,
            decision,
            reviewer,
            note,
        } => {
            put("order", json!(order.as_str()));
            put("decision", json!(decision.as_str()));
            put("reviewer", json!(reviewer.as_str()));
            put("note", json!(note.as_str()));
        }
        _ => {}
    }
}

fn collectible_json(mut m: Map<String, Value>, command: &Command) -> Value {
    let mut put = |k: &str, v: &str| {
        m.insert(k.into(), json!(v));
    };
    match command {
        Command::MintCollectible {
            collectible,
            account,
            series,
            atoms,
            content_sha256,
        } => {
            put("collectible", collectible);
            put("account", account);
            put("series", series);
            put("content_sha256", content_sha256);
            m.insert("atoms".into(), atoms.map_or(Value::Null, |n| json!(n)));
        }
        Command::IssueCertificate {
            collectible,
            order,
            series,
            content_sha256,
        } => {
            put("collectible", collectible);
            put("order", order);
            put("series", series);
            put("content_sha256", content_sha256);
        }
        Command::GiftCollectible { collectible, to }
        | Command::ReturnCollectible { collectible, to } => {
            put("collectible", collectible);
            put("to", to);
        }
        Command::DissolveCollectible { collectible } => put("collectible", collectible),
        Command::ExportCollectible { collectible, venue } => {
            put("collectible", collectible);
            put("venue", venue);
        }
        Command::SetRules { rules } => {
            let v = rules.map_or(Value::Null, |r| crate::rules::rules_to_json(&r));
            m.insert("rules".into(), v);
        }
        Command::SetCollectiblePolicy { policy } => {
            let v = policy.map_or(Value::Null, |p| {
                json!({"gifting_enabled": p.gifting_enabled, "gift_hold_days": p.gift_hold_days,
                    "exchange_enabled": p.exchange_enabled})
            });
            m.insert("policy".into(), v);
        }
        _ => {}
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example of the command table parses back to the same command from its JSON.
    #[test]
    fn written_commands_parse_back() {
        for spec in crate::COMMANDS {
            let parsed = crate::parse_command_line(spec.example);
            let command = parsed.command.unwrap();
            let text = command_json("x-1", &command).to_string();
            let again = crate::parse_command_line(&text).command.unwrap();
            assert_eq!(again, command, "{}", spec.kind);
        }
    }
}
