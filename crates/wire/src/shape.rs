//! The shape of a command: which fields each type has, of which JSON types. [`Parsed`] is one
//! command line as parsed; [`command_from`] maps a command object's fields (from a
//! `serde_json::Map`, or the fast path's borrowed fields) to a core [`Command`]. Shapes only:
//! the engine checks values.

use jifen_core::{Amount, Code, Command, Fingerprint, Rules, Text};
use serde_json::{Map, Value};

use crate::rules::rules_from_json;

/// One parsed command line.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The line's `"id"` value when it is not a plain string (`null` when absent or when the
    /// line is not a JSON object). A string id is not copied here: see [`Parsed::id_echo`].
    echo: Value,
    /// The id when it is a string (the ledger checks its pattern).
    pub id: Option<Text>,
    pub fingerprint: Fingerprint,
    /// The command, or the code that parsing already decided.
    pub command: Result<Command, Code>,
}

impl Parsed {
    /// The line's `"id"` value as given, for echoing in outcomes.
    pub fn id_echo(&self) -> Value {
        match &self.id {
            Some(id) => Value::String(id.to_string()),
            None => self.echo.clone(),
        }
    }

    pub(crate) fn new(
        id: Option<Text>,
        echo: Value,
        fingerprint: Fingerprint,
        command: Result<Command, Code>,
    ) -> Parsed {
        let echo = if id.is_some() { Value::Null } else { echo };
        Parsed {
            echo,
            id,
            fingerprint,
            command,
        }
    }

    pub(crate) fn invalid(id_echo: Value) -> Parsed {
        Parsed {
            id: id_echo.as_str().map(Text::from),
            echo: id_echo,
            fingerprint: Fingerprint(0),
            command: Err(Code::InvalidCommand),
        }
    }
}

/// Where a command's fields come from: a parsed JSON object, or the borrowed fast path.
pub(crate) trait Source {
    /// Whether every field is `type`, `id` or one of `allowed`.
    fn only(&self, allowed: &[&str]) -> bool;
    /// A string field; `None` when missing, `Some(None)` when present but not a string.
    fn string(&self, key: &str) -> Option<Option<&str>>;
    /// An amount field; `None` when missing, `Some(None)` when present but not in `u64`.
    fn number(&self, key: &str) -> Option<Amount>;
    fn rules(&self) -> Option<Rules>;
    fn policy(&self) -> Option<jifen_core::Policy>;
    /// SPEC §16's structured fields; the fast path declines commands that have them.
    fn tiers(&self) -> Option<jifen_core::members::TierTable> {
        None
    }
    fn prizes(&self) -> Option<Vec<Text>> {
        None
    }
    /// SPEC §17's structured fields, likewise: `None` when missing, `Some(None)` malformed.
    fn signals(&self) -> Option<Option<jifen_core::risk::Signals>> {
        None
    }
    fn risk(&self) -> Option<jifen_core::risk::RiskRules> {
        None
    }
}

impl Source for Map<String, Value> {
    fn only(&self, allowed: &[&str]) -> bool {
        self.keys()
            .all(|k| k == "type" || k == "id" || allowed.contains(&k.as_str()))
    }

    fn string(&self, key: &str) -> Option<Option<&str>> {
        self.get(key).map(Value::as_str)
    }

    fn number(&self, key: &str) -> Option<Amount> {
        self.get(key).map(Value::as_u64)
    }

    fn rules(&self) -> Option<Rules> {
        self.get("rules").and_then(rules_from_json)
    }

    fn policy(&self) -> Option<jifen_core::Policy> {
        self.get("policy").and_then(crate::rules::policy_from_json)
    }

    fn tiers(&self) -> Option<jifen_core::members::TierTable> {
        self.get("tiers").and_then(crate::rules::tiers_from_json)
    }

    fn prizes(&self) -> Option<Vec<Text>> {
        self.get("prizes").and_then(crate::rules::prizes_from_json)
    }

    fn signals(&self) -> Option<Option<jifen_core::risk::Signals>> {
        self.get("signals").map(crate::risk::signals_from_json)
    }

    fn risk(&self) -> Option<jifen_core::risk::RiskRules> {
        self.get("risk").and_then(crate::risk::risk_from_json)
    }
}

fn only(source: &impl Source, allowed: &[&str]) -> Result<(), Code> {
    source
        .only(allowed)
        .then_some(())
        .ok_or(Code::InvalidCommand)
}

fn text(source: &impl Source, key: &str) -> Result<Text, Code> {
    match source.string(key) {
        Some(Some(s)) => Ok(Text::from(s)),
        _ => Err(Code::InvalidCommand),
    }
}

fn optional_text(source: &impl Source, key: &str) -> Result<Option<Text>, Code> {
    match source.string(key) {
        None => Ok(None),
        Some(Some(s)) => Ok(Some(Text::from(s))),
        Some(None) => Err(Code::InvalidCommand),
    }
}

/// A text field the engine checks itself: a missing or non-string one is carried as "", which
/// the engine refuses at the point its SPEC check falls.
fn loose_text(source: &impl Source, key: &str) -> Text {
    source.string(key).flatten().unwrap_or("").into()
}

fn amount(source: &impl Source, key: &str) -> Amount {
    source.number(key).flatten()
}

/// Maps a command object's fields to a core command. Shapes only: the engine checks values.
pub(crate) fn command_from(f: &impl Source, kind: &str) -> Result<Command, Code> {
    let command = match kind {
        "register_consumer" => {
            only(f, &["account", "referrer"])?;
            Command::RegisterConsumer {
                account: text(f, "account")?,
                referrer: optional_text(f, "referrer")?,
            }
        }
        "register_merchant" => {
            only(f, &["account"])?;
            Command::RegisterMerchant {
                account: text(f, "account")?,
            }
        }
        "pay_order" => {
            only(
                f,
                &[
                    "order",
                    "consumer",
                    "merchant",
                    "cash_fen",
                    "stable_fen",
                    "signals",
                ],
            )?;
            Command::PayOrder {
                order: text(f, "order")?,
                consumer: text(f, "consumer")?,
                merchant: text(f, "merchant")?,
                cash_fen: amount(f, "cash_fen"),
                stable_fen: amount(f, "stable_fen"),
                signals: match f.signals() {
                    None => None,
                    Some(s) => Some(Box::new(s.ok_or(Code::InvalidCommand)?)),
                },
            }
        }
        "confirm_order" => {
            only(f, &["order"])?;
            Command::ConfirmOrder {
                order: text(f, "order")?,
            }
        }
        "refund_order" => {
            only(f, &["order", "cash_fen", "stable_fen"])?;
            Command::RefundOrder {
                order: text(f, "order")?,
                cash_fen: f.number("cash_fen"),
                stable_fen: f.number("stable_fen"),
            }
        }
        "sell" => {
            only(f, &["account", "atoms"])?;
            Command::Sell {
                account: text(f, "account")?,
                atoms: amount(f, "atoms"),
            }
        }
        "convert_to_stable" => {
            only(f, &["account", "atoms"])?;
            Command::ConvertToStable {
                account: text(f, "account")?,
                atoms: amount(f, "atoms"),
            }
        }
        "redeem_stable" => {
            only(f, &["account", "fen"])?;
            Command::RedeemStable {
                account: text(f, "account")?,
                fen: amount(f, "fen"),
            }
        }
        "settle_dividends" => {
            only(f, &["day"])?;
            // A missing or non-string day is not a day: `invalid_day`.
            Command::SettleDividends {
                day: loose_text(f, "day"),
            }
        }
        "set_rules" => {
            only(f, &["rules"])?;
            Command::SetRules { rules: f.rules() }
        }
        "advance_clock" => {
            only(f, &["at"])?;
            // A missing or non-string instant is not an instant: `invalid_time`.
            Command::AdvanceClock {
                at: loose_text(f, "at"),
            }
        }
        "set_collectible_policy" => {
            only(f, &["policy"])?;
            Command::SetCollectiblePolicy { policy: f.policy() }
        }
        "mint_collectible" => {
            only(
                f,
                &[
                    "collectible",
                    "account",
                    "series",
                    "atoms",
                    "content_sha256",
                ],
            )?;
            Command::MintCollectible {
                collectible: text(f, "collectible")?,
                account: text(f, "account")?,
                series: text(f, "series")?,
                atoms: amount(f, "atoms"),
                content_sha256: text(f, "content_sha256")?,
            }
        }
        "issue_certificate" => {
            only(f, &["collectible", "order", "series", "content_sha256"])?;
            Command::IssueCertificate {
                collectible: text(f, "collectible")?,
                order: text(f, "order")?,
                series: text(f, "series")?,
                content_sha256: text(f, "content_sha256")?,
            }
        }
        "gift_collectible" => {
            only(f, &["collectible", "to"])?;
            Command::GiftCollectible {
                collectible: text(f, "collectible")?,
                to: text(f, "to")?,
            }
        }
        "dissolve_collectible" => {
            only(f, &["collectible"])?;
            Command::DissolveCollectible {
                collectible: text(f, "collectible")?,
            }
        }
        "export_collectible" => {
            only(f, &["collectible", "venue"])?;
            Command::ExportCollectible {
                collectible: text(f, "collectible")?,
                venue: text(f, "venue")?,
            }
        }
        "return_collectible" => {
            only(f, &["collectible", "to"])?;
            Command::ReturnCollectible {
                collectible: text(f, "collectible")?,
                to: text(f, "to")?,
            }
        }
        "record_payout" => {
            only(f, &["account", "amount_fen", "reference"])?;
            // A missing or non-string reference fails the name pattern in the engine, after
            // the account check (SPEC §14's order).
            Command::RecordPayout {
                account: text(f, "account")?,
                amount_fen: amount(f, "amount_fen"),
                reference: loose_text(f, "reference"),
            }
        }
        other => return member_command_from(f, other),
    };
    Ok(command)
}

/// SPEC §16's commands.
fn member_command_from(f: &impl Source, kind: &str) -> Result<Command, Code> {
    let command = match kind {
        "set_tiers" => {
            only(f, &["tiers"])?;
            Command::SetTiers {
                tiers: f.tiers().map(Box::new),
            }
        }
        "freeze_account" => {
            only(f, &["account", "reason"])?;
            // A missing or non-string reason is carried as "", which the engine refuses.
            Command::FreezeAccount {
                account: text(f, "account")?,
                reason: loose_text(f, "reason"),
            }
        }
        "unfreeze_account" => {
            only(f, &["account"])?;
            Command::UnfreezeAccount {
                account: text(f, "account")?,
            }
        }
        "record_award" => {
            only(f, &["award", "top", "prizes"])?;
            Command::RecordAward {
                award: text(f, "award")?,
                top: amount(f, "top"),
                prizes: f.prizes(),
            }
        }
        other => return risk_command_from(f, other),
    };
    Ok(command)
}

/// SPEC §17's commands.
fn risk_command_from(f: &impl Source, kind: &str) -> Result<Command, Code> {
    let command = match kind {
        "set_risk_rules" => {
            only(f, &["risk"])?;
            Command::SetRiskRules { risk: f.risk() }
        }
        "set_trust" => {
            only(f, &["account", "list"])?;
            Command::SetTrust {
                account: text(f, "account")?,
                list: loose_text(f, "list"),
            }
        }
        "record_signals" => {
            only(f, &["account", "signals"])?;
            let signals = f.signals().flatten().ok_or(Code::InvalidCommand)?;
            Command::RecordSignals {
                account: text(f, "account")?,
                signals: Box::new(signals),
            }
        }
        "review_order" => {
            only(f, &["order", "decision", "reviewer", "note"])?;
            Command::ReviewOrder {
                order: text(f, "order")?,
                decision: loose_text(f, "decision"),
                reviewer: text(f, "reviewer")?,
                note: loose_text(f, "note"),
            }
        }
        _ => return Err(Code::InvalidCommand),
    };
    Ok(command)
}

pub(crate) fn command_from_map(map: &Map<String, Value>) -> Result<Command, Code> {
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or(Code::InvalidCommand)?;
    command_from(map, kind)
}
