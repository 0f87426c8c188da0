//! The stable rejection codes of SPEC §5, §13 and §14.

use core::fmt;

/// Why a command was rejected. The string form is part of the public contract: it appears in
/// outcomes, in the journal and in the HTTP API, and never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Code {
    InvalidCommand = 1,
    IdConflict,
    InvalidAmount,
    UnknownReferrer,
    DuplicateAccount,
    UnknownAccount,
    NotAConsumer,
    NotAMerchant,
    DuplicateOrder,
    InsufficientStable,
    UnknownOrder,
    OrderNotPending,
    InsufficientPoints,
    AmountTooSmall,
    SupplyExhausted,
    InvalidDay,
    AlreadySettled,
    InvalidRules,
    // Stage 2 (SPEC §13).
    InvalidTime,
    InvalidPolicy,
    DuplicateCollectible,
    OrderNotConfirmed,
    UnknownCollectible,
    CollectibleNotHeld,
    GiftingDisabled,
    HoldingPeriod,
    ExchangeDisabled,
    CollectibleNotExported,
    // Stage 3 (SPEC §14).
    PayoutExceedsOwed,
    // Members (SPEC §16).
    InvalidTiers,
    AccountFrozen,
    AccountNotFrozen,
    DuplicateAward,
    // Risk controls (SPEC §17).
    InvalidRiskRules,
    OrderHeld,
    OrderNotHeld,
}

impl Code {
    /// Every code, in declaration order.
    pub const ALL: [Code; 36] = [
        Code::InvalidCommand,
        Code::IdConflict,
        Code::InvalidAmount,
        Code::UnknownReferrer,
        Code::DuplicateAccount,
        Code::UnknownAccount,
        Code::NotAConsumer,
        Code::NotAMerchant,
        Code::DuplicateOrder,
        Code::InsufficientStable,
        Code::UnknownOrder,
        Code::OrderNotPending,
        Code::InsufficientPoints,
        Code::AmountTooSmall,
        Code::SupplyExhausted,
        Code::InvalidDay,
        Code::AlreadySettled,
        Code::InvalidRules,
        Code::InvalidTime,
        Code::InvalidPolicy,
        Code::DuplicateCollectible,
        Code::OrderNotConfirmed,
        Code::UnknownCollectible,
        Code::CollectibleNotHeld,
        Code::GiftingDisabled,
        Code::HoldingPeriod,
        Code::ExchangeDisabled,
        Code::CollectibleNotExported,
        Code::PayoutExceedsOwed,
        Code::InvalidTiers,
        Code::AccountFrozen,
        Code::AccountNotFrozen,
        Code::DuplicateAward,
        Code::InvalidRiskRules,
        Code::OrderHeld,
        Code::OrderNotHeld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidCommand => "invalid_command",
            Code::IdConflict => "id_conflict",
            Code::InvalidAmount => "invalid_amount",
            Code::UnknownReferrer => "unknown_referrer",
            Code::DuplicateAccount => "duplicate_account",
            Code::UnknownAccount => "unknown_account",
            Code::NotAConsumer => "not_a_consumer",
            Code::NotAMerchant => "not_a_merchant",
            Code::DuplicateOrder => "duplicate_order",
            Code::InsufficientStable => "insufficient_stable",
            Code::UnknownOrder => "unknown_order",
            Code::OrderNotPending => "order_not_pending",
            Code::InsufficientPoints => "insufficient_points",
            Code::AmountTooSmall => "amount_too_small",
            Code::SupplyExhausted => "supply_exhausted",
            Code::InvalidDay => "invalid_day",
            Code::AlreadySettled => "already_settled",
            Code::InvalidRules => "invalid_rules",
            Code::InvalidTime => "invalid_time",
            Code::InvalidPolicy => "invalid_policy",
            Code::DuplicateCollectible => "duplicate_collectible",
            Code::OrderNotConfirmed => "order_not_confirmed",
            Code::UnknownCollectible => "unknown_collectible",
            Code::CollectibleNotHeld => "collectible_not_held",
            Code::GiftingDisabled => "gifting_disabled",
            Code::HoldingPeriod => "holding_period",
            Code::ExchangeDisabled => "exchange_disabled",
            Code::CollectibleNotExported => "collectible_not_exported",
            Code::PayoutExceedsOwed => "payout_exceeds_owed",
            Code::InvalidTiers => "invalid_tiers",
            Code::AccountFrozen => "account_frozen",
            Code::AccountNotFrozen => "account_not_frozen",
            Code::DuplicateAward => "duplicate_award",
            Code::InvalidRiskRules => "invalid_risk_rules",
            Code::OrderHeld => "order_held",
            Code::OrderNotHeld => "order_not_held",
        }
    }

    pub fn from_str_code(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A stable one-byte form, for compact storage.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(b: u8) -> Option<Code> {
        Code::ALL.into_iter().find(|c| *c as u8 == b)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in Code::ALL {
            assert_eq!(Code::from_str_code(c.as_str()), Some(c));
            assert_eq!(Code::from_u8(c.to_u8()), Some(c));
        }
        assert_eq!(Code::from_str_code("nope"), None);
    }
}
