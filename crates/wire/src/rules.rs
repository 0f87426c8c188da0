//! Rules from TOML (replay files) and JSON (`set_rules`).

use std::fmt::Write;

use jifen_core::{RuleValue, Rules, RULE_KEYS};
use serde_json::Value;

/// Reads a `set_rules` object: every key of SPEC §3 is required, and any other key, or a value
/// of the wrong type, makes the rules invalid (`None`). Ranges are checked by the engine.
pub fn rules_from_json(value: &Value) -> Option<Rules> {
    let map = value.as_object()?;
    if map.len() != RULE_KEYS.len() {
        return None;
    }
    let mut rules = Rules::default();
    for (key, value) in map {
        let value = match value {
            Value::Bool(b) => RuleValue::Flag(*b),
            other => RuleValue::Int(other.as_u64()?),
        };
        rules.set(key, value).then_some(())?;
    }
    Some(rules)
}

/// Reads a rules file (SPEC §11): missing keys take the defaults of SPEC §3; an unknown key, a
/// wrong type or an out-of-range value is an error naming the key.
pub fn rules_from_toml(text: &str) -> Result<Rules, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", e.message()))?;
    let mut rules = Rules::default();
    for (key, value) in &table {
        set_rule(&mut rules, key, value)?;
    }
    rules.check(0).map_err(str::to_string)?;
    Ok(rules)
}

/// Sets rule `key` from a TOML value of the rule's kind.
fn set_rule(rules: &mut Rules, key: &str, value: &toml::Value) -> Result<(), String> {
    let kind = RULE_KEYS
        .iter()
        .position(|k| *k == key)
        .map(|i| Rules::default().values()[i])
        .ok_or_else(|| format!("unknown rules key {key:?}"))?;
    let value = match kind {
        RuleValue::Int(_) => value
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .map(RuleValue::Int)
            .ok_or_else(|| format!("{key} must be a non-negative integer"))?,
        RuleValue::Flag(_) => value
            .as_bool()
            .map(RuleValue::Flag)
            .ok_or_else(|| format!("{key} must be true or false"))?,
    };
    rules.set(key, value);
    Ok(())
}

/// Writes rules as TOML, every key in SPEC order.
pub fn rules_to_toml(r: &Rules) -> String {
    let mut out = String::new();
    for (key, value) in RULE_KEYS.iter().zip(r.values()) {
        let _ = match value {
            RuleValue::Int(n) => writeln!(out, "{key} = {n}"),
            RuleValue::Flag(b) => writeln!(out, "{key} = {b}"),
        };
    }
    out
}

/// Rules as the JSON object `set_rules` takes, every key in SPEC order.
pub fn rules_to_json(r: &Rules) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in RULE_KEYS.iter().zip(r.values()) {
        let v = match value {
            RuleValue::Int(n) => Value::from(n),
            RuleValue::Flag(b) => Value::from(b),
        };
        map.insert((*key).to_string(), v);
    }
    Value::Object(map)
}

/// A collectible policy object (SPEC §13): exactly `gifting_enabled`, `gift_hold_days`
/// (0..=3650) and `exchange_enabled`, with the right types; anything else is `None`
/// (`invalid_policy`).
pub fn policy_from_json(value: &Value) -> Option<jifen_core::Policy> {
    let map = value.as_object()?;
    const KEYS: [&str; 3] = ["gifting_enabled", "gift_hold_days", "exchange_enabled"];
    if map.len() != KEYS.len() || !map.keys().all(|k| KEYS.contains(&k.as_str())) {
        return None;
    }
    let days = map.get("gift_hold_days")?.as_u64()?;
    Some(jifen_core::Policy {
        gifting_enabled: map.get("gifting_enabled")?.as_bool()?,
        gift_hold_days: u32::try_from(days)
            .ok()
            .filter(|d| *d <= jifen_core::GIFT_HOLD_DAYS_MAX)?,
        exchange_enabled: map.get("exchange_enabled")?.as_bool()?,
    })
}

/// Reads a `set_tiers` object (SPEC §16): exactly `basis`, `downgrade`, `levels` and an optional
/// `partner_min`, each level exactly `name_zh`, `name_en`, `min`, `partner`, `benefits_zh` and
/// `benefits_en`. `None` for any other shape; bounds are checked by the engine.
pub fn tiers_from_json(value: &Value) -> Option<jifen_core::members::TierTable> {
    use jifen_core::members::{Basis, Downgrade, TierTable};
    let map = value.as_object()?;
    let known = ["basis", "downgrade", "levels", "partner_min"];
    if map.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let partner_min = match map.get("partner_min") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64()?),
    };
    let levels = map.get("levels")?.as_array()?;
    if levels.len() > jifen_core::members::TIERS_MAX {
        return None;
    }
    Some(TierTable {
        basis: Basis::parse(map.get("basis")?.as_str()?)?,
        downgrade: Downgrade::parse(map.get("downgrade")?.as_str()?)?,
        partner_min,
        tiers: levels.iter().map(tier_from_json).collect::<Option<_>>()?,
    })
}

fn tier_from_json(value: &Value) -> Option<jifen_core::members::Tier> {
    let map = value.as_object()?;
    if map.len() != 6 {
        return None;
    }
    let text = |k: &str| map.get(k)?.as_str().map(jifen_core::Text::from);
    Some(jifen_core::members::Tier {
        name_zh: text("name_zh")?,
        name_en: text("name_en")?,
        min: map.get("min")?.as_u64()?,
        partner: map.get("partner")?.as_bool()?,
        benefits_zh: text("benefits_zh")?,
        benefits_en: text("benefits_en")?,
    })
}

/// A tier table as the object [`tiers_from_json`] reads.
pub fn tiers_to_json(t: &jifen_core::members::TierTable) -> Value {
    let levels: Vec<Value> = t
        .tiers
        .iter()
        .map(|l| {
            serde_json::json!({"name_zh": l.name_zh.as_str(), "name_en": l.name_en.as_str(),
                "min": l.min, "partner": l.partner, "benefits_zh": l.benefits_zh.as_str(),
                "benefits_en": l.benefits_en.as_str()})
        })
        .collect();
    let mut v = serde_json::json!({"basis": t.basis.as_str(), "downgrade": t.downgrade.as_str(),
        "levels": levels});
    if let Some(m) = t.partner_min {
        v["partner_min"] = serde_json::json!(m);
    }
    v
}

/// A `record_award`'s `prizes`: an array of at most 100 strings, or `None`.
pub fn prizes_from_json(value: &Value) -> Option<Vec<jifen_core::Text>> {
    let list = value.as_array()?;
    if list.len() as u64 > jifen_core::members::AWARD_TOP_MAX {
        return None;
    }
    list.iter()
        .map(|v| v.as_str().map(jifen_core::Text::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_rules() {
        assert_eq!(rules_from_toml("").unwrap(), Rules::default());
        let r = rules_from_toml("reserve_bps = 5000\nexit_enabled = false").unwrap();
        assert_eq!(r.reserve_bps, 5000);
        assert!(!r.exit_enabled);
        let err = |t: &str| rules_from_toml(t).unwrap_err();
        assert!(err("bogus = 1").contains("bogus"));
        assert!(err("reserve_bps = -1").contains("reserve_bps"));
        assert!(err("reserve_bps = \"1\"").contains("reserve_bps"));
        assert!(err("reward_bps = 10001").contains("reward_bps"));
        assert!(err("reserve_bps = ").contains("TOML"));
        assert_eq!(
            rules_from_toml(&rules_to_toml(&Rules::default())).unwrap(),
            Rules::default()
        );
    }

    #[test]
    fn json_rules_need_every_key() {
        let full: Value = serde_json::from_str(&format!(
            "{{{}}}",
            RULE_KEYS
                .iter()
                .map(|k| if k.ends_with("enabled") || k.ends_with("earns") {
                    format!("\"{k}\": true")
                } else {
                    format!("\"{k}\": 5")
                })
                .collect::<Vec<_>>()
                .join(",")
        ))
        .unwrap();
        assert!(rules_from_json(&full).is_some());
        let mut missing = full.clone();
        missing.as_object_mut().unwrap().remove("reserve_bps");
        assert!(rules_from_json(&missing).is_none());
        let mut extra = full.clone();
        extra
            .as_object_mut()
            .unwrap()
            .insert("x".into(), Value::from(1));
        assert!(rules_from_json(&extra).is_none());
        let mut wrong = full;
        wrong
            .as_object_mut()
            .unwrap()
            .insert("exit_enabled".into(), Value::from(1));
        assert!(rules_from_json(&wrong).is_none());
    }
}
