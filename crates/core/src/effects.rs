//! What one accepted command did, for event streams, reports and the simulator.

use crate::account::AccountId;
use crate::units::{Atoms, Fen, Price};

/// Atoms that reached an account through an order (buyer or referrer) or a redemption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub account: AccountId,
    pub atoms: Atoms,
    /// The part of `atoms` that came from the treasury rather than new issuance.
    pub from_treasury: Atoms,
}

/// One forced exit (SPEC §9): the holder's free atoms sold, at their gross value less the fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitEffect {
    pub account: AccountId,
    pub atoms: Atoms,
    pub gross: Fen,
    pub fee: Fen,
}

/// A `sell` or a `convert_to_stable` (SPEC §7): the atoms, their value at the price then, and
/// the fee kept in the reserve.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sale {
    pub atoms: Atoms,
    pub gross: Fen,
    pub fee: Fen,
}

impl Sale {
    /// What the seller received: cash for a sale, stable points for a conversion.
    pub fn net(&self) -> Fen {
        Fen(self.gross.0 - self.fee.0)
    }
}

/// One holder's payment in a settlement, or a recorded payout (SPEC §14).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payout {
    pub account: AccountId,
    pub paid: Fen,
}

/// One daily settlement (SPEC §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Settlement {
    /// The day as `YYYYMMDD`.
    pub day: u32,
    /// Holders with free atoms and a quota: those the pool was shared among.
    pub holders_eligible: u64,
    pub paid: Fen,
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
    pub sale: Option<Sale>,
    pub exits: Vec<ExitEffect>,
    pub settlement: Option<Settlement>,
    /// For `settle_dividends`: what each holder was paid, in the order they were paid.
    pub payouts: Vec<Payout>,
    /// For `record_payout` (SPEC §14): the account and the amount moved from owed to settled.
    pub recorded_payout: Option<Payout>,
    /// Where this command's status changes (SPEC §16) begin in `Members::log`.
    pub tier_log_from: usize,
    /// SPEC §17: the order `pay_order` held.
    pub held: Option<crate::order::OrderId>,
    /// SPEC §17: decisions on holds this command made (a review, an expiry, a refund).
    pub reviewed: Vec<(crate::order::OrderId, crate::risk::Decision)>,
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
            recorded_payout: None,
            tier_log_from: 0,
            held: None,
            reviewed: Vec::new(),
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
        self.recorded_payout = None;
        self.held = None;
        self.reviewed.clear();
    }
}
