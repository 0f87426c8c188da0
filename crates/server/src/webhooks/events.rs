//! The operator's events, derived from committed journal entries: what one accepted command did,
//! as named events with their data. The event types and their fields are a table (`EVENTS`),
//! which the OpenAPI document describes and a test holds the derivation to.
//!
//! Deriving needs the ledger as it stood just before the entry (a refund's amounts, a gift's
//! giver) and just after it (the effects), so it runs in two steps: [`before`] looks at the
//! ledger, the entry is applied, and [`after`] reads the effects.

use jifen_core::{format_day, Command, Economy, Effects, Ledger};
use serde_json::{json, Value};

use crate::views::{points, tier_change, with_string_twins};

/// What a field of an event's data holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A name of the SPEC's pattern (an account, an order, a collectible, a venue, a series).
    Name,
    /// A name, or `null` when there is none.
    OptionalName,
    /// Fen, with its decimal-string twin `<field>_str`.
    Fen,
    /// Atoms, with its decimal-string twin `<field>_str`.
    Atoms,
    /// Points as a decimal string with 8 places.
    Points,
    Count,
    Bool,
    /// A day written `YYYY-MM-DD`.
    Day,
    /// 64 lower-case hex digits.
    Sha256,
    /// One of a few words, listed in the field's description.
    Word,
    /// Text written by the operator (a tier's name, a reason), at most 200 characters.
    Text,
}

#[derive(Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub about: &'static str,
}

pub struct EventSpec {
    pub kind: &'static str,
    pub about: &'static str,
    pub fields: &'static [FieldSpec],
}

const fn f(name: &'static str, kind: FieldKind, about: &'static str) -> FieldSpec {
    FieldSpec { name, kind, about }
}

use FieldKind::*;

const ORDER_FIELDS: [FieldSpec; 5] = [
    f("order", Name, "the order"),
    f("consumer", Name, "the buyer"),
    f("merchant", Name, "the merchant"),
    f("cash_fen", Fen, "the cash part, in fen"),
    f("stable_fen", Fen, "the stable-points part, in fen"),
];

const SALE_FIELDS: [FieldSpec; 5] = [
    f("account", Name, "the seller"),
    f("atoms", Atoms, "the atoms sold (10^8 atoms are one point)"),
    f("points", Points, "the same, in points"),
    f("gross_fen", Fen, "their value at the price then"),
    f("fee_fen", Fen, "the fee, which stays in the reserve"),
];

/// Every event type, in the order the documentation lists them.
pub const EVENTS: &[EventSpec] = &[
    EventSpec {
        kind: "points.granted",
        about: "Growth points reached an account: a buyer's or a referrer's reward when an order is confirmed, or a merchant's redemption of stable points.",
        fields: &[
            f("account", Name, "who received them"),
            f("reason", Word, "purchase, referral or redemption"),
            f("order", OptionalName, "the confirmed order (null for a redemption)"),
            f("atoms", Atoms, "the atoms granted (10^8 atoms are one point)"),
            f("points", Points, "the same, in points"),
            f("from_treasury_atoms", Atoms, "the part that came from the treasury rather than new issuance"),
        ],
    },
    EventSpec { kind: "order.paid", about: "An order was paid and is pending.", fields: &ORDER_FIELDS },
    EventSpec {
        kind: "order.confirmed",
        about: "An order was confirmed: its points were granted and its portions went to the reserve and the dividend pool.",
        fields: &[
            ORDER_FIELDS[0], ORDER_FIELDS[1], ORDER_FIELDS[2], ORDER_FIELDS[3], ORDER_FIELDS[4],
            f("auto", Bool, "true when the server confirmed it after the economy's auto_confirm_days"),
        ],
    },
    EventSpec {
        kind: "order.refunded",
        about: "A pending order was refunded, in whole or in part.",
        fields: &[
            ORDER_FIELDS[0], ORDER_FIELDS[1], ORDER_FIELDS[2],
            f("cash_fen", Fen, "the cash refunded now, in fen"),
            f("stable_fen", Fen, "the stable points refunded now (back to the buyer), in fen"),
            f("fully_refunded", Bool, "true when nothing of the order is left"),
        ],
    },
    EventSpec {
        kind: "consumer.exited",
        about: "A consumer reached their quota and left (出局): their free points were sold at the price then, less the fee.",
        fields: &[
            SALE_FIELDS[0], SALE_FIELDS[1], SALE_FIELDS[2], SALE_FIELDS[3], SALE_FIELDS[4],
            f("net_fen", Fen, "what the brand owes them, in fen"),
        ],
    },
    EventSpec {
        kind: "dividend.paid",
        about: "One holder's part of a day's dividend pool (capped by their quota).",
        fields: &[
            f("account", Name, "the holder"),
            f("day", Day, "the day settled"),
            f("paid_fen", Fen, "what they were paid, in fen"),
        ],
    },
    EventSpec {
        kind: "settlement.completed",
        about: "A day's dividend pool was settled.",
        fields: &[
            f("day", Day, "the day settled"),
            f("paid_fen", Fen, "paid to holders in all, in fen"),
            f("holders_eligible", Count, "holders the pool was shared among"),
            f("holders_paid", Count, "holders paid something"),
            f("holders_capped", Count, "holders whose quota this settlement used up"),
            f("dividend_pool_fen", Fen, "what is left in the pool, in fen"),
        ],
    },
    EventSpec {
        kind: "sale.completed",
        about: "A holder sold points back (buyback): the brand owes them the net amount.",
        fields: &[
            SALE_FIELDS[0], SALE_FIELDS[1], SALE_FIELDS[2], SALE_FIELDS[3], SALE_FIELDS[4],
            f("net_fen", Fen, "what the brand owes the seller, in fen"),
        ],
    },
    EventSpec {
        kind: "stable.converted",
        about: "A consumer converted growth points into stable points to spend at merchants.",
        fields: &[
            SALE_FIELDS[0], SALE_FIELDS[1], SALE_FIELDS[2], SALE_FIELDS[3], SALE_FIELDS[4],
            f("stable_fen", Fen, "the stable points received, in fen"),
        ],
    },
    EventSpec {
        kind: "stable.redeemed",
        about: "A merchant redeemed stable points for growth points.",
        fields: &[
            f("account", Name, "the merchant"),
            f("stable_fen", Fen, "the stable points redeemed, in fen"),
        ],
    },
    EventSpec {
        kind: "payout.recorded",
        about: "The brand recorded cash it paid an account it owed from sales and exits (SPEC §14).",
        fields: &[
            f("account", Name, "the account paid"),
            f("amount_fen", Fen, "the amount paid, in fen"),
            f("reference", Name, "the payment platform's transfer id"),
            f("owed_fen", Fen, "what the account is still owed, in fen"),
        ],
    },
    EventSpec {
        kind: "collectible.minted",
        about: "A digital collectible was made from a consumer's points, or a certificate issued for a piece bought.",
        fields: &[
            f("collectible", Name, "the collectible"),
            f("account", Name, "its owner"),
            f("series", Name, "its series"),
            f("atoms", Atoms, "the atoms locked in it (0 for a certificate)"),
            f("content_sha256", Sha256, "the hash of its artwork or certificate document"),
            f("certificate", Bool, "true for a jewellery certificate"),
            f("order", OptionalName, "the order a certificate is for (null otherwise)"),
        ],
    },
    EventSpec {
        kind: "collectible.gifted",
        about: "A collectible was given to another consumer.",
        fields: &[
            f("collectible", Name, "the collectible"),
            f("from", Name, "the giver"),
            f("to", Name, "the new owner"),
        ],
    },
    EventSpec {
        kind: "collectible.exported",
        about: "A collectible left for an exchange venue (frozen while there).",
        fields: &[
            f("collectible", Name, "the collectible"),
            f("owner", Name, "its owner when it left"),
            f("venue", Name, "the venue"),
        ],
    },
    EventSpec {
        kind: "collectible.returned",
        about: "An exported collectible came back from its venue, to its buyer there or its owner.",
        fields: &[
            f("collectible", Name, "the collectible"),
            f("to", Name, "its owner now"),
            f("venue", Name, "the venue it came back from"),
        ],
    },
    EventSpec {
        kind: "account.tier_changed",
        about: "A consumer's tier or partner status changed (SPEC §16): at a confirmation, a settlement or a new tier table. Tiers are for people only; nothing about money or points depends on them.",
        fields: &[
            f("account", Name, "the consumer"),
            f("from_level", Count, "the tier before (0 is the first)"),
            f("to_level", Count, "the tier now"),
            f("name_zh", Text, "the tier's name now, in Chinese"),
            f("name_en", Text, "the tier's name now, in English"),
            f("partner", Bool, "whether the consumer is a partner now"),
        ],
    },
    EventSpec {
        kind: "account.frozen",
        about: "An account was frozen: it cannot sell, convert or gift until unfrozen.",
        fields: &[f("account", Name, "the account"), f("reason", Text, "why, as the operator wrote it")],
    },
    EventSpec {
        kind: "account.unfrozen",
        about: "A frozen account was released.",
        fields: &[f("account", Name, "the account")],
    },
    EventSpec {
        kind: "award.recorded",
        about: "A ranking of the top holders was recorded, with a non-cash prize for each place.",
        fields: &[f("award", Name, "the award"), f("places", Count, "how many consumers it ranks")],
    },
];

/// The spec of an event type.
pub fn spec(kind: &str) -> Option<&'static EventSpec> {
    EVENTS.iter().find(|e| e.kind == kind)
}

/// What [`after`] needs of the ledger before the entry.
#[derive(Default)]
pub struct Before {
    /// A refund's order: its cash and stable parts before.
    order_left: Option<(u64, u64)>,
    /// A gift's giver, an export's owner, a return's venue.
    holder: Option<String>,
}

/// Looks at the ledger before `command` is applied.
pub fn before(ledger: &Ledger, command: &Command) -> Before {
    let e = ledger.economy();
    let mut b = Before::default();
    match command {
        Command::RefundOrder { order, .. } => {
            b.order_left = e.orders().find(order).map(|o| (o.cash_fen, o.stable_fen));
        }
        Command::GiftCollectible { collectible, .. }
        | Command::ExportCollectible { collectible, .. } => {
            b.holder = e
                .collectibles()
                .find(collectible)
                .map(|c| e.accounts().get(c.owner).name.to_string());
        }
        Command::ReturnCollectible { collectible, .. } => {
            b.holder = e
                .collectibles()
                .find(collectible)
                .and_then(|c| c.venue.as_ref().map(|v| v.to_string()));
        }
        _ => {}
    }
    b
}

/// The events of an accepted `command` (its id given), read from the ledger just after it: its
/// own event first, then points granted, dividends paid, the settlement, and exits.
pub fn after(
    ledger: &Ledger,
    id: &str,
    command: &Command,
    b: Before,
) -> Vec<(&'static str, Value)> {
    let e = ledger.economy();
    let mut out = primary(e, id, command, b);
    grants(e, command, &mut out);
    settlement(e, &mut out);
    tier_changes(e, &mut out);
    for x in &e.effects().exits {
        out.push((
            "consumer.exited",
            json!({
                "account": e.accounts().get(x.account).name.as_str(),
                "atoms": x.atoms.0, "points": points(x.atoms.0),
                "gross_fen": x.gross.0, "fee_fen": x.fee.0, "net_fen": x.gross.0 - x.fee.0,
            }),
        ));
    }
    for (_, data) in &mut out {
        *data = with_string_twins(std::mem::take(data));
    }
    out
}

fn order_json(e: &Economy, order: &str) -> Option<Value> {
    let o = e.orders().find(order)?;
    Some(json!({
        "order": order,
        "consumer": e.accounts().get(o.consumer).name.as_str(),
        "merchant": e.accounts().get(o.merchant).name.as_str(),
        "cash_fen": o.cash_fen, "stable_fen": o.stable_fen,
    }))
}

fn sale_json(e: &Economy, account: &str) -> Option<Value> {
    let s = e.effects().sale?;
    Some(json!({
        "account": account, "atoms": s.atoms.0, "points": points(s.atoms.0),
        "gross_fen": s.gross.0, "fee_fen": s.fee.0,
    }))
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// The command's own event, when it has one.
fn primary(e: &Economy, id: &str, command: &Command, b: Before) -> Vec<(&'static str, Value)> {
    let found = match command {
        Command::PayOrder { order, .. } => order_json(e, order).map(|v| ("order.paid", v)),
        Command::ConfirmOrder { order } => order_json(e, order).map(|v| {
            let auto = id.starts_with("jifen:confirm:") || id.starts_with("auto-confirm:");
            ("order.confirmed", with(v, "auto", json!(auto)))
        }),
        Command::RefundOrder { order, .. } => refund(e, order, b),
        Command::Sell { account, .. } => sale_json(e, account).map(|v| {
            let net = v["gross_fen"].as_u64().unwrap_or(0) - v["fee_fen"].as_u64().unwrap_or(0);
            ("sale.completed", with(v, "net_fen", json!(net)))
        }),
        Command::ConvertToStable { account, .. } => sale_json(e, account).map(|v| {
            let net = v["gross_fen"].as_u64().unwrap_or(0) - v["fee_fen"].as_u64().unwrap_or(0);
            ("stable.converted", with(v, "stable_fen", json!(net)))
        }),
        Command::RedeemStable { account, fen } => Some((
            "stable.redeemed",
            json!({"account": account.as_str(), "stable_fen": fen.unwrap_or(0)}),
        )),
        Command::RecordPayout {
            account,
            amount_fen,
            reference,
        } => e.accounts().find(account).map(|id| {
            let v = json!({
                "account": account.as_str(), "amount_fen": amount_fen.unwrap_or(0),
                "reference": reference.as_str(), "owed_fen": e.accounts().extras(id).owed_fen,
            });
            ("payout.recorded", v)
        }),
        _ => collectible_event(e, command, b).or_else(|| member_event(e, command)),
    };
    found.into_iter().collect()
}

/// SPEC §16's own events.
fn member_event(e: &Economy, command: &Command) -> Option<(&'static str, Value)> {
    Some(match command {
        Command::FreezeAccount { account, reason } => (
            "account.frozen",
            json!({"account": account.as_str(), "reason": reason.as_str()}),
        ),
        Command::UnfreezeAccount { account } => {
            ("account.unfrozen", json!({"account": account.as_str()}))
        }
        Command::RecordAward { award, .. } => {
            let places = e.members().award(award)?.ranking.len();
            (
                "award.recorded",
                json!({"award": award.as_str(), "places": places}),
            )
        }
        _ => return None,
    })
}

/// The status changes the command made, in the order they were made.
fn tier_changes(e: &Economy, out: &mut Vec<(&'static str, Value)>) {
    let log = e.members().log();
    for c in log.get(e.effects().tier_log_from..).unwrap_or_default() {
        out.push(("account.tier_changed", tier_change(e, c)));
    }
}

fn refund(e: &Economy, order: &str, b: Before) -> Option<(&'static str, Value)> {
    let (cash_before, stable_before) = b.order_left?;
    let mut v = order_json(e, order)?;
    let (cash_now, stable_now) = (v["cash_fen"].as_u64()?, v["stable_fen"].as_u64()?);
    v["cash_fen"] = json!(cash_before - cash_now);
    v["stable_fen"] = json!(stable_before - stable_now);
    v["fully_refunded"] = json!(cash_now == 0 && stable_now == 0);
    Some(("order.refunded", v))
}

fn collectible_event(e: &Economy, command: &Command, b: Before) -> Option<(&'static str, Value)> {
    let owner_of = |name: &str| {
        let c = e.collectibles().find(name)?;
        Some(e.accounts().get(c.owner).name.to_string())
    };
    Some(match command {
        Command::MintCollectible { collectible, .. }
        | Command::IssueCertificate { collectible, .. } => {
            let c = e.collectibles().find(collectible)?;
            let order = match command {
                Command::IssueCertificate { order, .. } => json!(order.as_str()),
                _ => Value::Null,
            };
            let data = json!({
                "collectible": collectible.as_str(),
                "account": e.accounts().get(c.owner).name.as_str(),
                "series": c.series.as_str(), "atoms": c.atoms,
                "content_sha256": c.content_hex(),
                "certificate": !order.is_null(), "order": order,
            });
            ("collectible.minted", data)
        }
        Command::GiftCollectible { collectible, to } => (
            "collectible.gifted",
            json!({"collectible": collectible.as_str(), "from": b.holder?, "to": to.as_str()}),
        ),
        Command::ExportCollectible { collectible, venue } => (
            "collectible.exported",
            json!({"collectible": collectible.as_str(), "owner": b.holder?, "venue": venue.as_str()}),
        ),
        Command::ReturnCollectible { collectible, .. } => (
            "collectible.returned",
            json!({"collectible": collectible.as_str(), "to": owner_of(collectible)?, "venue": b.holder?}),
        ),
        _ => return None,
    })
}

fn grants(e: &Economy, command: &Command, out: &mut Vec<(&'static str, Value)>) {
    let (order, buyer) = match command {
        Command::ConfirmOrder { order } => {
            let buyer = e.orders().find(order).map(|o| o.consumer);
            (json!(order.as_str()), buyer)
        }
        _ => (Value::Null, None),
    };
    for g in &e.effects().grants {
        let reason = match (buyer, command) {
            (Some(b), _) if b == g.account => "purchase",
            (Some(_), _) => "referral",
            (None, _) => "redemption",
        };
        out.push((
            "points.granted",
            json!({
                "account": e.accounts().get(g.account).name.as_str(),
                "reason": reason, "order": order,
                "atoms": g.atoms.0, "points": points(g.atoms.0),
                "from_treasury_atoms": g.from_treasury.0,
            }),
        ));
    }
}

fn settlement(e: &Economy, out: &mut Vec<(&'static str, Value)>) {
    let effects: &Effects = e.effects();
    let Some(s) = effects.settlement else {
        return;
    };
    let day = format_day(s.day);
    for p in &effects.payouts {
        out.push((
            "dividend.paid",
            json!({"account": e.accounts().get(p.account).name.as_str(), "day": day, "paid_fen": p.paid.0}),
        ));
    }
    out.push((
        "settlement.completed",
        json!({
            "day": day, "paid_fen": s.paid.0, "holders_eligible": s.holders_eligible,
            "holders_paid": s.holders_paid, "holders_capped": s.holders_capped,
            "dividend_pool_fen": e.totals().dividend_pool_fen.0,
        }),
    ));
}
