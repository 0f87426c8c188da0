//! What a connector does with one order event, decided from what it knows of the order: pure,
//! so every command it issues can be explained from the delivery and the order's state.
//!
//! - A payment registers the buyer on first sight and becomes `pay_order`; then every event
//!   held for it (refunds, then the completion) follows in the same transaction.
//! - A completion becomes `confirm_order`, or nothing when the operator leaves orders to the
//!   economy's auto-confirm window.
//! - A refund becomes `refund_order`, of its amount or of everything left.
//! - A completion or refund before its payment, and an event without a needed amount, is held.

use jifen_connect::{Amount, Stage};
use jifen_journal::ids;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What a connector keeps of a platform order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderState {
    /// The account that paid, once the payment is applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_by: Option<String>,
    /// The highest platform version seen of each stage (`paid`, `completed`, `refunded`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<Stage, u64>,
    /// Deliveries held until the payment arrives, by their key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
}

/// An order event as a connector keeps it: the platform's event with the buyer and referrer
/// already turned into account names (identities themselves are never stored).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    pub order: String,
    pub stage: Stage,
    pub amount: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The delivery's risk signals (SPEC §17) by kind, as keyed hashes (16 hex digits); a
    /// payment carries them on its `pay_order`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, String>,
}

/// The settings of a connector the plan depends on.
pub struct Rules<'a> {
    pub connector: &'a str,
    pub merchant: &'a str,
    pub currency: &'a str,
    /// Completions left to the economy's auto-confirm window instead of `confirm_order`.
    pub auto_confirm: bool,
}

/// Where a delivery ends.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Applied,
    Held,
    Ignored,
    Refused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Held => "held",
            Status::Ignored => "ignored",
            Status::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Applied,
            Status::Held,
            Status::Ignored,
            Status::Refused,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// The decision on one event: its status and reason, and the commands it becomes.
#[derive(Debug, PartialEq)]
pub struct Decision {
    pub status: Status,
    pub reason: String,
    pub commands: Vec<Value>,
}

impl Decision {
    fn of(status: Status, reason: impl Into<String>) -> Decision {
        Decision {
            status,
            reason: reason.into(),
            commands: Vec::new(),
        }
    }
}

/// The reason an event waits for its payment.
pub const WAITING_FOR_PAYMENT: &str = "waiting for the order's payment";
/// The reason an event waits for the operator.
pub const AMOUNT_NEEDED: &str = "amount needed: the platform sent none; supply it from the inbox";

/// Decides what `event` does to an order in `state` (changed in place). A payment's decision
/// does not include the held events it releases: the caller asks for each with [`decide`]
/// again once the payment is in the state.
pub fn decide(rules: &Rules, state: &mut OrderState, event: &Event) -> Decision {
    let seen = state.versions.get(&event.stage).copied();
    if let (Some(v), Some(seen)) = (event.version, seen) {
        if v < seen {
            return Decision::of(
                Status::Ignored,
                format!("version {v} is older than version {seen}, already seen"),
            );
        }
    }
    if let Some(c) = event.currency.as_deref().filter(|c| *c != rules.currency) {
        return Decision::of(
            Status::Refused,
            format!("currency {c} is not the programme's ({})", rules.currency),
        );
    }
    if let Some(v) = event.version {
        state.versions.insert(event.stage, v.max(seen.unwrap_or(0)));
    }
    match event.stage {
        Stage::Paid => pay(rules, state, event),
        Stage::Completed | Stage::Refunded if state.paid_by.is_none() => {
            Decision::of(Status::Held, WAITING_FOR_PAYMENT)
        }
        Stage::Completed if rules.auto_confirm => Decision::of(
            Status::Applied,
            "completed: left to the economy's auto-confirm window",
        ),
        Stage::Completed => Decision {
            status: Status::Applied,
            reason: "completed: confirm_order".into(),
            commands: vec![json!({
                "type": "confirm_order",
                "id": ids::shop(rules.connector, &event.order, "completed"),
                "order": ids::shop_order(rules.connector, &event.order),
            })],
        },
        Stage::Refunded => refund(rules, event),
    }
}

fn pay(rules: &Rules, state: &mut OrderState, event: &Event) -> Decision {
    let Some(account) = event.account.as_deref() else {
        return Decision::of(
            Status::Ignored,
            "a guest checkout: the order names no buyer",
        );
    };
    let fen = match event.amount {
        Amount::Fen(0) => return Decision::of(Status::Refused, "an order of 0 fen earns nothing"),
        Amount::Fen(f) => f,
        _ => return Decision::of(Status::Held, AMOUNT_NEEDED),
    };
    let mut register = json!({
        "type": "register_consumer",
        "id": ids::account(account),
        "account": account,
    });
    if let Some(r) = &event.referrer {
        register["referrer"] = json!(r);
    }
    state.paid_by = Some(account.to_string());
    let mut pay = json!({
        "type": "pay_order",
        "id": ids::shop(rules.connector, &event.order, "paid"),
        "order": ids::shop_order(rules.connector, &event.order),
        "consumer": account,
        "merchant": rules.merchant,
        "cash_fen": fen,
        "stable_fen": 0,
    });
    if !event.signals.is_empty() {
        pay["signals"] = json!(event.signals);
    }
    Decision {
        status: Status::Applied,
        reason: format!("paid: {fen} fen by {account}"),
        commands: vec![register, pay],
    }
}

fn refund(rules: &Rules, event: &Event) -> Decision {
    let which = event.refund.as_deref().unwrap_or("1");
    let mut command = json!({
        "type": "refund_order",
        "id": ids::shop(rules.connector, &event.order, &format!("refund:{which}")),
        "order": ids::shop_order(rules.connector, &event.order),
    });
    let reason = match event.amount {
        Amount::Fen(f) => {
            command["cash_fen"] = json!(f);
            format!("refunded: {f} fen")
        }
        Amount::All => "refunded: everything left".to_string(),
        _ => return Decision::of(Status::Held, AMOUNT_NEEDED),
    };
    Decision {
        status: Status::Applied,
        reason,
        commands: vec![command],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        connector: "shop",
        merchant: "m1",
        currency: "CNY",
        auto_confirm: false,
    };

    fn event(stage: Stage, amount: Amount) -> Event {
        Event {
            order: "A1".into(),
            stage,
            amount,
            currency: Some("CNY".into()),
            account: Some("c-1".into()),
            referrer: None,
            refund: None,
            version: None,
            signals: BTreeMap::new(),
        }
    }

    #[test]
    fn a_payments_signals_ride_on_its_pay_order() {
        let mut s = OrderState::default();
        let d = decide(&RULES, &mut s, &event(Stage::Paid, Amount::Fen(5999)));
        assert!(
            d.commands[1].get("signals").is_none(),
            "none sent, none carried"
        );
        let mut e = event(Stage::Paid, Amount::Fen(5999));
        e.signals.insert("phone".into(), "00112233445566ff".into());
        let d = decide(&RULES, &mut OrderState::default(), &e);
        assert_eq!(
            d.commands[1]["signals"],
            json!({"phone": "00112233445566ff"})
        );
    }

    #[test]
    fn a_payment_registers_and_pays_then_completion_confirms() {
        let mut s = OrderState::default();
        let d = decide(&RULES, &mut s, &event(Stage::Paid, Amount::Fen(5999)));
        assert_eq!(d.status, Status::Applied);
        assert_eq!(d.commands[0]["type"], "register_consumer");
        assert_eq!(d.commands[1]["cash_fen"], 5999);
        assert_eq!(d.commands[1]["order"], "shop:A1");
        assert_eq!(d.commands[1]["id"], "jifen:shop:shop:A1:paid");
        let d = decide(&RULES, &mut s, &event(Stage::Completed, Amount::None));
        assert_eq!(d.commands[0]["type"], "confirm_order");
    }

    #[test]
    fn early_events_and_missing_amounts_are_held() {
        let mut s = OrderState::default();
        let d = decide(&RULES, &mut s, &event(Stage::Refunded, Amount::Fen(10)));
        assert_eq!(
            (d.status, d.reason.as_str()),
            (Status::Held, WAITING_FOR_PAYMENT)
        );
        let d = decide(&RULES, &mut s, &event(Stage::Paid, Amount::Needed));
        assert_eq!((d.status, d.reason.as_str()), (Status::Held, AMOUNT_NEEDED));
        assert_eq!(s.paid_by, None);
    }

    #[test]
    fn guests_other_currencies_and_old_versions() {
        let mut s = OrderState::default();
        let mut guest = event(Stage::Paid, Amount::Fen(1));
        guest.account = None;
        assert_eq!(decide(&RULES, &mut s, &guest).status, Status::Ignored);
        let mut usd = event(Stage::Paid, Amount::Fen(1));
        usd.currency = Some("USD".into());
        assert!(decide(&RULES, &mut s, &usd).reason.contains("USD"));
        let mut v5 = event(Stage::Paid, Amount::Fen(1));
        v5.version = Some(5);
        decide(&RULES, &mut s, &v5);
        let mut v4 = event(Stage::Paid, Amount::Fen(1));
        v4.version = Some(4);
        assert_eq!(decide(&RULES, &mut s, &v4).status, Status::Ignored);
        // Versions order one stage's events: an earlier version of another stage still counts.
        let mut done = event(Stage::Completed, Amount::None);
        done.version = Some(1);
        assert_eq!(decide(&RULES, &mut s, &done).status, Status::Applied);
    }

    #[test]
    fn auto_confirm_leaves_completion_to_the_window() {
        let rules = Rules {
            auto_confirm: true,
            ..RULES
        };
        let mut s = OrderState::default();
        decide(&rules, &mut s, &event(Stage::Paid, Amount::Fen(1)));
        let d = decide(&rules, &mut s, &event(Stage::Completed, Amount::None));
        assert_eq!((d.status, d.commands.len()), (Status::Applied, 0));
    }
}
