//! The `generic` connector, for a brand's own mini-program or shop: jifen's own order events,
//! signed by Standard Webhooks. A body is one event:
//!
//! ```json
//! {"type": "order_paid", "order": "A1001", "buyer": "u-42", "amount_fen": 5999, "currency": "CNY"}
//! {"type": "order_completed", "order": "A1001"}
//! {"type": "order_refunded", "order": "A1001", "refund": "R1", "amount_fen": 1000}
//! ```
//!
//! `buyer` is the shop's id of the buyer; `phone` may stand in for it (stored only as a keyed
//! hash). `referrer` names the buyer's referrer by the shop's id. A refund without `amount_fen`
//! refunds everything left. `version`, when given, orders an order's events.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{amount, malformed};
use crate::amount::Unit;
use crate::event::{Amount, Delivery, Headers, Identity, OrderEvent, Reading, Stage};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: String,
    order: String,
    buyer: Option<String>,
    phone: Option<String>,
    /// Where the order is sent, as one line (a risk signal, hashed by the server).
    address: Option<String>,
    referrer: Option<String>,
    #[serde(borrow)]
    amount_fen: Option<&'a RawValue>,
    currency: Option<String>,
    refund: Option<String>,
    version: Option<u64>,
}

pub(super) fn read(headers: &dyn Headers, text: &str) -> Delivery {
    let id = headers.header("webhook-id").map(str::to_string);
    let e = match serde_json::from_str::<Event>(text) {
        Ok(e) => e,
        Err(e) => return malformed("generic order event", &e),
    };
    let (stage, absent) = match e.kind.as_str() {
        "order_paid" => (Stage::Paid, Amount::Needed),
        "order_completed" => (Stage::Completed, Amount::None),
        "order_refunded" => (Stage::Refunded, Amount::All),
        other => {
            let why =
                format!("type {other:?} is not order_paid, order_completed or order_refunded");
            return Delivery::new(id, e.kind.clone(), Reading::Refused(why));
        }
    };
    let reading = match amount(e.amount_fen, Unit::Fen, absent) {
        Ok(a) => {
            let mut ev = OrderEvent::new(e.order, stage, a);
            ev.buyer = e
                .buyer
                .map(|b| Identity::new("generic", b))
                .or_else(|| e.phone.as_deref().and_then(Identity::phone));
            ev.add_signal("phone", e.phone);
            ev.add_signal("address", e.address);
            ev.referrer = e.referrer.map(|r| Identity::new("generic", r));
            ev.currency = e.currency;
            ev.refund = e.refund;
            ev.version = e.version;
            Reading::Events(vec![ev])
        }
        Err(why) => Reading::Refused(format!("amount_fen: {why}")),
    };
    Delivery::new(id, e.kind, reading)
}
