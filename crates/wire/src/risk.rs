//! SPEC §17's structured fields: the risk rules of `set_risk_rules` and the `signals` of
//! `pay_order` and `record_signals`, read from JSON and written back.

use jifen_core::risk::{RiskRules, SignalKind, Signals};
use serde_json::{json, Map, Value};

/// The keys of a risk rules object, all required.
pub const RISK_KEYS: [&str; 13] = [
    "enabled",
    "velocity_orders",
    "velocity_fen",
    "large_order_fen",
    "large_order_median_times",
    "self_dealing",
    "ring_referees",
    "ring_hours",
    "ring_shared_signals",
    "refund_rate_pct",
    "new_account_hours",
    "new_account_fen",
    "hold_days",
];

/// Reads a risk rules object: exactly [`RISK_KEYS`] with booleans and integers. `None` for any
/// other shape (`invalid_risk_rules`); the engine checks the bounds.
pub fn risk_from_json(value: &Value) -> Option<RiskRules> {
    let map = value.as_object()?;
    if map.len() != RISK_KEYS.len() || !map.keys().all(|k| RISK_KEYS.contains(&k.as_str())) {
        return None;
    }
    let flag = |k: &str| map.get(k)?.as_bool();
    let small = |k: &str| u32::try_from(map.get(k)?.as_u64()?).ok();
    let fen = |k: &str| map.get(k)?.as_u64();
    Some(RiskRules {
        enabled: flag("enabled")?,
        velocity_orders: small("velocity_orders")?,
        velocity_fen: fen("velocity_fen")?,
        large_order_fen: fen("large_order_fen")?,
        large_order_median_times: small("large_order_median_times")?,
        self_dealing: flag("self_dealing")?,
        ring_referees: small("ring_referees")?,
        ring_hours: small("ring_hours")?,
        ring_shared_signals: flag("ring_shared_signals")?,
        refund_rate_pct: small("refund_rate_pct")?,
        new_account_hours: small("new_account_hours")?,
        new_account_fen: fen("new_account_fen")?,
        hold_days: small("hold_days")?,
    })
}

/// Risk rules as the object [`risk_from_json`] reads.
pub fn risk_to_json(r: &RiskRules) -> Value {
    json!({
        "enabled": r.enabled,
        "velocity_orders": r.velocity_orders,
        "velocity_fen": r.velocity_fen,
        "large_order_fen": r.large_order_fen,
        "large_order_median_times": r.large_order_median_times,
        "self_dealing": r.self_dealing,
        "ring_referees": r.ring_referees,
        "ring_hours": r.ring_hours,
        "ring_shared_signals": r.ring_shared_signals,
        "refund_rate_pct": r.refund_rate_pct,
        "new_account_hours": r.new_account_hours,
        "new_account_fen": r.new_account_fen,
        "hold_days": r.hold_days,
    })
}

/// A signal hash as written: exactly 16 lower-case hex digits.
pub fn signal_hash_from_str(s: &str) -> Option<u64> {
    let ok = s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    ok.then(|| u64::from_str_radix(s, 16).ok()).flatten()
}

/// Reads a `signals` object: some of `phone`, `address`, `device` and `network`, each a hash
/// of 16 lower-case hex digits. `None` for any other shape (`invalid_command`).
pub fn signals_from_json(value: &Value) -> Option<Signals> {
    let map = value.as_object()?;
    let mut signals = Signals::default();
    for (k, v) in map {
        let kind = SignalKind::ALL.into_iter().find(|s| s.as_str() == k)?;
        signals.set(kind, signal_hash_from_str(v.as_str()?)?);
    }
    Some(signals)
}

/// Signals as the object [`signals_from_json`] reads.
pub fn signals_to_json(s: &Signals) -> Value {
    let mut m = Map::new();
    for (kind, hash) in s.iter() {
        m.insert(kind.as_str().into(), json!(format!("{hash:016x}")));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_signals_round_trip() {
        let r = RiskRules::RECOMMENDED;
        assert_eq!(risk_from_json(&risk_to_json(&r)), Some(r));
        let mut v = risk_to_json(&r);
        v.as_object_mut().unwrap().remove("hold_days");
        assert_eq!(risk_from_json(&v), None);
        let s =
            signals_from_json(&json!({"phone": "00000000000000ff", "device": "0123456789abcdef"}))
                .unwrap();
        assert_eq!(s.get(SignalKind::Phone), Some(255));
        assert_eq!(signals_from_json(&signals_to_json(&s)), Some(s));
        for bad in [
            json!({"phone": "FF00000000000000"}),
            json!({"phone": "abc"}),
            json!({"email": "0123456789abcdef"}),
            json!({"phone": 5}),
            json!([]),
        ] {
            assert_eq!(signals_from_json(&bad), None, "{bad}");
        }
    }
}
