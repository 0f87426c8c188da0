//! Commands as the engine receives them (SPEC §5).
//!
//! Fields that the SPEC checks at a particular point (names, amounts, days) are carried raw, so
//! that the engine can run its checks in exactly the SPEC's order and give the first failing
//! code. The edge that parses the wire format only decides the shape: which fields are present
//! and whether each is a string, an integer in `u64` or something else.

use compact_str::CompactString;

use crate::collectible::Policy;
use crate::members::TierTable;
use crate::risk::{RiskRules, Signals};
use crate::rules::Rules;

/// A string field as given. The engine checks it against the name pattern where the SPEC says.
pub type Text = CompactString;

/// An amount field: `Some(n)` for a JSON integer in `0..=u64::MAX`, `None` when it is missing
/// or anything else (a float, a string, a negative or larger number): `invalid_amount`.
pub type Amount = Option<u64>;

/// An optional amount field: `None` when absent, `Some(amount)` when present.
pub type OptionalAmount = Option<Amount>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    RegisterConsumer {
        account: Text,
        referrer: Option<Text>,
    },
    RegisterMerchant {
        account: Text,
    },
    PayOrder {
        order: Text,
        consumer: Text,
        merchant: Text,
        cash_fen: Amount,
        stable_fen: Amount,
        /// SPEC §17: the order's signals, keyed hashes (the wire checks their form).
        signals: Option<Box<Signals>>,
    },
    ConfirmOrder {
        order: Text,
    },
    RefundOrder {
        order: Text,
        cash_fen: OptionalAmount,
        stable_fen: OptionalAmount,
    },
    Sell {
        account: Text,
        atoms: Amount,
    },
    ConvertToStable {
        account: Text,
        atoms: Amount,
    },
    RedeemStable {
        account: Text,
        fen: Amount,
    },
    SettleDividends {
        day: Text,
    },
    /// `None` when the `rules` object is not well formed (a missing or unknown key, or a value
    /// of the wrong type): `invalid_rules`.
    SetRules {
        rules: Option<Rules>,
    },
    /// SPEC §13. A missing or non-string `at` is `invalid_time`.
    AdvanceClock {
        at: Text,
    },
    /// `None` when the policy object is not exactly the three keys with the right types:
    /// `invalid_policy`.
    SetCollectiblePolicy {
        policy: Option<Policy>,
    },
    MintCollectible {
        collectible: Text,
        account: Text,
        series: Text,
        atoms: Amount,
        content_sha256: Text,
    },
    IssueCertificate {
        collectible: Text,
        order: Text,
        series: Text,
        content_sha256: Text,
    },
    GiftCollectible {
        collectible: Text,
        to: Text,
    },
    DissolveCollectible {
        collectible: Text,
    },
    ExportCollectible {
        collectible: Text,
        venue: Text,
    },
    ReturnCollectible {
        collectible: Text,
        to: Text,
    },
    /// SPEC §14. A missing or non-string `reference` is carried as `""`, which fails the name
    /// pattern: `invalid_command`, after the account check.
    RecordPayout {
        account: Text,
        amount_fen: Amount,
        reference: Text,
    },
    /// SPEC §16. `None` when the table is not well formed: `invalid_tiers`.
    SetTiers {
        tiers: Option<Box<TierTable>>,
    },
    /// SPEC §16. A missing or non-string `reason` is carried as `""`: `invalid_command`.
    FreezeAccount {
        account: Text,
        reason: Text,
    },
    UnfreezeAccount {
        account: Text,
    },
    /// SPEC §16. `prizes` is `None` when it is not an array of strings: `invalid_command`.
    RecordAward {
        award: Text,
        top: Amount,
        prizes: Option<Vec<Text>>,
    },
    /// SPEC §17. `None` when the object is not exactly the rule keys with the right types:
    /// `invalid_risk_rules`.
    SetRiskRules {
        risk: Option<RiskRules>,
    },
    /// SPEC §17: `list` is `allow`, `deny` or `none`.
    SetTrust {
        account: Text,
        list: Text,
    },
    /// SPEC §17: an account's own signals (a merchant's registered identities).
    RecordSignals {
        account: Text,
        signals: Box<Signals>,
    },
    /// SPEC §17. Missing or non-string `decision`, `reviewer` or `note` are carried as `""`.
    ReviewOrder {
        order: Text,
        decision: Text,
        reviewer: Text,
        note: Text,
    },
}

impl Command {
    /// The wire name of the command's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Command::RegisterConsumer { .. } => "register_consumer",
            Command::RegisterMerchant { .. } => "register_merchant",
            Command::PayOrder { .. } => "pay_order",
            Command::ConfirmOrder { .. } => "confirm_order",
            Command::RefundOrder { .. } => "refund_order",
            Command::Sell { .. } => "sell",
            Command::ConvertToStable { .. } => "convert_to_stable",
            Command::RedeemStable { .. } => "redeem_stable",
            Command::SettleDividends { .. } => "settle_dividends",
            Command::SetRules { .. } => "set_rules",
            Command::AdvanceClock { .. } => "advance_clock",
            Command::SetCollectiblePolicy { .. } => "set_collectible_policy",
            Command::MintCollectible { .. } => "mint_collectible",
            Command::IssueCertificate { .. } => "issue_certificate",
            Command::GiftCollectible { .. } => "gift_collectible",
            Command::DissolveCollectible { .. } => "dissolve_collectible",
            Command::ExportCollectible { .. } => "export_collectible",
            Command::ReturnCollectible { .. } => "return_collectible",
            Command::RecordPayout { .. } => "record_payout",
            Command::SetTiers { .. } => "set_tiers",
            Command::FreezeAccount { .. } => "freeze_account",
            Command::UnfreezeAccount { .. } => "unfreeze_account",
            Command::RecordAward { .. } => "record_award",
            Command::SetRiskRules { .. } => "set_risk_rules",
            Command::SetTrust { .. } => "set_trust",
            Command::RecordSignals { .. } => "record_signals",
            Command::ReviewOrder { .. } => "review_order",
        }
    }

    /// Whether the command changes nothing the exit rule reads (SPEC §14 and §16), so the rule
    /// need not run after it.
    pub fn leaves_the_books_alone(&self) -> bool {
        matches!(
            self,
            Command::RecordPayout { .. }
                | Command::SetTiers { .. }
                | Command::FreezeAccount { .. }
                | Command::UnfreezeAccount { .. }
                | Command::RecordAward { .. }
                | Command::SetRiskRules { .. }
                | Command::SetTrust { .. }
                | Command::RecordSignals { .. }
        )
    }
}
