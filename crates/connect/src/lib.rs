//! Shop connectors' pure part: each platform's webhook signature, its deliveries read into
//! order events of one shape, and money as shops write it turned into fen exactly. No I/O:
//! the server stores, maps and journals.

pub mod amount;
pub mod event;
pub mod platforms;
mod sign;
pub mod standard_webhooks;

pub use event::{Amount, Delivery, Headers, Identity, Kind, OrderEvent, Reading, Stage};
pub use platforms::{is_ping, read, verify, Credentials};
