//! Members (SPEC §16): tiers (等级), partner status (合伙人), top-holder awards (前十名奖励)
//! and frozen accounts.
//!
//! Tiers, partner status and awards are for people only: no computation of money or points
//! reads them. A frozen account is refused `sell`, `convert_to_stable` and gifting; nothing else
//! about it changes. Everything here is set by commands, so it replays like the rest.

use std::collections::BTreeMap;

use crate::account::{Account, AccountId, Accounts};
use crate::name::Name;

/// Free text as held (the same type as a command's text fields).
pub type Text = compact_str::CompactString;

/// The most tiers a table may hold.
pub const TIERS_MAX: usize = 12;
/// The longest tier name, in characters.
pub const TIER_NAME_CHARS_MAX: usize = 32;
/// The longest benefits text, in characters.
pub const BENEFITS_CHARS_MAX: usize = 200;
/// The longest reason for freezing an account, in characters.
pub const REASON_CHARS_MAX: usize = 200;
/// The most places an award ranks.
pub const AWARD_TOP_MAX: u64 = 100;
/// The longest prize text, in characters.
pub const PRIZE_CHARS_MAX: usize = 100;
/// The status bit that marks a partner; the low bits are the tier's index.
pub const PARTNER_BIT: u8 = 0x80;

/// What a tier's threshold is measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Atoms held, free and locked in collectibles.
    Points,
    /// Fen spent on confirmed orders (the part that earned).
    Spend,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Points => "points",
            Basis::Spend => "spend",
        }
    }

    pub fn parse(s: &str) -> Option<Basis> {
        [Basis::Points, Basis::Spend]
            .into_iter()
            .find(|b| b.as_str() == s)
    }
}

/// Whether a tier may fall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Downgrade {
    /// Tiers only rise (until the table is replaced).
    Never,
    /// Each settlement sets every consumer's tier to what it holds then, up or down.
    AtSettlement,
}

impl Downgrade {
    pub fn as_str(self) -> &'static str {
        match self {
            Downgrade::Never => "never",
            Downgrade::AtSettlement => "at_settlement",
        }
    }

    pub fn parse(s: &str) -> Option<Downgrade> {
        [Downgrade::Never, Downgrade::AtSettlement]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tier {
    pub name_zh: Text,
    pub name_en: Text,
    /// The threshold, in atoms or fen by the table's basis.
    pub min: u64,
    /// Whether reaching this tier makes a consumer a partner.
    pub partner: bool,
    pub benefits_zh: Text,
    pub benefits_en: Text,
}

/// The tier table of SPEC §16.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierTable {
    pub basis: Basis,
    pub downgrade: Downgrade,
    /// A partner threshold of its own, on the same basis, besides the tiers' flags.
    pub partner_min: Option<u64>,
    pub tiers: Vec<Tier>,
}

fn tier(zh: &str, en: &str, min: u64) -> Tier {
    Tier {
        name_zh: zh.into(),
        name_en: en.into(),
        min,
        partner: false,
        benefits_zh: Text::default(),
        benefits_en: Text::default(),
    }
}

impl Default for TierTable {
    /// Five tiers by spend, never falling: the table before any `set_tiers`.
    fn default() -> Self {
        TierTable {
            basis: Basis::Spend,
            downgrade: Downgrade::Never,
            partner_min: None,
            tiers: vec![
                tier("会员", "Member", 0),
                tier("铜卡", "Bronze", 20_000),
                tier("银卡", "Silver", 200_000),
                tier("金卡", "Gold", 2_000_000),
                tier("钻石", "Diamond", 20_000_000),
            ],
        }
    }
}

/// Whether `s` is 1 to `max` characters (0 to `max` when `empty_ok`) with no control character.
pub fn is_valid_text(s: &str, max: usize, empty_ok: bool) -> bool {
    let n = s.chars().count();
    (empty_ok || n > 0) && n <= max && !s.chars().any(char::is_control)
}

impl TierTable {
    /// The bounds of SPEC §16: `Err` names what is wrong.
    pub fn check(&self) -> Result<(), &'static str> {
        let n = self.tiers.len();
        if !(1..=TIERS_MAX).contains(&n) {
            return Err("a table holds 1 to 12 tiers");
        }
        if self.tiers[0].min != 0 {
            return Err("the first tier's threshold is 0");
        }
        if self.tiers.windows(2).any(|w| w[0].min >= w[1].min) {
            return Err("thresholds rise strictly from tier to tier");
        }
        if self.partner_min == Some(0) {
            return Err("a partner threshold is at least 1");
        }
        for t in &self.tiers {
            if !is_valid_text(&t.name_zh, TIER_NAME_CHARS_MAX, false)
                || !is_valid_text(&t.name_en, TIER_NAME_CHARS_MAX, false)
            {
                return Err("a tier's names are 1 to 32 characters, without control characters");
            }
            if !is_valid_text(&t.benefits_zh, BENEFITS_CHARS_MAX, true)
                || !is_valid_text(&t.benefits_en, BENEFITS_CHARS_MAX, true)
            {
                return Err("benefits are at most 200 characters, without control characters");
            }
        }
        Ok(())
    }

    /// Tier `level`, or the last one for a level past the table.
    pub fn tier(&self, level: usize) -> &Tier {
        &self.tiers[level.min(self.tiers.len() - 1)]
    }

    /// Whether a settlement can change a status: not when tiers never fall and go by spend,
    /// which only a confirmation (that raises at once) moves.
    pub fn settlement_may_change(&self) -> bool {
        self.downgrade == Downgrade::AtSettlement || self.basis == Basis::Points
    }

    /// What the basis measures for `a`, which has `locked_atoms` in collectibles.
    pub fn value(&self, a: &Account, locked_atoms: u64) -> u64 {
        match self.basis {
            Basis::Points => a.atoms + locked_atoms,
            Basis::Spend => a.spent_fen,
        }
    }

    /// The status `a` (with `locked_atoms` in collectibles) has earned by its figures now: the
    /// tier's index, and the partner bit.
    pub fn status_for(&self, a: &Account, locked_atoms: u64) -> u8 {
        let value = self.value(a, locked_atoms);
        let i = self.tiers.iter().rposition(|t| value >= t.min).unwrap_or(0);
        let partner = self.tiers[i].partner || self.partner_min.is_some_and(|m| value >= m);
        i as u8 | if partner { PARTNER_BIT } else { 0 }
    }
}

/// The tier index a status holds.
pub fn level_of(status: u8) -> usize {
    (status & !PARTNER_BIT) as usize
}

/// Whether a status is a partner's.
pub fn is_partner(status: u8) -> bool {
    status & PARTNER_BIT != 0
}

/// The higher of two statuses: the higher tier, and a partner if either is.
fn raised(old: u8, new: u8) -> u8 {
    (old & !PARTNER_BIT).max(new & !PARTNER_BIT) | ((old | new) & PARTNER_BIT)
}

/// One change of an account's status, in the order they happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierChange {
    pub seq: u64,
    pub account: AccountId,
    pub from: u8,
    pub to: u8,
}

/// A recorded ranking of the top holders (SPEC §16).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Award {
    pub name: Name,
    /// The economy clock and the seq when it was recorded.
    pub at: i64,
    pub seq: u64,
    /// The prize of each place; places past the last take the last.
    pub prizes: Vec<Text>,
    /// The places, first first: the consumer and the atoms it held then.
    pub ranking: Vec<(AccountId, u64)>,
}

impl Award {
    /// The prize of place `i` (0 for the first).
    pub fn prize(&self, i: usize) -> &str {
        self.prizes
            .get(i)
            .or(self.prizes.last())
            .map_or("", |p| p.as_str())
    }
}

/// Why and when an account was frozen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub reason: Text,
    pub seq: u64,
}

/// The members' state of an economy.
#[derive(Clone, Debug, Default)]
pub struct Members {
    pub(crate) table: TierTable,
    /// Each account's status (index by account id; missing ones are 0: the first tier).
    pub(crate) status: Vec<u8>,
    pub(crate) log: Vec<TierChange>,
    pub(crate) frozen: BTreeMap<AccountId, Frozen>,
    pub(crate) awards: Vec<Award>,
}

impl Members {
    pub fn table(&self) -> &TierTable {
        &self.table
    }

    /// The account's status: its tier's index, and [`PARTNER_BIT`] when it is a partner.
    pub fn status(&self, id: AccountId) -> u8 {
        self.status.get(id as usize).copied().unwrap_or(0)
    }

    /// Every change of status, oldest first.
    pub fn log(&self) -> &[TierChange] {
        &self.log
    }

    pub fn frozen(&self, id: AccountId) -> Option<&Frozen> {
        self.frozen.get(&id)
    }

    pub fn frozen_accounts(&self) -> &BTreeMap<AccountId, Frozen> {
        &self.frozen
    }

    pub fn awards(&self) -> &[Award] {
        &self.awards
    }

    pub fn award(&self, name: &str) -> Option<&Award> {
        self.awards.iter().find(|a| a.name == name)
    }

    pub(crate) fn is_frozen(&self, id: AccountId) -> bool {
        !self.frozen.is_empty() && self.frozen.contains_key(&id)
    }

    fn set(&mut self, id: AccountId, to: u8, seq: u64) {
        let from = self.status(id);
        if from == to {
            return;
        }
        let i = id as usize;
        if self.status.len() <= i {
            self.status.resize(i + 1, 0);
        }
        self.status[i] = to;
        self.log.push(TierChange {
            seq,
            account: id,
            from,
            to,
        });
    }

    /// Raises `id`'s status to what its figures earn now, if that is higher.
    pub(crate) fn raise(&mut self, id: AccountId, accounts: &Accounts, seq: u64) {
        let earned = self
            .table
            .status_for(accounts.get(id), accounts.extras(id).locked_atoms);
        let to = raised(self.status(id), earned);
        self.set(id, to, seq);
    }

    /// Evaluates every consumer: afresh (`fresh`) or raising only.
    pub(crate) fn evaluate_all(&mut self, accounts: &Accounts, seq: u64, fresh: bool) {
        for (id, a) in accounts.iter().enumerate() {
            if a.is_consumer() {
                let locked = accounts.extras(id as AccountId).locked_atoms;
                let earned = self.table.status_for(a, locked);
                let to = if fresh {
                    earned
                } else {
                    raised(self.status(id as AccountId), earned)
                };
                self.set(id as AccountId, to, seq);
            }
        }
    }
}
