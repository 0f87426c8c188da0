//! SPEC §17: risk controls. The rules an economy holds suspicious orders by, the signals an
//! order may carry (keyed hashes made at the edge), holds with their reasons as data, and the
//! decisions on them. Everything here is derived from the journal, so a replay gives the same
//! holds; the evaluation itself is in `economy/risk.rs`.

use std::collections::{BTreeSet, VecDeque};

/// The maps of the risk state: a fast, fixed hash (nothing iterates them into a result
/// without sorting first, so their order never shows).
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

pub use crate::signal_table::{Seen, SignalKind, SignalTable, SIGNAL_ACCOUNTS_MAX};

use crate::account::AccountId;
use crate::members::Text;
use crate::order::OrderId;

/// Orders remembered per consumer: the window of the velocity, median and refund rules.
pub const RECENT_ORDERS: usize = 20;
/// The longest window any rule may look back, in hours (one week).
pub const WINDOW_HOURS_MAX: u32 = 168;
/// Referees remembered per referrer.
pub const REFEREES_MAX: u32 = 1000;
/// A hold lasts at most this many days before it expires into a rejection.
pub const HOLD_DAYS_MAX: u32 = 90;
/// The refund rule needs at least this many earlier orders.
pub const REFUND_MIN_ORDERS: usize = 5;
/// The median rule needs at least this many earlier orders.
pub const MEDIAN_MIN_ORDERS: usize = 3;
/// A reviewer's note, in characters.
pub const NOTE_CHARS_MAX: usize = 200;
/// The largest amount threshold, the SPEC §3 bound on `order_max_fen`.
const FEN_MAX: u64 = 1_000_000_000_000;

/// The risk rules (SPEC §17). A numeric threshold of 0 turns its rule off; `enabled: false`
/// turns every rule off and stops the tracking the rules read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskRules {
    pub enabled: bool,
    /// At most this many orders per consumer in 24 hours (1 to 20).
    pub velocity_orders: u32,
    /// At most this many fen per consumer in 24 hours.
    pub velocity_fen: u64,
    /// An order above this many fen.
    pub large_order_fen: u64,
    /// An order above this many times the consumer's median (of at least 3 earlier orders).
    pub large_order_median_times: u32,
    /// The buyer shares a phone, address or device hash with the merchant.
    pub self_dealing: bool,
    /// A referrer gaining more than this many referees within `ring_hours`.
    pub ring_referees: u32,
    pub ring_hours: u32,
    /// Referees sharing an address or device hash with each other or their referrer.
    pub ring_shared_signals: bool,
    /// More than this percentage of the last 20 orders refunded (at least 5 orders).
    pub refund_rate_pct: u32,
    /// An order above `new_account_fen` within `new_account_hours` of registration.
    pub new_account_hours: u32,
    pub new_account_fen: u64,
    /// Days a hold lasts before it expires into a rejection (money back).
    pub hold_days: u32,
}

impl RiskRules {
    /// Every rule off: an economy before any `set_risk_rules` (so the conformance vectors,
    /// which have none, replay unchanged).
    pub const OFF: RiskRules = RiskRules {
        enabled: false,
        velocity_orders: 0,
        velocity_fen: 0,
        large_order_fen: 0,
        large_order_median_times: 0,
        self_dealing: false,
        ring_referees: 0,
        ring_hours: 0,
        ring_shared_signals: false,
        refund_rate_pct: 0,
        new_account_hours: 0,
        new_account_fen: 0,
        hold_days: 14,
    };

    /// The documented defaults, which the server sets on every economy it creates.
    pub const RECOMMENDED: RiskRules = RiskRules {
        enabled: true,
        velocity_orders: 10,
        velocity_fen: 5_000_000,
        large_order_fen: 2_000_000,
        large_order_median_times: 10,
        self_dealing: true,
        ring_referees: 20,
        ring_hours: 24,
        ring_shared_signals: true,
        refund_rate_pct: 50,
        new_account_hours: 1,
        new_account_fen: 500_000,
        hold_days: 14,
    };

    /// Whether every value is within its bounds (SPEC §17).
    pub fn is_valid(&self) -> bool {
        self.velocity_orders as usize <= RECENT_ORDERS
            && self.velocity_fen <= FEN_MAX
            && self.large_order_fen <= FEN_MAX
            && self.large_order_median_times <= 1000
            && self.ring_referees <= REFEREES_MAX
            && self.ring_hours <= WINDOW_HOURS_MAX
            && (self.ring_referees == 0 || self.ring_hours >= 1)
            && self.refund_rate_pct <= 100
            && self.new_account_hours <= WINDOW_HOURS_MAX
            && self.new_account_fen <= FEN_MAX
            && (1..=HOLD_DAYS_MAX).contains(&self.hold_days)
    }
}

/// An order's or an account's signals: keyed hashes (64 bits each), made at the edge from the
/// phone, delivery address, device id and client address prefix, so the journal never holds
/// the values themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals(pub [Option<u64>; 4]);

impl Signals {
    pub fn get(&self, kind: SignalKind) -> Option<u64> {
        self.0[kind as usize]
    }

    pub fn set(&mut self, kind: SignalKind, hash: u64) {
        self.0[kind as usize] = Some(hash);
    }

    /// The signals given, with their kinds.
    pub fn iter(&self) -> impl Iterator<Item = (SignalKind, u64)> + '_ {
        SignalKind::ALL
            .into_iter()
            .filter_map(|k| self.get(k).map(|h| (k, h)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// Which rule held an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum RiskRule {
    VelocityOrders = 0,
    VelocityFen = 1,
    LargeOrder = 2,
    LargeOrderMedian = 3,
    SelfDealing = 4,
    RingReferees = 5,
    RingSharedSignal = 6,
    RefundRate = 7,
    NewAccount = 8,
    DenyList = 9,
}

impl RiskRule {
    pub const ALL: [RiskRule; 10] = [
        RiskRule::VelocityOrders,
        RiskRule::VelocityFen,
        RiskRule::LargeOrder,
        RiskRule::LargeOrderMedian,
        RiskRule::SelfDealing,
        RiskRule::RingReferees,
        RiskRule::RingSharedSignal,
        RiskRule::RefundRate,
        RiskRule::NewAccount,
        RiskRule::DenyList,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskRule::VelocityOrders => "velocity_orders",
            RiskRule::VelocityFen => "velocity_fen",
            RiskRule::LargeOrder => "large_order",
            RiskRule::LargeOrderMedian => "large_order_median",
            RiskRule::SelfDealing => "self_dealing",
            RiskRule::RingReferees => "ring_referees",
            RiskRule::RingSharedSignal => "ring_shared_signal",
            RiskRule::RefundRate => "refund_rate",
            RiskRule::NewAccount => "new_account",
            RiskRule::DenyList => "deny_list",
        }
    }

    pub fn from_u8(b: u8) -> Option<RiskRule> {
        RiskRule::ALL.get(b as usize).copied()
    }
}

/// Why an order was held: the rule, the figure it measured and the threshold it passed.
/// For the signal rules the figure is how many other accounts share the signal, and `signal`
/// names it; for the deny list both are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason {
    pub rule: RiskRule,
    pub figure: u64,
    pub threshold: u64,
    pub signal: Option<SignalKind>,
}

/// A decision on a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Decision {
    /// A reviewer approved: the order was confirmed.
    Approve = 0,
    /// A reviewer rejected: the order was refunded.
    Reject = 1,
    /// A reviewer kept holding it, for another `hold_days`.
    Extend = 2,
    /// The hold ran out: refunded, by `advance_clock`.
    Expire = 3,
    /// The shop refunded the order (`refund_order`) while it was held.
    Refunded = 4,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Extend => "extend",
            Decision::Expire => "expire",
            Decision::Refunded => "refunded",
        }
    }

    pub fn from_u8(b: u8) -> Option<Decision> {
        [
            Decision::Approve,
            Decision::Reject,
            Decision::Extend,
            Decision::Expire,
            Decision::Refunded,
        ]
        .get(b as usize)
        .copied()
    }

    /// A decision a reviewer may give in `review_order`.
    pub fn parse_review(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            "extend" => Some(Decision::Extend),
            _ => None,
        }
    }
}

/// One decision as recorded: its seq and clock, and who gave it with their note (empty for
/// the decisions the engine makes itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub seq: u64,
    pub at: i64,
    pub decision: Decision,
    pub reviewer: Text,
    pub note: Text,
}

/// A held order: why, since when, until when, and what was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub order: OrderId,
    pub reasons: Vec<Reason>,
    pub seq: u64,
    pub at: i64,
    pub expires_at: i64,
    pub reviews: Vec<Review>,
}

impl Hold {
    /// Whether the order is still held (no final decision yet).
    pub fn is_open(&self) -> bool {
        self.reviews
            .last()
            .is_none_or(|r| r.decision == Decision::Extend)
    }
}

/// A trust list entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Trust {
    /// Never held by a rule.
    Allow = 1,
    /// Every order held.
    Deny = 2,
}

impl Trust {
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Allow => "allow",
            Trust::Deny => "deny",
        }
    }
}

/// One order a consumer paid, as the velocity, median and refund rules read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentOrder {
    pub order: OrderId,
    pub at: i64,
    pub fen: u64,
    pub refunded: bool,
}

/// One consumer's last [`RECENT_ORDERS`] orders, inline: no pointer to follow. Until it is
/// full the orders sit in slots `0..len` in payment order; once full, each new order takes the
/// oldest's slot (`head`). Times and amounts, which the rules read, come first; order ids,
/// which only a refund looks for, last.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Ring {
    at: [i64; RECENT_ORDERS],
    fen: [u64; RECENT_ORDERS],
    /// One bit per slot: that order was refunded.
    refunded: u32,
    head: u8,
    len: u8,
    order: [OrderId; RECENT_ORDERS],
}

/// The orders oldest first: two rings holding the same orders print the same, wherever their
/// slots begin.
impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Default for Ring {
    fn default() -> Self {
        Ring::EMPTY
    }
}

impl Ring {
    const EMPTY: Ring = Ring {
        at: [0; RECENT_ORDERS],
        fen: [0; RECENT_ORDERS],
        refunded: 0,
        head: 0,
        len: 0,
        order: [0; RECENT_ORDERS],
    };

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The amounts, in no particular order.
    pub fn amounts(&self) -> &[u64] {
        &self.fen[..self.len()]
    }

    /// How many of the orders were refunded.
    pub fn refunded(&self) -> u64 {
        self.refunded.count_ones() as u64
    }

    fn slot(&self, i: usize) -> usize {
        (self.head as usize + i) % RECENT_ORDERS
    }

    /// How many orders were placed after `since`, and their sum. Orders are remembered in
    /// clock order (the clock never goes back), so these are the newest ones: counted from
    /// the newest until the first before `since`.
    pub fn since(&self, since: i64) -> (u64, u64) {
        let newest_first = (0..self.len()).rev().map(|i| self.slot(i));
        let inside = newest_first.take_while(|&s| self.at[s] > since);
        let window = inside.fold((0, 0), |(n, sum), s| (n + 1, sum + self.fen[s]));
        debug_assert_eq!(
            window,
            self.iter()
                .filter(|o| o.at > since)
                .fold((0, 0), |(n, sum), o| (n + 1, sum + o.fen)),
        );
        window
    }

    /// The orders, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = RecentOrder> + '_ {
        (0..self.len()).map(move |i| {
            let slot = self.slot(i);
            RecentOrder {
                order: self.order[slot],
                at: self.at[slot],
                fen: self.fen[slot],
                refunded: (self.refunded >> slot) & 1 == 1,
            }
        })
    }

    /// Adds `o` as the newest (its time no earlier than any here), dropping the oldest when
    /// full.
    pub fn push(&mut self, o: RecentOrder) {
        let slot = if self.len() < RECENT_ORDERS {
            self.len += 1;
            self.len() - 1
        } else {
            let oldest = self.head as usize;
            self.head = ((oldest + 1) % RECENT_ORDERS) as u8;
            oldest
        };
        self.at[slot] = o.at;
        self.fen[slot] = o.fen;
        self.order[slot] = o.order;
        self.refunded = (self.refunded & !(1 << slot)) | ((o.refunded as u32) << slot);
    }

    /// Marks `order` refunded, if it is one of these.
    pub fn mark_refunded(&mut self, order: OrderId) {
        if let Some(slot) = self.order[..self.len()].iter().position(|&o| o == order) {
            self.refunded |= 1 << slot;
        }
    }
}

/// Each consumer's last orders: a ring per consumer who has ordered, found through a dense
/// slot per account id (one index, no hash probe). Both are in shared chunks, so a copy of
/// the ledger (for readers and snapshots) costs a reference count per chunk.
#[derive(Clone, Default)]
pub struct Recent {
    /// By account id: 1 + the index of its ring, or 0 for none.
    slots: crate::chunked::Chunked<u32>,
    rings: crate::chunked::Chunked<Ring>,
}

impl PartialEq for Recent {
    fn eq(&self, other: &Self) -> bool {
        self.iter()
            .map(|(id, r)| (id, r.iter()))
            .zip(other.iter().map(|(id, r)| (id, r.iter())))
            .all(|((a, x), (b, y))| a == b && x.eq(y))
            && self.len() == other.len()
    }
}

impl Eq for Recent {}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lists = self
            .iter()
            .map(|(id, r)| (id, r.iter().collect::<Vec<_>>()));
        f.debug_map().entries(lists).finish()
    }
}

impl Recent {
    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes() + self.rings.heap_bytes()
    }

    fn ring_index(&self, id: AccountId) -> Option<usize> {
        let slot = *self.slots.get(id as usize)?;
        (slot != 0).then(|| slot as usize - 1)
    }

    pub fn get(&self, id: AccountId) -> Option<&Ring> {
        self.ring_index(id).map(|i| &self.rings[i])
    }

    pub(crate) fn get_mut(&mut self, id: AccountId) -> Option<&mut Ring> {
        let i = self.ring_index(id)?;
        Some(self.rings.get_mut(i))
    }

    /// The ring of `id`, made when it has none.
    pub(crate) fn list(&mut self, id: AccountId) -> &mut Ring {
        let i = match self.ring_index(id) {
            Some(i) => i,
            None => {
                while self.slots.len() <= id as usize {
                    self.slots.push(0);
                }
                self.rings.push(Ring::EMPTY);
                *self.slots.get_mut(id as usize) = self.rings.len() as u32;
                self.rings.len() - 1
            }
        };
        self.rings.get_mut(i)
    }

    /// A hint for the order path: where `id`'s ring is. It reads nothing a result depends on.
    /// The ring itself is not prefetched: asking for it needs the slot, and waiting for the
    /// slot there cost more than the ring's own misses later (BENCHMARKS.md, "Risk controls").
    pub(crate) fn prefetch_slot(&self, id: AccountId) {
        if let Some(slot) = self.slots.get(id as usize) {
            crate::prefetch::prefetch_bytes(slot, 1);
        }
    }

    /// The consumers with orders remembered, by id.
    pub fn iter(&self) -> impl Iterator<Item = (AccountId, &Ring)> + '_ {
        (self.slots.iter().enumerate())
            .filter(|(_, &s)| s != 0)
            .map(|(id, &s)| (id as AccountId, &self.rings[s as usize - 1]))
    }

    /// How many consumers have orders remembered.
    pub fn len(&self) -> usize {
        self.rings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rings.is_empty()
    }
}

/// Everything the rules remember, besides the rules themselves and the holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracking {
    /// Each consumer's last orders, oldest first.
    pub recent: Recent,
    /// For each (kind, hash), the accounts seen with it, first seen first.
    pub signals: SignalTable,
    /// Accounts registered in the last week, with their clock, in registration order (so in
    /// account id order too).
    pub registered: VecDeque<(AccountId, i64)>,
    /// Each referrer's referees' registration clocks in the last week, oldest first.
    pub referees: Map<AccountId, VecDeque<i64>>,
}

/// An economy's risk controls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Risk {
    pub rules: RiskRules,
    pub trust: Map<AccountId, Trust>,
    /// Every hold ever made, in the order made.
    pub holds: Vec<Hold>,
    pub by_order: Map<OrderId, u32>,
    /// Open holds by when they expire.
    pub open: BTreeSet<(i64, OrderId)>,
    pub tracking: Tracking,
}

impl Default for Risk {
    fn default() -> Self {
        Risk {
            rules: RiskRules::OFF,
            trust: Map::default(),
            holds: Vec::new(),
            by_order: Map::default(),
            open: BTreeSet::new(),
            tracking: Tracking::default(),
        }
    }
}

impl Risk {
    pub fn rules(&self) -> &RiskRules {
        &self.rules
    }

    /// The hold of `order`, open or decided.
    pub fn hold_of(&self, order: OrderId) -> Option<&Hold> {
        self.by_order.get(&order).map(|&i| &self.holds[i as usize])
    }

    /// Whether `order` is held now.
    pub fn is_held(&self, order: OrderId) -> bool {
        !self.open.is_empty() && self.hold_of(order).is_some_and(Hold::is_open)
    }

    /// Every hold, in the order made.
    pub fn holds(&self) -> &[Hold] {
        &self.holds
    }

    /// How many holds are open.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    pub fn trust_of(&self, account: AccountId) -> Option<Trust> {
        self.trust.get(&account).copied()
    }

    /// Accounts on a trust list, by id.
    pub fn trusted(&self) -> Vec<(AccountId, Trust)> {
        let mut v: Vec<_> = self.trust.iter().map(|(&a, &t)| (a, t)).collect();
        v.sort_unstable_by_key(|&(a, _)| a);
        v
    }

    /// The hold of `order`, to change (crate only).
    pub(crate) fn hold_mut(&mut self, order: OrderId) -> Option<&mut Hold> {
        let i = *self.by_order.get(&order)?;
        Some(&mut self.holds[i as usize])
    }
}
