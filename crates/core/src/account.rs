//! Accounts and the name table.

use crate::name::Name;
use crate::name_table::NameTable;

/// Consumer or merchant: one namespace, fixed at registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Consumer,
    Merchant,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Consumer => "consumer",
            Kind::Merchant => "merchant",
        }
    }
}

/// How soon a prefetched account is needed: see [`crate::Economy::prefetch_account`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Soon {
    /// Some commands on: load the name's slot in the table.
    Later,
    /// Within a few commands, after a `Later` hint: load the account.
    Next,
}

/// Index of an account in registration order. Stable for the life of the economy.
pub type AccountId = u32;

pub(crate) const NO_REFERRER: AccountId = AccountId::MAX;

/// One account. Kept small on purpose (80 bytes): a deployment holds millions of them in
/// memory. What few accounts use lives beside it, in [`Extras`].
///
/// The layout is fixed so that what daily settlement reads and writes for each holder (quota,
/// stable points, dividends) sits in the first 24 bytes: settlement visits holders in trigger
/// order, not account order, and each one should cost one cache line (see `prefetch`).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Account {
    pub quota_fen: u64,
    pub stable_fen: u64,
    pub dividends_fen: u64,
    pub atoms: u64,
    pub spent_fen: u64,
    pub name: Name,
    pub exits: u32,
    pub(crate) referrer: AccountId,
    /// Generation of this account's entry in the exit index; see `index.rs`.
    pub(crate) version: u32,
    pub kind: Kind,
    /// Whether the exit index holds a live entry for this account.
    pub(crate) indexed: bool,
}

const _: () = assert!(size_of::<Account>() == 80);

impl Account {
    pub(crate) fn new(name: Name, kind: Kind, referrer: AccountId) -> Account {
        Account {
            name,
            atoms: 0,
            quota_fen: 0,
            stable_fen: 0,
            spent_fen: 0,
            dividends_fen: 0,
            exits: 0,
            referrer,
            version: 0,
            kind,
            indexed: false,
        }
    }

    pub fn is_consumer(&self) -> bool {
        self.kind == Kind::Consumer
    }

    pub fn referrer(&self) -> Option<AccountId> {
        (self.referrer != NO_REFERRER).then_some(self.referrer)
    }
}

/// The parts of an account that most accounts never use, kept in a map beside the records so
/// that each record stays at 80 bytes (a million accounts hold 16 MB less). An account with
/// nothing here has no entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// Atoms in the account's held or exported collectibles (SPEC §13); `atoms` are the free
    /// ones.
    pub locked_atoms: u64,
    /// Cash the brand owes the account from sales and exits and has not yet paid (SPEC §14).
    pub owed_fen: u64,
    /// The economy clock when `owed_fen` last rose from zero: how long the oldest part of the
    /// debt has been waiting (for the finance view; not in the replay state). 0 when owed
    /// nothing.
    pub owed_since: i64,
}

type ExtrasMap = std::collections::HashMap<AccountId, Extras, foldhash::fast::FixedState>;

/// All accounts in registration order, with a hash index from name to position (the name
/// lives once, in the account).
#[derive(Clone, Default)]
pub struct Accounts {
    list: Vec<Account>,
    by_name: NameTable,
    extras: ExtrasMap,
}

impl Accounts {
    /// The name index, to set aside while the accounts are copied for encoding.
    pub(crate) fn name_index(&mut self) -> &mut NameTable {
        &mut self.by_name
    }

    /// Bytes held on the heap: the records (with their extras) and the name table.
    pub(crate) fn heap_bytes(&self) -> (usize, usize) {
        let names: usize = self
            .list
            .iter()
            .map(|a| crate::name::heap_bytes(&a.name))
            .sum();
        let extras = self.extras.capacity() * (size_of::<(AccountId, Extras)>() + 1);
        (
            self.list.capacity() * size_of::<Account>() + names + extras,
            self.by_name.heap_bytes(),
        )
    }

    /// What account `id` holds beside its record: all zero for most accounts.
    #[inline]
    pub fn extras(&self, id: AccountId) -> Extras {
        if self.extras.is_empty() {
            return Extras::default();
        }
        self.extras.get(&id).copied().unwrap_or_default()
    }

    /// Changes account `id`'s extras; an account left with nothing keeps no entry.
    pub(crate) fn update_extras(&mut self, id: AccountId, change: impl FnOnce(&mut Extras)) {
        let x = self.extras.entry(id).or_default();
        change(x);
        if x.owed_fen == 0 {
            x.owed_since = 0;
        }
        if *x == Extras::default() {
            self.extras.remove(&id);
        }
    }

    /// The accounts that hold extras, in registration order.
    pub fn with_extras(&self) -> Vec<(AccountId, Extras)> {
        let mut v: Vec<_> = self.extras.iter().map(|(&id, &x)| (id, x)).collect();
        v.sort_unstable_by_key(|&(id, _)| id);
        v
    }

    pub fn find(&self, name: &str) -> Option<AccountId> {
        let list = &self.list;
        self.by_name.find(name, |id| &list[id as usize].name)
    }

    /// [`Accounts::find`], calling `hint` with each position the name table offers before
    /// its name is read: a caller that will need something else kept by account id starts
    /// loading it while the account's record loads. `hint` must only prefetch.
    #[inline]
    pub(crate) fn find_hinted(&self, name: &str, hint: impl Fn(AccountId)) -> Option<AccountId> {
        let list = &self.list;
        self.by_name.find(name, |id| {
            hint(id);
            &list[id as usize].name
        })
    }

    /// See [`crate::Economy::prefetch_account`].
    #[inline]
    pub(crate) fn prefetch(&self, name: &str, soon: Soon) {
        match soon {
            Soon::Later => self.by_name.prefetch_slot(name),
            Soon::Next => {
                if let Some(a) = self
                    .by_name
                    .guess(name)
                    .and_then(|id| self.list.get(id as usize))
                {
                    crate::prefetch::prefetch_bytes(a, core::mem::size_of::<Account>());
                }
            }
        }
    }

    pub(crate) fn insert(&mut self, account: Account) -> AccountId {
        debug_assert!(self.find(&account.name).is_none());
        let id = AccountId::try_from(self.list.len()).expect("more than 2^32 accounts");
        self.by_name.insert_new(&account.name, id);
        self.list.push(account);
        id
    }

    #[inline]
    pub fn get(&self, id: AccountId) -> &Account {
        &self.list[id as usize]
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, id: AccountId) -> &mut Account {
        &mut self.list[id as usize]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Account> {
        self.list.iter()
    }

    pub fn as_slice(&self) -> &[Account] {
        &self.list
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [Account] {
        &mut self.list
    }

    pub fn reserve(&mut self, additional: usize) {
        self.list.reserve(additional);
        self.by_name.reserve(additional);
    }
}

/// Asks the CPU to start loading an account that will be needed soon (a hint, as above).
#[inline]
pub(crate) fn prefetch(accounts: &[Account], id: AccountId) {
    if let Some(a) = accounts.get(id as usize) {
        // The settlement fields are the first 24 bytes (see `Account`); fetch both lines when
        // they straddle two.
        crate::prefetch::prefetch_bytes(a, 24);
    }
}
