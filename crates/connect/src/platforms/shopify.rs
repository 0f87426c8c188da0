//! Shopify (<https://shopify.dev/docs/api/webhooks>): the topic in `X-Shopify-Topic`, the
//! delivery id in `X-Shopify-Webhook-Id`; `orders/paid` and `orders/fulfilled` carry the
//! order, `refunds/create` the refund with its transactions.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{amount, malformed, Id};
use crate::amount::Unit;
use crate::event::{address, Amount, Delivery, Headers, Identity, OrderEvent, Reading, Stage};

#[derive(Deserialize)]
struct Order<'a> {
    id: Id,
    #[serde(borrow)]
    total_price: Option<&'a RawValue>,
    currency: Option<String>,
    customer: Option<Customer>,
    phone: Option<String>,
    shipping_address: Option<Address>,
    #[serde(default)]
    note_attributes: Vec<Attribute>,
}

/// Where an order is sent (Shopify's `MailingAddress`).
#[derive(Deserialize)]
struct Address {
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province: Option<String>,
    zip: Option<String>,
    country: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
struct Customer {
    id: Option<Id>,
    phone: Option<String>,
}

#[derive(Deserialize)]
struct Attribute {
    name: String,
    value: Option<String>,
}

#[derive(Deserialize)]
struct Refund<'a> {
    id: Id,
    order_id: Id,
    #[serde(borrow, default)]
    transactions: Vec<Transaction<'a>>,
}

#[derive(Deserialize)]
struct Transaction<'a> {
    kind: String,
    status: Option<String>,
    #[serde(borrow)]
    amount: &'a RawValue,
    currency: Option<String>,
}

/// The note attribute a shop sets to name the buyer's referrer (by Shopify customer id).
pub const REFERRER_ATTRIBUTE: &str = "jifen_referrer";

pub(super) fn read(headers: &dyn Headers, text: &str) -> Delivery {
    let topic = headers.header("x-shopify-topic").unwrap_or("").to_string();
    let id = headers.header("x-shopify-webhook-id").map(str::to_string);
    let reading = match topic.as_str() {
        "orders/paid" | "orders/fulfilled" => match serde_json::from_str::<Order>(text) {
            Ok(o) => order(o, topic == "orders/paid"),
            Err(e) => return malformed(&topic, &e),
        },
        "refunds/create" => match serde_json::from_str::<Refund>(text) {
            Ok(r) => refund(r),
            Err(e) => return malformed(&topic, &e),
        },
        other => Reading::Ignored(format!("topic {other:?} does not concern points")),
    };
    Delivery {
        id,
        event: topic,
        reading,
    }
}

fn order(o: Order, paid: bool) -> Reading {
    let stage = if paid { Stage::Paid } else { Stage::Completed };
    let absent = if paid { Amount::Needed } else { Amount::None };
    let amount = match paid {
        true => match amount(o.total_price, Unit::Yuan, absent) {
            Ok(a) => a,
            Err(e) => return Reading::Refused(format!("total_price: {e}")),
        },
        false => Amount::None,
    };
    let mut e = OrderEvent::new(o.id.text(), stage, amount);
    e.currency = o.currency;
    let phone = o
        .customer
        .as_ref()
        .and_then(|c| c.phone.clone())
        .or(o.phone);
    let ship = o.shipping_address.as_ref();
    e.add_signal(
        "phone",
        phone.clone().or_else(|| ship.and_then(|a| a.phone.clone())),
    );
    e.add_signal(
        "address",
        ship.and_then(|a| {
            address([
                &a.address1,
                &a.address2,
                &a.city,
                &a.province,
                &a.zip,
                &a.country,
            ])
        }),
    );
    e.buyer = o
        .customer
        .and_then(|c| c.id)
        .map(|id| Identity::new("shopify-customer", id.text()))
        .or_else(|| phone.as_deref().and_then(Identity::phone));
    e.referrer = o
        .note_attributes
        .into_iter()
        .find(|a| a.name == REFERRER_ATTRIBUTE)
        .and_then(|a| a.value)
        .map(|v| Identity::new("shopify-customer", v));
    Reading::Events(vec![e])
}

fn refund(r: Refund) -> Reading {
    let mut fen = 0u64;
    let mut currency = None;
    for t in r
        .transactions
        .iter()
        .filter(|t| t.kind == "refund" && t.status.as_deref().map_or(true, |s| s == "success"))
    {
        match amount(Some(t.amount), Unit::Yuan, Amount::None) {
            Ok(Amount::Fen(f)) => fen = fen.saturating_add(f),
            Ok(_) => {}
            Err(e) => return Reading::Refused(format!("transactions.amount: {e}")),
        }
        currency = currency.or(t.currency.clone());
    }
    if fen == 0 {
        return Reading::Ignored("a refund with no successful refund transaction".into());
    }
    let mut e = OrderEvent::new(r.order_id.text(), Stage::Refunded, Amount::Fen(fen));
    e.refund = Some(r.id.text());
    e.currency = currency;
    Reading::Events(vec![e])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_as(topic: &str, body: &str) -> Reading {
        let h = [("X-Shopify-Topic", topic), ("X-Shopify-Webhook-Id", "w1")];
        read(&h, body).reading
    }

    #[test]
    fn a_paid_order_is_its_total_for_its_customer() {
        let body = r#"{"id":820982911946154508,"total_price":"598.94","currency":"CNY",
            "customer":{"id":115310627314723954,"phone":"+8613800138000"},
            "note_attributes":[{"name":"jifen_referrer","value":"7"}]}"#;
        let Reading::Events(e) = read_as("orders/paid", body) else {
            panic!()
        };
        assert_eq!(e[0].order, "820982911946154508");
        assert_eq!(e[0].amount, Amount::Fen(59894));
        assert_eq!(
            e[0].buyer,
            Some(Identity::new("shopify-customer", "115310627314723954"))
        );
        assert_eq!(e[0].referrer, Some(Identity::new("shopify-customer", "7")));
    }

    #[test]
    fn the_phone_and_shipping_address_are_signals() {
        let body = r#"{"id":7,"total_price":"1.00","customer":{"id":5},
            "shipping_address":{"address1":"Lane 5","address2":"","city":"Shanghai",
            "province":null,"zip":"200120","country":"China","phone":"+86 138 0013 8000"}}"#;
        let Reading::Events(e) = read_as("orders/paid", body) else {
            panic!()
        };
        assert_eq!(
            e[0].signals,
            vec![
                ("phone", "+86 138 0013 8000".to_string()),
                ("address", "Lane 5 Shanghai 200120 China".to_string())
            ]
        );
        let bare = r#"{"id":8,"total_price":"1.00","customer":{"id":5}}"#;
        let Reading::Events(e) = read_as("orders/paid", bare) else {
            panic!()
        };
        assert!(e[0].signals.is_empty());
    }

    #[test]
    fn a_refund_is_the_sum_of_its_successful_refund_transactions() {
        let body = r#"{"id":929361462,"order_id":450789469,"transactions":[
            {"kind":"refund","status":"success","amount":"10.00","currency":"CNY"},
            {"kind":"refund","status":"failure","amount":"5.00"},
            {"kind":"refund","status":"success","amount":"0.50"}]}"#;
        let Reading::Events(e) = read_as("refunds/create", body) else {
            panic!()
        };
        assert_eq!(
            (e[0].amount, e[0].refund.as_deref()),
            (Amount::Fen(1050), Some("929361462"))
        );
    }

    #[test]
    fn other_topics_are_ignored_and_bad_amounts_refused() {
        assert!(matches!(
            read_as("products/create", "{}"),
            Reading::Ignored(_)
        ));
        let bad = r#"{"id":1,"total_price":"1.999","customer":{"id":2}}"#;
        assert!(
            matches!(read_as("orders/paid", bad), Reading::Refused(m) if m.contains("2 decimals"))
        );
    }
}
