//! Two-phase orders (SPEC §5, §6).

use crate::account::AccountId;
use crate::chunked::Chunked;
use crate::name::Name;
use crate::name_table::NameTable;
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

/// Index of an order in payment order.
pub type OrderId = u32;

/// An order. While pending, `cash_fen` and `stable_fen` are what is left after refunds; once
/// confirmed they are what was confirmed.
#[derive(Clone, Debug)]
pub struct Order {
    pub name: Name,
    pub consumer: AccountId,
    pub merchant: AccountId,
    pub cash_fen: u64,
    pub stable_fen: u64,
    /// Index into the economy's distinct rate sets: the † rates of SPEC §5, fixed at payment.
    /// Rules change rarely, so orders share their rates instead of carrying 16 bytes each.
    pub(crate) rates: u32,
    pub status: OrderStatus,
    /// The seq of the `pay_order` that created it (its position in the command history), so
    /// an edge that keeps time can tell how old a pending order is. Non-decreasing over orders.
    pub paid_seq: u64,
}

/// Every order ever paid. Order ids are never reused, so nothing is ever removed. Orders live
/// densely in a vector; the hash table maps names to indexes and holds only 4 bytes a slot.
#[derive(Clone, Default)]
pub struct Orders {
    list: Chunked<Order>,
    by_name: NameTable,
    rate_sets: Vec<OrderRates>,
    pending: u64,
}

impl Orders {
    /// Bytes held on the heap: the records and the name table.
    pub(crate) fn heap_bytes(&self) -> (usize, usize) {
        let names: usize = self
            .list
            .iter()
            .map(|o| crate::name::heap_bytes(&o.name))
            .sum();
        (self.list.heap_bytes() + names, self.by_name.heap_bytes())
    }

    /// The name index, to set aside while the orders are copied for encoding.
    pub(crate) fn name_index(&mut self) -> &mut NameTable {
        &mut self.by_name
    }

    pub fn find_id(&self, name: &str) -> Option<OrderId> {
        let list = &self.list;
        self.by_name.find(name, |id| &list[id as usize].name)
    }

    /// Starts loading the slot where a lookup of `name` begins (a hint only).
    #[inline]
    pub(crate) fn prefetch_slot(&self, name: &str) {
        self.by_name.prefetch_slot(name);
    }

    pub fn find(&self, name: &str) -> Option<&Order> {
        self.find_id(name).map(|id| &self.list[id as usize])
    }

    #[inline]
    /// Orders in payment order, from index `from` on (for scanning pending orders by age).
    pub fn from_index(&self, from: usize) -> impl Iterator<Item = &Order> {
        self.list.iter_from(from)
    }

    pub fn get(&self, id: OrderId) -> &Order {
        &self.list[id as usize]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: OrderId) -> &mut Order {
        self.list.get_mut(id as usize)
    }

    /// The distinct rate sets orders refer to, in the order first used.
    pub(crate) fn rate_sets(&self) -> &[OrderRates] {
        &self.rate_sets
    }

    pub(crate) fn restore_rate_sets(&mut self, rate_sets: Vec<OrderRates>) {
        self.rate_sets = rate_sets;
    }

    /// Adds an order read from a snapshot, with its status as stored.
    pub(crate) fn restore(&mut self, order: Order) -> Result<(), String> {
        if order.rates as usize >= self.rate_sets.len() {
            return Err(format!(
                "order {} refers to missing rates {}",
                order.name, order.rates
            ));
        }
        if self
            .list
            .last()
            .is_some_and(|last| last.paid_seq > order.paid_seq)
        {
            return Err(format!(
                "order {} is paid before the order it follows",
                order.name
            ));
        }
        let status = order.status;
        let id = self.push(order);
        if status != OrderStatus::Pending {
            self.pending -= 1;
        }
        debug_assert!(id as usize + 1 == self.list.len());
        Ok(())
    }

    /// The rates fixed on `order` at payment.
    pub fn rates(&self, order: &Order) -> OrderRates {
        self.rate_sets[order.rates as usize]
    }

    /// Adds a new pending order; `rates` replaces `order.rates` with the index of its set.
    pub(crate) fn insert(&mut self, mut order: Order, rates: OrderRates) -> OrderId {
        debug_assert!(self.find(&order.name).is_none());
        debug_assert!(order.status == OrderStatus::Pending);
        if self.rate_sets.last() != Some(&rates) {
            self.rate_sets.push(rates);
        }
        order.rates = (self.rate_sets.len() - 1) as u32;
        self.push(order)
    }

    /// Adds an order, counting it as pending; callers adjust for other statuses.
    fn push(&mut self, order: Order) -> OrderId {
        self.pending += 1;
        let id = OrderId::try_from(self.list.len()).expect("more than 2^32 orders");
        self.by_name.insert_new(&order.name, id);
        self.list.push(order);
        id
    }

    pub(crate) fn note_left_pending(&mut self) {
        self.pending -= 1;
    }

    /// How many orders are pending.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every order, in payment order.
    pub fn iter(&self) -> impl Iterator<Item = &Order> {
        self.list.iter()
    }

    pub fn reserve(&mut self, additional: usize) {
        self.list.reserve(additional);
        self.by_name.reserve(additional);
    }
}
