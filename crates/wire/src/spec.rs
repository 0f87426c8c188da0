//! The command types and their fields, as a table: what the OpenAPI document describes, and
//! what [`diagnose`] names when a command's shape is wrong. `command_from` (in `shape`) is the
//! parser; a test below holds the two to the same fields.

use serde_json::{Map, Value};

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A name: `[A-Za-z0-9_.:@-]{1,64}` (accounts, orders, collectibles, series, venues).
    Name,
    /// An integer amount in `0..=u64::MAX` (fen or atoms).
    Amount,
    /// A day, `YYYY-MM-DD`.
    Day,
    /// An instant, `YYYY-MM-DDTHH:MM:SSZ`.
    Instant,
    /// 64 lowercase hex digits.
    Sha256,
    /// Every key of SPEC §3.
    Rules,
    /// The collectible policy: `gifting_enabled`, `gift_hold_days` (0..=3650), `exchange_enabled`.
    Policy,
    /// A payment platform's transfer id, of the name pattern (SPEC §14). Unlike a name, the
    /// engine checks it (after the account), so a missing one is `invalid_command` from there.
    Reference,
    /// A tier table (SPEC §16): `basis`, `downgrade`, `levels`, and optionally `partner_min`.
    Tiers,
    /// Free text of 1 to 200 characters without control characters (SPEC §16).
    Text,
    /// An array of 1 to `top` prize texts, each 1 to 100 characters (SPEC §16).
    Prizes,
    /// Risk rules (SPEC §17): every key, booleans and integers.
    Risk,
    /// Signals (SPEC §17): some of `phone`, `address`, `device`, `network`, each 16 lower-case
    /// hex digits (a keyed hash; the server makes it from the value it is given).
    Signals,
}

/// One field of a command type.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub about: &'static str,
}

/// One command type.
#[derive(Clone, Copy, Debug)]
pub struct CommandSpec {
    pub kind: &'static str,
    pub about: &'static str,
    pub fields: &'static [FieldSpec],
    /// A complete example, as JSON text.
    pub example: &'static str,
}

const fn req(name: &'static str, kind: FieldKind, about: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: true,
        about,
    }
}

const fn opt(name: &'static str, kind: FieldKind, about: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        required: false,
        about,
    }
}

use FieldKind::{
    Amount, Day, Instant, Name, Policy, Prizes, Reference, Risk, Rules, Sha256, Signals, Text,
    Tiers,
};

/// Every command type, in SPEC order (§5, then §13, §14 and §16).
pub const COMMANDS: [CommandSpec; 27] = [
    CommandSpec { kind: "register_consumer", about: "a consumer, with the referrer who brought them", fields: &[req("account", Name, "the new consumer"), opt("referrer", Name, "an existing consumer")], example: r#"{"type":"register_consumer","id":"r-1001","account":"c1001","referrer":"c1000"}"# },
    CommandSpec { kind: "register_merchant", about: "a merchant", fields: &[req("account", Name, "the new merchant")], example: r#"{"type":"register_merchant","id":"m-1","account":"wine-shop"}"# },
    CommandSpec { kind: "pay_order", about: "a paid order, pending until confirmed or refunded", fields: &[req("order", Name, "the new order"), req("consumer", Name, "who paid"), req("merchant", Name, "who sold"), req("cash_fen", Amount, "paid in cash; cash_fen + stable_fen is 1..=order_max_fen"), req("stable_fen", Amount, "paid in stable points, held by the consumer"), opt("signals", Signals, "for the risk rules: phone, address, device, network (hashed before they are journaled)")], example: r#"{"type":"pay_order","id":"p-1","order":"o-1","consumer":"c1001","merchant":"wine-shop","cash_fen":10000,"stable_fen":0}"# },
    CommandSpec { kind: "confirm_order", about: "a pending order fulfilled: its share goes to the reserve and the dividend pool, and points to the buyer", fields: &[req("order", Name, "a pending order")], example: r#"{"type":"confirm_order","id":"c-1","order":"o-1"}"# },
    CommandSpec { kind: "refund_order", about: "a pending order refunded in full", fields: &[req("order", Name, "a pending order"), opt("cash_fen", Amount, "when given, the order's whole cash part"), opt("stable_fen", Amount, "when given, the order's whole stable part")], example: r#"{"type":"refund_order","id":"f-1","order":"o-1"}"# },
    CommandSpec { kind: "sell", about: "points sold back for cash at today's price, less the fee", fields: &[req("account", Name, "the seller"), req("atoms", Amount, "1 or more, at most the free atoms held")], example: r#"{"type":"sell","id":"s-1","account":"c1001","atoms":100000000}"# },
    CommandSpec { kind: "convert_to_stable", about: "a consumer's points turned into stable points at today's price, less the fee", fields: &[req("account", Name, "a consumer"), req("atoms", Amount, "1 or more, at most the free atoms held")], example: r#"{"type":"convert_to_stable","id":"x-1","account":"c1001","atoms":100000000}"# },
    CommandSpec { kind: "redeem_stable", about: "a merchant's stable points redeemed for points", fields: &[req("account", Name, "a merchant"), req("fen", Amount, "1 or more, at most the stable points held")], example: r#"{"type":"redeem_stable","id":"d-1","account":"wine-shop","fen":500}"# },
    CommandSpec { kind: "settle_dividends", about: "a day's dividend pool paid to holders, each capped by their quota", fields: &[req("day", Day, "a day not settled yet")], example: r#"{"type":"settle_dividends","id":"settle-2026-12-03","day":"2026-12-03"}"# },
    CommandSpec { kind: "set_rules", about: "new rules for orders from now on", fields: &[req("rules", Rules, "every key of SPEC §3")], example: r#"{"type":"set_rules","id":"rules-2","rules":{"initial_price_fen":100,"reserve_bps":3000,"reward_bps":7000,"referral_bps":1000,"dividend_bps":3000,"quota_multiplier_bps":20000,"sell_fee_bps":1000,"convert_fee_bps":0,"issuance_cap_points":100000000,"exit_enabled":true,"stable_payment_earns":false,"order_max_fen":100000000}}"# },
    CommandSpec { kind: "advance_clock", about: "the economy's clock moved forward (the server issues these itself)", fields: &[req("at", Instant, "not before the clock")], example: r#"{"type":"advance_clock","id":"t-1","at":"2026-12-04T08:00:00Z"}"# },
    CommandSpec { kind: "set_collectible_policy", about: "whether collectibles may be gifted (after how many days) and exported", fields: &[req("policy", Policy, "all three keys")], example: r#"{"type":"set_collectible_policy","id":"pol-1","policy":{"gifting_enabled":true,"gift_hold_days":7,"exchange_enabled":true}}"# },
    CommandSpec { kind: "mint_collectible", about: "free points locked into a new collectible", fields: &[req("collectible", Name, "the new collectible"), req("account", Name, "a consumer, its owner"), req("series", Name, "its series"), req("atoms", Amount, "1 or more, at most the free atoms held"), req("content_sha256", Sha256, "its artwork's hash")], example: r#"{"type":"mint_collectible","id":"mint-1","collectible":"vintage-001","account":"c1001","series":"vintage-2026","atoms":100000000,"content_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}"# },
    CommandSpec { kind: "issue_certificate", about: "a certificate of 0 atoms for the piece a confirmed order bought", fields: &[req("collectible", Name, "the new certificate"), req("order", Name, "a confirmed order"), req("series", Name, "its series"), req("content_sha256", Sha256, "its document's hash")], example: r#"{"type":"issue_certificate","id":"cert-1","collectible":"cert-o-1","order":"o-1","series":"vintage-2026","content_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}"# },
    CommandSpec { kind: "gift_collectible", about: "a held collectible given to another consumer", fields: &[req("collectible", Name, "a held collectible"), req("to", Name, "another consumer")], example: r#"{"type":"gift_collectible","id":"g-1","collectible":"vintage-001","to":"c1002"}"# },
    CommandSpec { kind: "dissolve_collectible", about: "a held collectible's points returned to its owner", fields: &[req("collectible", Name, "a held collectible")], example: r#"{"type":"dissolve_collectible","id":"v-1","collectible":"vintage-001"}"# },
    CommandSpec { kind: "export_collectible", about: "a held collectible frozen and announced to a venue", fields: &[req("collectible", Name, "a held collectible"), req("venue", Name, "a venue")], example: r#"{"type":"export_collectible","id":"e-1","collectible":"vintage-001","venue":"venue-a"}"# },
    CommandSpec { kind: "return_collectible", about: "an exported collectible back from its venue, to its buyer there", fields: &[req("collectible", Name, "an exported collectible"), req("to", Name, "a consumer")], example: r#"{"type":"return_collectible","id":"b-1","collectible":"vintage-001","to":"c1002"}"# },
    CommandSpec { kind: "record_payout", about: "cash the brand has paid an account it owed from sales and exits, by the transfer's reference", fields: &[req("account", Name, "an account that is owed money"), req("amount_fen", Amount, "1 or more, at most what the account is owed"), req("reference", Reference, "the payment platform's transfer id; no personal data")], example: r#"{"type":"record_payout","id":"pay-1","account":"c1001","amount_fen":714,"reference":"wx-batch-1.line-1"}"# },
    CommandSpec { kind: "set_tiers", about: "the tier table: names, thresholds, partner status and benefits, for people only (no money or points depend on it)", fields: &[req("tiers", Tiers, "basis (points or spend), downgrade (never or at_settlement), levels, partner_min")], example: r#"{"type":"set_tiers","id":"tiers-1","tiers":{"basis":"points","downgrade":"never","levels":[{"name_zh":"会员","name_en":"Member","min":0,"partner":false,"benefits_zh":"","benefits_en":""},{"name_zh":"金卡","name_en":"Gold","min":10000000000,"partner":true,"benefits_zh":"生日礼","benefits_en":"A birthday gift"}]}}"# },
    CommandSpec { kind: "freeze_account", about: "an account frozen: it cannot sell, convert or gift until unfrozen", fields: &[req("account", Name, "the account"), req("reason", Text, "why, in 1 to 200 characters")], example: r#"{"type":"freeze_account","id":"freeze-1","account":"c1001","reason":"under review"}"# },
    CommandSpec { kind: "unfreeze_account", about: "a frozen account released", fields: &[req("account", Name, "a frozen account")], example: r#"{"type":"unfreeze_account","id":"unfreeze-1","account":"c1001"}"# },
    CommandSpec { kind: "record_award", about: "a ranking of the top holders recorded now, with a non-cash prize for each place", fields: &[req("award", Name, "the new award"), req("top", Amount, "how many places, 1..=100"), req("prizes", Prizes, "the prize of each place; places past the last take the last")], example: r#"{"type":"record_award","id":"award-2026-12","award":"top10-2026-12","top":10,"prizes":["金奖","银奖","铜奖","纪念奖"]}"# },
    CommandSpec { kind: "set_risk_rules", about: "the risk rules that hold suspicious orders for review, for orders paid from now on", fields: &[req("risk", Risk, "every key of SPEC §17")], example: r#"{"type":"set_risk_rules","id":"risk-1","risk":{"enabled":true,"velocity_orders":10,"velocity_fen":5000000,"large_order_fen":2000000,"large_order_median_times":10,"self_dealing":true,"ring_referees":20,"ring_hours":24,"ring_shared_signals":true,"refund_rate_pct":50,"new_account_hours":1,"new_account_fen":500000,"hold_days":14}}"# },
    CommandSpec { kind: "set_trust", about: "an account put on the allow list (never held), the deny list (always held), or taken off both", fields: &[req("account", Name, "the account"), req("list", Text, "allow, deny or none")], example: r#"{"type":"set_trust","id":"trust-1","account":"c1001","list":"allow"}"# },
    CommandSpec { kind: "record_signals", about: "an account's own signals, such as a merchant's registered phone and address, for the self-dealing rule", fields: &[req("account", Name, "the account"), req("signals", Signals, "phone, address, device, network (hashed before they are journaled)")], example: r#"{"type":"record_signals","id":"sig-1","account":"wine-shop","signals":{"phone":"0123456789abcdef"}}"# },
    CommandSpec { kind: "review_order", about: "a decision on a held order: approve (it is confirmed), reject (it is refunded) or extend (held longer)", fields: &[req("order", Name, "a held order"), req("decision", Text, "approve, reject or extend"), req("reviewer", Name, "the reviewer's key id (the server sets it)"), req("note", Text, "why, up to 200 characters")], example: r#"{"type":"review_order","id":"review-1","order":"o-1","decision":"approve","reviewer":"key-1","note":"checked with the shop"}"# },
];

/// The spec of command type `kind`.
pub fn command_spec(kind: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.kind == kind)
}

/// What is wrong with a command's shape (its fields and their JSON types), in words that name
/// the field: `account: missing`, `atoms: must be an integer 0..=18446744073709551615`. `None`
/// when the shape is right (then the engine's checks decide; see `jifen_core::explain`).
pub fn diagnose(text: &str) -> Option<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Some("the command is not JSON".into());
    };
    let Value::Object(map) = value else {
        return Some("the command must be a JSON object".into());
    };
    let kind = match map.get("type") {
        None => return Some("type: missing".into()),
        Some(Value::String(kind)) => kind,
        Some(_) => return Some("type: must be a string".into()),
    };
    let Some(spec) = command_spec(kind) else {
        return Some(format!("type: {kind:?} is not a command type"));
    };
    if let Some(id) = map.get("id") {
        if !id.is_string() {
            return Some("id: must be a string".into());
        }
    }
    diagnose_fields(spec, &map)
}

fn diagnose_fields(spec: &CommandSpec, map: &Map<String, Value>) -> Option<String> {
    let known = |k: &str| k == "type" || k == "id" || spec.fields.iter().any(|f| f.name == k);
    if let Some(unknown) = map.keys().find(|k| !known(k)) {
        return Some(format!("{unknown}: not a field of {}", spec.kind));
    }
    for f in spec.fields {
        match map.get(f.name) {
            None if f.required => return Some(format!("{}: missing", f.name)),
            None => {}
            Some(v) => {
                if let Some(why) = wrong_type(f.kind, v) {
                    return Some(format!("{}: {why}", f.name));
                }
            }
        }
    }
    None
}

/// Why `v` cannot be a value of `kind`, judged on its JSON type only.
fn wrong_type(kind: FieldKind, v: &Value) -> Option<&'static str> {
    let ok = match kind {
        Name | Day | Instant | Sha256 | Reference | Text => v.is_string(),
        Amount => v.is_u64(),
        Rules | Policy | Tiers | Risk | Signals => v.is_object(),
        Prizes => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
    };
    if ok {
        return None;
    }
    Some(match kind {
        Amount => "must be an integer 0..=18446744073709551615",
        Rules | Policy | Tiers | Risk | Signals => "must be an object",
        Prizes => "must be an array of strings",
        _ => "must be a string",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_parses_and_every_field_is_the_parsers() {
        for spec in COMMANDS {
            let parsed = crate::parse_command_line(spec.example);
            assert!(
                parsed.command.is_ok(),
                "{}: {:?}",
                spec.kind,
                parsed.command
            );
            assert_eq!(parsed.command.as_ref().unwrap().type_name(), spec.kind);
            assert_eq!(diagnose(spec.example), None, "{}", spec.kind);
            // A field the table does not know is refused by the parser too.
            let mut value: Value = serde_json::from_str(spec.example).unwrap();
            value["extra"] = Value::Bool(true);
            let text = value.to_string();
            assert!(
                crate::parse_command_line(&text).command.is_err(),
                "{}",
                spec.kind
            );
            assert_eq!(
                diagnose(&text).unwrap(),
                format!("extra: not a field of {}", spec.kind)
            );
            // A required name the table lists is required by the parser too.
            for f in spec.fields.iter().filter(|f| f.required && f.kind == Name) {
                let mut v: Value = serde_json::from_str(spec.example).unwrap();
                v.as_object_mut().unwrap().remove(f.name);
                let text = v.to_string();
                assert!(
                    crate::parse_command_line(&text).command.is_err(),
                    "{} {}",
                    spec.kind,
                    f.name
                );
                assert_eq!(diagnose(&text).unwrap(), format!("{}: missing", f.name));
            }
        }
    }

    #[test]
    fn shapes_are_named() {
        assert_eq!(
            diagnose("[1]").unwrap(),
            "the command must be a JSON object"
        );
        assert_eq!(diagnose("{").unwrap(), "the command is not JSON");
        assert_eq!(diagnose(r#"{"id":"a"}"#).unwrap(), "type: missing");
        assert_eq!(
            diagnose(r#"{"type":"mint"}"#).unwrap(),
            "type: \"mint\" is not a command type"
        );
        assert_eq!(
            diagnose(r#"{"type":"sell","id":"a","account":"x","atoms":-1}"#).unwrap(),
            "atoms: must be an integer 0..=18446744073709551615"
        );
        assert_eq!(
            diagnose(r#"{"type":"sell","id":7,"account":"x","atoms":1}"#).unwrap(),
            "id: must be a string"
        );
        assert_eq!(
            diagnose(r#"{"type":"register_merchant","account":5}"#).unwrap(),
            "account: must be a string"
        );
    }
}
