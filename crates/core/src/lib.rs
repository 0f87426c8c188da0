//! `jifen-core`: the points economy of SPEC §2–§11, exactly.
//!
//! This crate is pure: no I/O, no clock, no async, and nothing of JSON, SQL or HTTP. Money is in
//! fen, points in atoms, ratios in basis points, and every computation is exact integer
//! arithmetic with `u128` intermediates. Edges (the wire format, the journal, the server) wrap
//! it.
//!
//! - [`Economy`] is the state machine: [`Economy::execute`] applies one [`Command`].
//! - [`Ledger`] adds idempotent command ids on top.

mod account;
pub mod books;
mod chunked;
mod code;
mod collectible;
mod command;
mod day;
mod economy;
mod effects;
mod explain;
mod index;
mod invariants;
mod ledger;
pub mod members;
mod name;
mod name_table;
mod order;
mod prefetch;
pub mod risk;
mod rules;
mod signal_table;
mod snapshot;
mod units;
pub mod workload;

pub use account::{Account, AccountId, Accounts, Kind, Soon};
pub use code::Code;
pub use collectible::{
    format_instant, parse_instant, parse_sha256_hex, Collectible, CollectibleState, Collectibles,
    Policy, DAY_SECONDS, GIFT_HOLD_DAYS_MAX,
};
pub use command::{Amount, Command, OptionalAmount, Text};
pub use day::{civil_from_days, days_from_civil, format_day, parse_day};
pub use economy::{ConfirmQuote, Economy, Flows, Quote, Totals};
pub use effects::{Effects, ExitEffect, Grant, Payout, Sale, Settlement};
pub use explain::explain;
pub use ledger::{Fingerprint, IdDecision, IdTable, Ledger, LedgerToEncode, Outcome};
pub use name::{is_valid_name, Name, NAME_BYTES_MAX};
pub use order::{Order, OrderId, OrderStatus, Orders};
pub use rules::{OrderRates, RuleValue, Rules, RULE_KEYS};
pub use units::{bps_ceil, bps_floor, cmp_fraction, Atoms, Fen, Price, ATOMS_PER_POINT, BPS_ONE};
