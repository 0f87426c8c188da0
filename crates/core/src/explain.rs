//! Why a command was rejected, in words that name the field and the bound: `cash_fen +
//! stable_fen: must be 1..=100000000`, `account: no account "c9"`. For people reading an
//! answer; the code stays the contract, and nothing here is journaled or replayed.
//!
//! The words are worked out from the command, its code and a state of the economy (the one it
//! was applied to, or one just after it), so a figure they quote (a balance, a bound from the
//! rules) is the figure of that state.

use crate::code::Code;
use crate::command::{Amount, Command};
use crate::economy::Economy;
use crate::name::is_valid_name;

const NAME_RULE: &str = "must match [A-Za-z0-9_.:@-]{1,64}";

/// Why `command` was rejected with `code`, given `economy`.
pub fn explain(command: &Command, code: Code, economy: &Economy) -> String {
    match code {
        Code::InvalidCommand => invalid_command(command),
        Code::IdConflict => "id: already used by a different command".into(),
        Code::InvalidAmount => invalid_amount(command, economy),
        Code::InvalidDay => "day: must be a real date written YYYY-MM-DD".into(),
        Code::InvalidRules => invalid_rules(command, economy),
        Code::InvalidTime => format!(
            "at: must be an instant written YYYY-MM-DDTHH:MM:SSZ, not before the clock {}",
            crate::format_instant(economy.clock())
        ),
        Code::InvalidPolicy => "policy: must be exactly gifting_enabled (true or false), gift_hold_days (0..=3650) and exchange_enabled (true or false)".into(),
        Code::AlreadySettled => match command {
            Command::SettleDividends { day } => format!("day: {day} is settled already"),
            _ => "day: settled already".into(),
        },
        Code::GiftingDisabled => "the collectible policy does not allow gifts".into(),
        Code::ExchangeDisabled => "the collectible policy does not allow exports".into(),
        Code::AmountTooSmall => "fen: too small to buy one atom at today's price".into(),
        Code::SupplyExhausted => {
            "fen: the treasury and the points not yet issued cannot cover it".into()
        }
        Code::InvalidTiers => match command {
            Command::SetTiers { tiers: Some(t) } => match t.check() {
                Err(why) => format!("tiers: {why}"),
                Ok(()) => "tiers: not a valid table".into(),
            },
            _ => "tiers: must be exactly basis, downgrade, partner_min (optional) and levels".into(),
        },
        Code::AccountFrozen => "account: frozen; it cannot sell, convert or gift".into(),
        Code::AccountNotFrozen => "account: not frozen".into(),
        Code::DuplicateAward => match command {
            Command::RecordAward { award, .. } => format!("award: {award:?} exists already"),
            _ => "award: exists already".into(),
        },
        Code::InvalidRiskRules => "risk: must be exactly the rule keys of SPEC §17, each within its bounds (velocity_orders 0..=20, ring_hours and new_account_hours 0..=168, refund_rate_pct 0..=100, hold_days 1..=90)".into(),
        Code::OrderHeld => "order: held for review; a reviewer approves or rejects it (review_order)".into(),
        Code::OrderNotHeld => "order: not held for review".into(),
        _ => about_state(command, code, economy),
    }
}

/// The first name field that does not match the pattern; or what else makes it invalid.
fn invalid_command(command: &Command) -> String {
    let names: Vec<(&str, &str)> = match command {
        Command::RegisterConsumer { account, referrer } => {
            let mut v = vec![("account", account.as_str())];
            v.extend(referrer.as_deref().map(|r| ("referrer", r)));
            v
        }
        Command::RegisterMerchant { account } => vec![("account", account)],
        Command::PayOrder { order, .. } => vec![("order", order)],
        Command::MintCollectible {
            collectible,
            series,
            content_sha256,
            ..
        }
        | Command::IssueCertificate {
            collectible,
            series,
            content_sha256,
            ..
        } => {
            if crate::parse_sha256_hex(content_sha256).is_none()
                && is_valid_name(collectible)
                && is_valid_name(series)
            {
                return "content_sha256: must be 64 lowercase hex digits".into();
            }
            vec![("collectible", collectible), ("series", series)]
        }
        Command::ExportCollectible { venue, .. } => vec![("venue", venue)],
        Command::RecordPayout { reference, .. } => vec![("reference", reference)],
        Command::GiftCollectible { .. } => return "to: already the collectible's owner".into(),
        Command::FreezeAccount { .. } => {
            return "reason: must be 1 to 200 characters, without control characters".into()
        }
        Command::RecordAward { award, .. } if is_valid_name(award) => {
            return "prizes: must be 1 to top texts of 1 to 100 characters".into()
        }
        Command::RecordAward { award, .. } => vec![("award", award)],
        Command::SetTrust { .. } => return "list: must be allow, deny or none".into(),
        Command::RecordSignals { .. } => {
            return "signals: give at least one of phone, address, device, network".into()
        }
        Command::ReviewOrder {
            decision, reviewer, ..
        } => {
            if crate::risk::Decision::parse_review(decision).is_none() {
                return "decision: must be approve, reject or extend".into();
            }
            if !is_valid_name(reviewer) {
                return format!("reviewer: {NAME_RULE}");
            }
            return "note: at most 200 characters, without control characters".into();
        }
        _ => Vec::new(),
    };
    match names.into_iter().find(|(_, v)| !is_valid_name(v)) {
        Some((field, _)) => format!("{field}: {NAME_RULE}"),
        None => "the command is not valid".into(),
    }
}

fn amount_problem(field: &str, amount: &Amount, at_least: u64) -> Option<String> {
    match amount {
        None => Some(format!("{field}: must be an integer")),
        Some(n) if *n < at_least => Some(format!("{field}: must be at least {at_least}")),
        _ => None,
    }
}

fn invalid_amount(command: &Command, economy: &Economy) -> String {
    let max = economy.rules().order_max_fen;
    let found = match command {
        Command::PayOrder {
            cash_fen,
            stable_fen,
            ..
        } => amount_problem("cash_fen", cash_fen, 0)
            .or_else(|| amount_problem("stable_fen", stable_fen, 0))
            .or_else(|| Some(format!("cash_fen + stable_fen: must be 1..={max} (order_max_fen)"))),
        Command::RefundOrder { order, .. } => Some(match economy.orders().find(order) {
            Some(o) => format!(
                "cash_fen, stable_fen: when given, must be the whole order: cash_fen {}, stable_fen {}",
                o.cash_fen, o.stable_fen
            ),
            None => "cash_fen, stable_fen: when given, must be the whole order".into(),
        }),
        Command::Sell { atoms, .. }
        | Command::ConvertToStable { atoms, .. }
        | Command::MintCollectible { atoms, .. } => amount_problem("atoms", atoms, 1),
        Command::RedeemStable { fen, .. } => amount_problem("fen", fen, 1),
        Command::RecordPayout { amount_fen, .. } => amount_problem("amount_fen", amount_fen, 1),
        Command::RecordAward { .. } => Some("top: must be an integer in 1..=100".into()),
        _ => None,
    };
    found.unwrap_or_else(|| "an amount is not valid".into())
}

fn invalid_rules(command: &Command, economy: &Economy) -> String {
    match command {
        Command::SetRules { rules: Some(r) } => {
            let issued = economy.totals().issued_atoms.0;
            match r.check(issued) {
                Err(why) => format!("rules: {why}"),
                Ok(()) => "rules: not valid".into(),
            }
        }
        _ => format!(
            "rules: must hold exactly the {} keys of SPEC §3, integers and true or false as each takes",
            crate::RULE_KEYS.len()
        ),
    }
}

/// The account fields a command names, in the order the engine checks them.
fn account_fields(command: &Command) -> Vec<(&'static str, &str)> {
    match command {
        Command::RegisterConsumer { account, referrer } => {
            let mut v: Vec<(&'static str, &str)> =
                referrer.iter().map(|r| ("referrer", r.as_str())).collect();
            v.push(("account", account));
            v
        }
        Command::RegisterMerchant { account } => vec![("account", account)],
        Command::PayOrder {
            consumer, merchant, ..
        } => vec![("consumer", consumer), ("merchant", merchant)],
        Command::Sell { account, .. }
        | Command::ConvertToStable { account, .. }
        | Command::RedeemStable { account, .. }
        | Command::MintCollectible { account, .. }
        | Command::RecordPayout { account, .. }
        | Command::FreezeAccount { account, .. }
        | Command::SetTrust { account, .. }
        | Command::RecordSignals { account, .. }
        | Command::UnfreezeAccount { account } => vec![("account", account)],
        Command::GiftCollectible { to, .. } | Command::ReturnCollectible { to, .. } => {
            vec![("to", to)]
        }
        _ => Vec::new(),
    }
}

/// Codes about the state: which named thing is missing, of the wrong kind, or short.
fn about_state(command: &Command, code: Code, economy: &Economy) -> String {
    match code {
        Code::UnknownReferrer
        | Code::UnknownAccount
        | Code::NotAConsumer
        | Code::NotAMerchant
        | Code::DuplicateAccount => about_accounts(command, code, economy),
        Code::InsufficientPoints | Code::InsufficientStable | Code::PayoutExceedsOwed => {
            about_balances(command, code, economy)
        }
        _ => about_orders_and_collectibles(command, code, economy),
    }
}

fn about_accounts(command: &Command, code: Code, economy: &Economy) -> String {
    let fields = account_fields(command);
    let consumer = |name: &str| economy.account(name).map(|a| a.is_consumer());
    let found = fields.iter().find(|(field, name)| match code {
        Code::UnknownReferrer => *field == "referrer" && consumer(name) != Some(true),
        Code::UnknownAccount => consumer(name).is_none(),
        Code::NotAConsumer => consumer(name) == Some(false),
        Code::NotAMerchant => consumer(name) == Some(true),
        _ => *field == "account" && consumer(name).is_some(),
    });
    let Some((field, name)) = found else {
        return format!("an account the command names: {}", code.as_str());
    };
    match code {
        Code::UnknownReferrer => format!("{field}: no consumer {name:?}"),
        Code::UnknownAccount => format!("{field}: no account {name:?}"),
        Code::NotAConsumer => format!("{field}: {name:?} is a merchant, not a consumer"),
        Code::NotAMerchant => format!("{field}: {name:?} is a consumer, not a merchant"),
        _ => format!("{field}: {name:?} exists already"),
    }
}

fn about_balances(command: &Command, code: Code, economy: &Economy) -> String {
    let held = |name: &str| economy.account(name);
    match (command, code) {
        (
            Command::Sell { account, .. }
            | Command::ConvertToStable { account, .. }
            | Command::MintCollectible { account, .. },
            Code::InsufficientPoints,
        ) => match held(account) {
            Some(a) => format!(
                "atoms: more than the {} free atoms {account:?} holds",
                a.atoms
            ),
            None => "atoms: more than the free atoms held".into(),
        },
        (Command::PayOrder { consumer, .. }, _) => match held(consumer) {
            Some(a) => format!(
                "stable_fen: more than the {} fen of stable points {consumer:?} holds",
                a.stable_fen
            ),
            None => "stable_fen: more than the stable points held".into(),
        },
        (Command::RedeemStable { account, .. }, _) => match held(account) {
            Some(a) => format!(
                "fen: more than the {} fen of stable points {account:?} holds",
                a.stable_fen
            ),
            None => "fen: more than the stable points held".into(),
        },
        (Command::RecordPayout { account, .. }, _) => match economy.accounts().find(account) {
            Some(id) => format!(
                "amount_fen: more than the {} fen {account:?} is owed",
                economy.accounts().extras(id).owed_fen
            ),
            None => "amount_fen: more than the account is owed".into(),
        },
        _ => format!("a balance is too small: {}", code.as_str()),
    }
}

fn about_orders_and_collectibles(command: &Command, code: Code, economy: &Economy) -> String {
    let order = match command {
        Command::PayOrder { order, .. }
        | Command::ConfirmOrder { order }
        | Command::RefundOrder { order, .. }
        | Command::ReviewOrder { order, .. }
        | Command::IssueCertificate { order, .. } => Some(order.as_str()),
        _ => None,
    };
    let collectible = match command {
        Command::MintCollectible { collectible, .. }
        | Command::IssueCertificate { collectible, .. }
        | Command::GiftCollectible { collectible, .. }
        | Command::DissolveCollectible { collectible }
        | Command::ExportCollectible { collectible, .. }
        | Command::ReturnCollectible { collectible, .. } => Some(collectible.as_str()),
        _ => None,
    };
    let o = order.unwrap_or("");
    let c = collectible.unwrap_or("");
    let status = economy
        .orders()
        .find(o)
        .map_or("unknown", |o| o.status.as_str());
    let found = economy.collectibles().find(c);
    let state = found.map_or("unknown", |c| c.state.as_str());
    match code {
        Code::DuplicateOrder => format!("order: {o:?} exists already"),
        Code::UnknownOrder => format!("order: no order {o:?}"),
        Code::OrderNotPending => format!("order: {o:?} is {status}, not pending"),
        Code::OrderNotConfirmed => format!("order: {o:?} is {status}, not confirmed"),
        Code::DuplicateCollectible => format!("collectible: {c:?} exists already"),
        Code::UnknownCollectible => format!("collectible: no collectible {c:?}"),
        Code::CollectibleNotHeld => format!("collectible: {c:?} is {state}, not held"),
        Code::CollectibleNotExported => format!("collectible: {c:?} is {state}, not exported"),
        Code::HoldingPeriod => match found {
            Some(x) => format!(
                "collectible: {c:?} may be gifted from {}",
                crate::format_instant(x.giftable_at(economy.policy()))
            ),
            None => "collectible: still in its holding period".into(),
        },
        other => other.as_str().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Rules, Text};

    fn economy() -> Economy {
        let mut e = Economy::new(Rules::default());
        for c in [
            Command::RegisterMerchant {
                account: "shop".into(),
            },
            Command::RegisterConsumer {
                account: "alice".into(),
                referrer: None,
            },
        ] {
            e.execute(&c).unwrap();
        }
        e
    }

    fn why(c: Command) -> String {
        let mut e = economy();
        let code = e.execute(&c).unwrap_err();
        explain(&c, code, &e)
    }

    #[test]
    fn fields_and_bounds_are_named() {
        let pay = |cash: Option<u64>, consumer: &str| Command::PayOrder {
            order: "o1".into(),
            consumer: Text::from(consumer),
            merchant: "shop".into(),
            cash_fen: cash,
            stable_fen: Some(0),
            signals: None,
        };
        assert_eq!(
            why(pay(Some(0), "alice")),
            "cash_fen + stable_fen: must be 1..=100000000 (order_max_fen)"
        );
        assert_eq!(why(pay(None, "alice")), "cash_fen: must be an integer");
        assert_eq!(why(pay(Some(5), "bob")), "consumer: no account \"bob\"");
        assert_eq!(
            why(pay(Some(5), "shop")),
            "consumer: \"shop\" is a merchant, not a consumer"
        );
        let sell = Command::Sell {
            account: "alice".into(),
            atoms: Some(5),
        };
        assert_eq!(
            why(sell),
            "atoms: more than the 0 free atoms \"alice\" holds"
        );
        let sell = Command::Sell {
            account: "alice".into(),
            atoms: Some(0),
        };
        assert_eq!(why(sell), "atoms: must be at least 1");
        let reg = Command::RegisterConsumer {
            account: "bad name!".into(),
            referrer: None,
        };
        assert_eq!(why(reg), "account: must match [A-Za-z0-9_.:@-]{1,64}");
        let reg = Command::RegisterConsumer {
            account: "alice".into(),
            referrer: None,
        };
        assert_eq!(why(reg), "account: \"alice\" exists already");
        assert_eq!(
            why(Command::ConfirmOrder { order: "o9".into() }),
            "order: no order \"o9\""
        );
        assert_eq!(
            why(Command::SettleDividends {
                day: "2026-02-30".into()
            }),
            "day: must be a real date written YYYY-MM-DD"
        );
        let rules = Rules {
            reserve_bps: 20_000,
            ..Rules::default()
        };
        assert_eq!(
            why(Command::SetRules { rules: Some(rules) }),
            "rules: reserve_bps must be at most 10000"
        );
    }

    #[test]
    fn every_code_has_words() {
        let e = economy();
        let c = Command::ConfirmOrder { order: "o".into() };
        for code in Code::ALL {
            assert!(!explain(&c, code, &e).is_empty(), "{code:?}");
        }
    }
}
