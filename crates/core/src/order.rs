//! Two-phase orders (SPEC §5, §6).

use hashbrown::HashTable;

use crate::account::AccountId;
use crate::name::Name;
use crate::rules::OrderRates;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Paid, inside the return window: may be confirmed or refunded.
    Pending,
    /// Fulfilled: points were issued. Final.
    Confirmed,
    /// Fully refunded. Final.
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Refunded => "refunded",
        }
    }
}

/// An order. While pending, `cash_fen` and `stable_fen` are what is left after refunds; once
/// confirmed they are what was confirmed.
#[derive(Clone, Debug)]
pub struct Order {
    pub name: Name,
    pub consumer: AccountId,
    pub merchant: AccountId,
    pub cash_fen: u64,
    pub stable_fen: u64,
    /// The † rates of SPEC §5, fixed at payment.
    pub rates: OrderRates,
    pub status: OrderStatus,
}

/// Every order ever paid, by id. Order ids are never reused, so nothing is ever removed.
#[derive(Clone, Default)]
pub struct Orders {
    table: HashTable<Order>,
    hasher: foldhash::fast::RandomState,
    pending: u64,
}

impl Orders {
    fn hash(hasher: &foldhash::fast::RandomState, name: &str) -> u64 {
        use core::hash::BuildHasher;
        hasher.hash_one(name.as_bytes())
    }

    pub fn find(&self, name: &str) -> Option<&Order> {
        self.table
            .find(Self::hash(&self.hasher, name), |o| o.name == name)
    }

    pub(crate) fn find_mut(&mut self, name: &str) -> Option<&mut Order> {
        self.table
            .find_mut(Self::hash(&self.hasher, name), |o| o.name == name)
    }

    pub(crate) fn insert(&mut self, order: Order) {
        debug_assert!(self.find(&order.name).is_none());
        if order.status == OrderStatus::Pending {
            self.pending += 1;
        }
        let hasher = &self.hasher;
        let hash = Self::hash(hasher, &order.name);
        self.table
            .insert_unique(hash, order, |o| Self::hash(hasher, &o.name));
    }

    pub(crate) fn note_left_pending(&mut self) {
        self.pending -= 1;
    }

    /// How many orders are pending.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Every order, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.table.iter()
    }

    pub fn reserve(&mut self, additional: usize) {
        let hasher = &self.hasher;
        self.table
            .reserve(additional, |o| Self::hash(hasher, &o.name));
    }
}
