//! WooCommerce (<https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks>): every
//! order webhook carries the whole order; its `status` says where it is, and `refunds` lists
//! its refunds (totals written negative). The delivery id is `X-WC-Webhook-Delivery-ID`.
//!
//! Since a delivery carries the whole order, a completed or refunded order also says it was
//! paid: it becomes the payment first (a retry when that came before) and then the rest.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{amount, malformed, Id};
use crate::amount::Unit;
use crate::event::{address, Amount, Delivery, Headers, Identity, OrderEvent, Reading, Stage};

#[derive(Deserialize)]
struct Order<'a> {
    id: Id,
    status: String,
    #[serde(borrow)]
    total: Option<&'a RawValue>,
    currency: Option<String>,
    customer_id: Option<Id>,
    billing: Option<Billing>,
    shipping: Option<Shipping>,
    #[serde(borrow, default)]
    refunds: Vec<Refund<'a>>,
    #[serde(default)]
    meta_data: Vec<Meta>,
}

#[derive(Deserialize)]
struct Billing {
    phone: Option<String>,
}

#[derive(Deserialize)]
struct Shipping {
    address_1: Option<String>,
    address_2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postcode: Option<String>,
    country: Option<String>,
}

#[derive(Deserialize)]
struct Refund<'a> {
    id: Id,
    #[serde(borrow)]
    total: &'a RawValue,
}

#[derive(Deserialize)]
struct Meta {
    key: String,
    value: Option<serde_json::Value>,
}

/// The order meta key a shop sets to name the buyer's referrer (by WooCommerce customer id).
pub const REFERRER_META: &str = "jifen_referrer";

pub(super) fn read(headers: &dyn Headers, text: &str) -> Delivery {
    let topic = headers
        .header("x-wc-webhook-topic")
        .unwrap_or("")
        .to_string();
    let id = headers
        .header("x-wc-webhook-delivery-id")
        .map(str::to_string);
    if !topic.is_empty() && !topic.starts_with("order.") {
        let why = format!("topic {topic:?} does not concern points");
        return Delivery::new(id, topic, Reading::Ignored(why));
    }
    let order = match serde_json::from_str::<Order>(text) {
        Ok(o) => o,
        Err(e) => return malformed(&topic, &e),
    };
    Delivery {
        id,
        event: format!("{topic} {}", order.status).trim().to_string(),
        reading: events(order),
    }
}

fn events(o: Order) -> Reading {
    let follow: &[Stage] = match o.status.as_str() {
        "processing" => &[],
        "completed" => &[Stage::Completed],
        "refunded" => &[Stage::Refunded],
        other => {
            return Reading::Ignored(format!("order status {other:?} does not concern points"))
        }
    };
    let total = match amount(o.total, Unit::Yuan, Amount::Needed) {
        Ok(a) => a,
        Err(e) => return Reading::Refused(format!("total: {e}")),
    };
    let order = o.id.text();
    let mut paid = OrderEvent::new(order.clone(), Stage::Paid, total);
    paid.currency = o.currency.clone();
    let phone = o.billing.and_then(|b| b.phone);
    paid.add_signal("phone", phone.clone());
    paid.add_signal(
        "address",
        o.shipping.and_then(|a| {
            address([
                &a.address_1,
                &a.address_2,
                &a.city,
                &a.state,
                &a.postcode,
                &a.country,
            ])
        }),
    );
    paid.buyer = o
        .customer_id
        .map(|c| c.text())
        .filter(|c| c != "0")
        .map(|c| Identity::new("woocommerce-customer", c))
        .or_else(|| phone.as_deref().and_then(Identity::phone));
    paid.referrer = o
        .meta_data
        .iter()
        .find(|m| m.key == REFERRER_META)
        .and_then(|m| m.value.as_ref())
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .map(|v| Identity::new("woocommerce-customer", v));
    let mut out = vec![paid];
    for r in &o.refunds {
        let fen = match amount(Some(r.total), Unit::Yuan, Amount::None) {
            Ok(a) => a,
            // Refund totals are written negative ("-10.00").
            Err(_) => match negative(r.total) {
                Some(a) => a,
                None => {
                    return Reading::Refused(format!("refunds.total {} is not an amount", r.total))
                }
            },
        };
        let mut e = OrderEvent::new(order.clone(), Stage::Refunded, fen);
        e.refund = Some(r.id.text());
        out.push(e);
    }
    for stage in follow {
        let amount = if *stage == Stage::Refunded {
            Amount::All
        } else {
            Amount::None
        };
        let mut e = OrderEvent::new(order.clone(), *stage, amount);
        if *stage == Stage::Refunded {
            e.refund = Some("rest".into());
        }
        out.push(e);
    }
    Reading::Events(out)
}

/// `"-10.00"` as a refund of 10.00.
fn negative(raw: &RawValue) -> Option<Amount> {
    let text: String = serde_json::from_str(raw.get()).ok()?;
    let fen = crate::amount::yuan_to_fen(text.strip_prefix('-')?).ok()?;
    Some(Amount::Fen(fen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_order(body: &str) -> Reading {
        let h = [("X-WC-Webhook-Topic", "order.updated")];
        read(&h, body).reading
    }

    #[test]
    fn a_processing_order_is_paid_and_its_refunds_follow() {
        let body = r#"{"id":727,"status":"processing","total":"59.99","currency":"CNY",
            "customer_id":12,"refunds":[{"id":5,"total":"-10.00"}]}"#;
        let Reading::Events(e) = read_order(body) else {
            panic!()
        };
        assert_eq!((e[0].stage, e[0].amount), (Stage::Paid, Amount::Fen(5999)));
        assert_eq!(
            e[0].buyer,
            Some(Identity::new("woocommerce-customer", "12"))
        );
        assert_eq!(
            (e[1].stage, e[1].amount),
            (Stage::Refunded, Amount::Fen(1000))
        );
    }

    #[test]
    fn the_billing_phone_and_shipping_address_are_signals() {
        let body = r#"{"id":3,"status":"processing","total":"1.00","customer_id":12,
            "billing":{"phone":"138 0013 8000"},
            "shipping":{"address_1":"Lane 5","address_2":"","city":"Shanghai","state":"",
            "postcode":"","country":"CN"}}"#;
        let Reading::Events(e) = read_order(body) else {
            panic!()
        };
        assert_eq!(
            e[0].signals,
            vec![
                ("phone", "138 0013 8000".to_string()),
                ("address", "Lane 5 Shanghai CN".to_string())
            ]
        );
    }

    #[test]
    fn a_guest_is_known_by_phone_or_not_at_all() {
        let body = r#"{"id":8,"status":"completed","total":"1.00","customer_id":0,
            "billing":{"phone":"138 0013 8000"}}"#;
        let Reading::Events(e) = read_order(body) else {
            panic!()
        };
        assert_eq!(e[0].buyer, Identity::phone("13800138000"));
        assert_eq!(e[1].stage, Stage::Completed);
        let body = r#"{"id":9,"status":"processing","total":"1.00","customer_id":0}"#;
        let Reading::Events(e) = read_order(body) else {
            panic!()
        };
        assert_eq!(e[0].buyer, None);
    }

    #[test]
    fn the_creation_ping_is_recognised() {
        assert!(super::super::is_ping(
            crate::Kind::WooCommerce,
            b"webhook_id=17"
        ));
        assert!(!super::super::is_ping(
            crate::Kind::WooCommerce,
            b"webhook_id=17&x=1"
        ));
    }
}
