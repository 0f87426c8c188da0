//! What the API shows: JSON views of the ledger. Every atoms or fen integer also gets a
//! decimal-string twin (`reserve_fen` and `reserve_fen_str`), because JavaScript numbers lose
//! precision past 2^53 and atom totals pass that.

use jifen_core::members::{is_partner, level_of, TierChange};
use jifen_core::AccountId;
use jifen_core::{
    format_instant, Account, Collectible, CollectibleState, Economy, Ledger, Order, Policy, Price,
    ATOMS_PER_POINT,
};
use serde_json::{json, Map, Value};

/// Whether a field holds atoms or fen, and so gets a string twin.
fn is_amount_field(key: &str) -> bool {
    key.ends_with("_fen") || key.ends_with("_atoms") || key == "atoms"
}

/// Adds `<key>_str` beside every integer atoms or fen field, at any depth.
pub fn with_string_twins(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len() * 2);
            for (k, v) in map {
                let v = with_string_twins(v);
                if is_amount_field(&k) {
                    if let Some(n) = v.as_u64() {
                        out.insert(format!("{k}_str"), Value::String(n.to_string()));
                    }
                }
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(with_string_twins).collect()),
        other => other,
    }
}

/// Every integer as a decimal string, at any depth (for `GET /state?strings=true`).
pub fn all_integers_as_strings(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_u64() || n.is_i64() => Value::String(n.to_string()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, all_integers_as_strings(v)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(all_integers_as_strings).collect())
        }
        other => other,
    }
}

/// Points as a decimal string with all 8 places: atoms are exact, so is this.
pub fn points(atoms: u64) -> String {
    format!("{}.{:08}", atoms / ATOMS_PER_POINT, atoms % ATOMS_PER_POINT)
}

/// The totals of SPEC §11 without accounts.
pub fn totals(ledger: &Ledger) -> Value {
    let t = ledger.economy().totals();
    json!({
        "applied": ledger.applied(),
        "burned_atoms": t.burned_atoms.0,
        "circulating_atoms": t.circulating_atoms.0,
        "contributions_fen": t.contributions_fen.0,
        "dividend_pool_fen": t.dividend_pool_fen.0,
        "escrow_fen": t.escrow_fen.0,
        "issued_atoms": t.issued_atoms.0,
        "paid_out_fen": t.paid_out_fen.0,
        "rejected": ledger.rejected(),
        "reserve_fen": t.reserve_fen.0,
        "treasury_atoms": t.treasury_atoms.0,
    })
}

/// An account's tier and partner status (SPEC §16), as the pages show them: for people only.
pub fn tier(economy: &Economy, id: AccountId) -> Value {
    let m = economy.members();
    let status = m.status(id);
    let level = level_of(status);
    let t = m.table().tier(level);
    let next = m.table().tiers.get(level + 1).map(
        |n| json!({"name_zh": n.name_zh.as_str(), "name_en": n.name_en.as_str(), "min": n.min}),
    );
    let frozen = m
        .frozen(id)
        .map(|f| json!({"reason": f.reason.as_str(), "seq": f.seq}));
    json!({
        "level": level,
        "name_zh": t.name_zh.as_str(),
        "name_en": t.name_en.as_str(),
        "benefits_zh": t.benefits_zh.as_str(),
        "benefits_en": t.benefits_en.as_str(),
        "partner": is_partner(status),
        "basis": m.table().basis.as_str(),
        "basis_value": m.table().value(
            economy.accounts().get(id),
            economy.accounts().extras(id).locked_atoms
        ),
        "next": next,
        "frozen": frozen,
    })
}

/// One change of status (the `account.tier_changed` event's data), named by the table now.
pub fn tier_change(economy: &Economy, c: &TierChange) -> Value {
    let t = economy.members().table().tier(level_of(c.to));
    json!({
        "account": economy.accounts().get(c.account).name.as_str(),
        "from_level": level_of(c.from), "to_level": level_of(c.to),
        "name_zh": t.name_zh.as_str(), "name_en": t.name_en.as_str(),
        "partner": is_partner(c.to),
    })
}

/// The tier table and the awards, as the economy view shows them.
pub fn members(economy: &Economy) -> Value {
    let m = economy.members();
    let awards: Vec<Value> = m
        .awards()
        .iter()
        .rev()
        .take(20)
        .map(|a| award(economy, a))
        .collect();
    json!({
        "tiers": jifen_wire::tiers_to_json(m.table()),
        "frozen_accounts": m.frozen_accounts().len(),
        "awards": awards,
    })
}

/// One award with its places.
pub fn award(economy: &Economy, a: &jifen_core::members::Award) -> Value {
    let places: Vec<Value> = a
        .ranking
        .iter()
        .enumerate()
        .map(|(i, (id, atoms))| {
            json!({"place": i + 1, "account": economy.accounts().get(*id).name.as_str(),
                "atoms": atoms, "points": points(*atoms), "prize": a.prize(i)})
        })
        .collect();
    json!({"award": a.name.as_str(), "at": jifen_core::format_instant(a.at), "seq": a.seq,
        "places": places})
}

pub fn account(economy: &Economy, a: &Account) -> Value {
    let price = economy.price();
    let value_fen = price.value_fen(a.atoms);
    let progress_bps = if a.quota_fen == 0 {
        None
    } else {
        Some((value_fen as u128 * 10_000 / a.quota_fen as u128).min(10_000) as u64)
    };
    let trigger = (a.is_consumer() && a.atoms > 0 && a.quota_fen > 0).then(|| {
        Price {
            num_fen: a.quota_fen,
            den_atoms: a.atoms,
        }
        .yuan_per_point(4)
    });
    let referrer = a
        .referrer()
        .map(|id| economy.accounts().get(id).name.to_string());
    let id = economy.accounts().find(&a.name);
    let tier = id.map_or(Value::Null, |id| tier(economy, id));
    let x = id
        .map(|id| economy.accounts().extras(id))
        .unwrap_or_default();
    json!({
        "account": a.name.as_str(),
        "kind": a.kind.as_str(),
        "atoms": a.atoms,
        "points": points(a.atoms),
        "value_fen": value_fen,
        // Atoms in the account's collectibles: no dividends, outside the exit rule (SPEC §13).
        "locked_atoms": x.locked_atoms,
        "locked_points": points(x.locked_atoms),
        "locked_value_fen": price.value_fen(x.locked_atoms),
        "stable_fen": a.stable_fen,
        // Cash the brand owes the account from sales and exits, not yet paid (SPEC §14).
        "owed_fen": x.owed_fen,
        "quota_fen": a.quota_fen,
        "quota_note": "a cap, paid only from the dividend pool, not a promise",
        "quota_progress_bps": progress_bps,
        "exit_enabled": economy.rules().exit_enabled,
        // The fee an exit's sale pays (SPEC §9), for the wallet's words on exit.
        "sell_fee_bps": economy.rules().sell_fee_bps,
        "trigger_price_yuan_per_point": trigger,
        "price_yuan_per_point": price.yuan_per_point(4),
        "spent_fen": a.spent_fen,
        "dividends_fen": a.dividends_fen,
        "exits": a.exits,
        "level": tier["level"],
        "level_name": tier["name_zh"],
        "tier": tier,
        "referrer": referrer,
    })
}

pub fn order(economy: &Economy, o: &Order) -> Value {
    let name = |id| economy.accounts().get(id).name.to_string();
    json!({
        "order": o.name.as_str(),
        "status": o.status.as_str(),
        "consumer": name(o.consumer),
        "merchant": name(o.merchant),
        "cash_fen": o.cash_fen,
        "stable_fen": o.stable_fen,
        "paid_seq": o.paid_seq,
        "held": economy.orders().find_id(&o.name).is_some_and(|id| economy.risk().is_held(id)),
    })
}

/// A hold (SPEC §17): its order, why (each reason's rule, figure, threshold and signal), when
/// it was made and runs out (the economy's clock), and every decision on it.
pub fn hold(economy: &Economy, h: &jifen_core::risk::Hold) -> Value {
    use jifen_core::risk::Decision;
    let o = economy.orders().get(h.order);
    let instant = |t: i64| jifen_core::format_instant(t);
    let reasons: Vec<Value> = h
        .reasons
        .iter()
        .map(|r| {
            json!({"rule": r.rule.as_str(), "figure": r.figure, "threshold": r.threshold,
                "signal": r.signal.map(|s| s.as_str())})
        })
        .collect();
    let reviews: Vec<Value> = h
        .reviews
        .iter()
        .map(|r| {
            json!({"decision": r.decision.as_str(), "reviewer": r.reviewer.as_str(),
                "note": r.note.as_str(), "at": instant(r.at), "seq": r.seq})
        })
        .collect();
    let status = match h.reviews.last().map(|r| r.decision) {
        None | Some(Decision::Extend) => "held",
        Some(Decision::Approve) => "approved",
        Some(Decision::Reject) => "rejected",
        Some(Decision::Expire) => "expired",
        Some(Decision::Refunded) => "refunded",
    };
    let mut view = order(economy, o);
    let map = view.as_object_mut().expect("an order view is an object");
    map.insert("hold_status".into(), json!(status));
    map.insert("reasons".into(), json!(reasons));
    map.insert("reviews".into(), json!(reviews));
    map.insert("held_at".into(), json!(instant(h.at)));
    map.insert("held_seq".into(), json!(h.seq));
    map.insert("expires_at".into(), json!(instant(h.expires_at)));
    view
}

/// A name shown without revealing it: the first two characters and the last.
pub fn mask(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=3 => format!("{}***", chars[0]),
        n => format!("{}{}***{}", chars[0], chars[1], chars[n - 1]),
    }
}

/// What the public and the owner may see of a collectible.
pub fn collectible(e: &Economy, c: &Collectible, policy: &Policy) -> Value {
    let price = e.price();
    let giftable_at = c.giftable_at(policy);
    json!({
        "collectible": c.name.as_str(),
        "series": c.series.as_str(),
        "state": c.state.as_str(),
        "venue": c.venue.as_deref(),
        "atoms": c.atoms,
        "points": points(c.atoms),
        "value_fen": price.value_fen(c.atoms),
        "price_yuan_per_point": price.yuan_per_point(4),
        "content_sha256": c.content_hex(),
        "content_url": format!("/v1/content/{}", c.content_hex()),
        "is_certificate": c.atoms == 0 && c.state != CollectibleState::Dissolved,
        "acquired_at": format_instant(c.acquired),
        "clock": format_instant(e.clock()),
        "gifting_enabled": policy.gifting_enabled,
        "giftable_at": format_instant(giftable_at),
        "giftable_in_s": (giftable_at - e.clock()).max(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask("user.12"), "us***2");
        assert_eq!(mask("abc"), "a***");
        assert_eq!(mask("王小明先生"), "王小***生");
    }

    #[test]
    fn amounts_get_string_twins_at_any_depth() {
        let v = with_string_twins(json!({"reserve_fen": 5, "x": {"atoms": 7}, "n": 3}));
        assert_eq!(v["reserve_fen_str"], "5");
        assert_eq!(v["x"]["atoms_str"], "7");
        assert!(v.get("n_str").is_none());
        let all = all_integers_as_strings(json!({"a": [1, {"b": 2}], "c": "d"}));
        assert_eq!(all, json!({"a": ["1", {"b": "2"}], "c": "d"}));
    }

    #[test]
    fn points_keep_all_eight_places() {
        assert_eq!(points(150_000_001), "1.50000001");
        assert_eq!(points(0), "0.00000000");
    }
}
