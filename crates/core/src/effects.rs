//! What one accepted command did, for event streams, reports and the simulator.

use crate::account::AccountId;
use crate::units::Price;

/// Atoms that reached an account through an order (buyer or referrer) or a redemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub account: AccountId,
    pub atoms: u64,
    /// The part of `atoms` that came from the treasury rather than new issuance.
    pub from_treasury_atoms: u64,
}

/// One forced exit (SPEC §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitEffect {
    pub account: AccountId,
    pub atoms: u64,
    pub gross_fen: u64,
    pub fee_fen: u64,
}

/// One daily settlement (SPEC §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Settlement {
    /// The day as `YYYYMMDD`.
    pub day: u32,
    pub eligible: u64,
    pub paid_fen: u64,
    pub holders_paid: u64,
    /// Holders whose quota this settlement used up.
    pub holders_capped: u64,
}

/// The effects of the last accepted command. The buffers are reused from command to command,
/// so recording them costs no allocation on the hot path.
#[derive(Clone, Debug)]
pub struct Effects {
    pub price_before: Price,
    pub price_after: Price,
    /// Whether any atoms had been issued before the command (the price is monotone from then).
    pub issued_before: bool,
    pub grants: Vec<Grant>,
    /// For `sell` and `convert_to_stable`: atoms, gross value and fee.
    pub sale: Option<(u64, u64, u64)>,
    pub exits: Vec<ExitEffect>,
    pub settlement: Option<Settlement>,
    /// For `settle_dividends`: what each holder was paid, in the order they were paid.
    pub payouts: Vec<(AccountId, u64)>,
}

impl Default for Effects {
    fn default() -> Self {
        Effects {
            price_before: Price::per_point(1),
            price_after: Price::per_point(1),
            issued_before: false,
            grants: Vec::new(),
            sale: None,
            exits: Vec::new(),
            settlement: None,
            payouts: Vec::new(),
        }
    }
}

impl Effects {
    pub(crate) fn clear(&mut self, price_before: Price, issued_before: bool) {
        self.price_before = price_before;
        self.price_after = price_before;
        self.issued_before = issued_before;
        self.grants.clear();
        self.sale = None;
        self.exits.clear();
        self.settlement = None;
        self.payouts.clear();
    }
}
