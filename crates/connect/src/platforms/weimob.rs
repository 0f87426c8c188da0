//! Weimob (<https://doc.weimobcloud.com/>, 消息订阅): a message is a JSON envelope with `id`,
//! `topic`, `event`, `msgBody` (the event's JSON as text) and `sign`. An order's `orderStatus`
//! says where it is (2 paid, 7 and 8 completed); `rights` events are refunds (售后). A
//! `statusUpdate` carries no amount: the operator supplies it.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{amount, malformed, Credentials, Id};
use crate::amount::Unit;
use crate::event::{Amount, Delivery, Identity, OrderEvent, Reading, Stage};

#[derive(Deserialize)]
struct Envelope {
    id: Option<Id>,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    event: String,
    #[serde(rename = "msgBody")]
    msg_body: Option<String>,
    sign: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    order_no: Option<Id>,
    order_status: Option<u32>,
    wid: Option<Id>,
    #[serde(borrow)]
    payment_amount: Option<&'a RawValue>,
    rights_id: Option<Id>,
    #[serde(borrow)]
    refund_amount: Option<&'a RawValue>,
}

pub(super) fn verify(c: &Credentials, body: &[u8]) -> Result<(), String> {
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|_| "the body is not a Weimob message, so its sign cannot be checked")?;
    let sign = env.sign.as_deref().ok_or("the message has no sign")?;
    let id = env.id.as_ref().map(Id::text).unwrap_or_default();
    let msg = env.msg_body.as_deref().unwrap_or("");
    crate::sign::weimob(&c.client_id, &c.client_secret, &id, msg, sign)
}

pub(super) fn read(text: &str) -> Delivery {
    let env = match serde_json::from_str::<Envelope>(text) {
        Ok(e) => e,
        Err(e) => return malformed("weimob", &e),
    };
    let name = format!("{} {}", env.topic, env.event).trim().to_string();
    let id = env.id.as_ref().map(Id::text);
    let body = env.msg_body.as_deref().unwrap_or("{}");
    let reading = match serde_json::from_str::<Body>(body) {
        Ok(b) => reading(&env, b),
        Err(e) => Reading::Refused(format!("msgBody is not as documented: {e}")),
    };
    Delivery::new(id, name, reading)
}

fn reading(env: &Envelope, b: Body) -> Reading {
    let Some(order) = b.order_no.as_ref().map(Id::text) else {
        return Reading::Refused("msgBody names no order (orderNo)".into());
    };
    let rights = env.topic.contains("rights") || env.event.contains("rights");
    let (stage, raw, absent) = if rights {
        (Stage::Refunded, b.refund_amount, Amount::All)
    } else {
        match b.order_status {
            Some(2) => (Stage::Paid, b.payment_amount, Amount::Needed),
            Some(7 | 8) => (Stage::Completed, None, Amount::None),
            other => {
                let why = format!("order status {other:?} does not concern points");
                return Reading::Ignored(why);
            }
        }
    };
    let amount = match amount(raw, Unit::Yuan, absent) {
        Ok(a) => a,
        Err(e) => return Reading::Refused(e),
    };
    let mut e = OrderEvent::new(order, stage, amount);
    e.buyer = b.wid.map(|w| Identity::new("weimob-wid", w.text()));
    e.refund = b.rights_id.map(|r| r.text());
    e.currency = Some("CNY".into());
    Reading::Events(vec![e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_rights_and_a_missing_amount() {
        let body = r#"{"id":"m1","topic":"weimob_shop.order","event":"statusUpdate","msgBody":"{\"orderNo\":123,\"orderStatus\":2,\"wid\":1001}"}"#;
        let Reading::Events(e) = read(body).reading else {
            panic!()
        };
        assert_eq!((e[0].stage, e[0].amount), (Stage::Paid, Amount::Needed));
        assert_eq!(e[0].buyer, Some(Identity::new("weimob-wid", "1001")));
        let body = r#"{"id":"m2","topic":"weimob_shop.order","event":"orderStatusUpdate","msgBody":"{\"orderNo\":123,\"orderStatus\":2,\"wid\":1001,\"paymentAmount\":59.99}"}"#;
        let Reading::Events(e) = read(body).reading else {
            panic!()
        };
        assert_eq!(e[0].amount, Amount::Fen(5999));
        let body = r#"{"id":"m3","topic":"weimob_shop.rights","event":"rightsStatusUpdate","msgBody":"{\"orderNo\":123,\"rightsId\":9,\"refundAmount\":\"1.50\"}"}"#;
        let Reading::Events(e) = read(body).reading else {
            panic!()
        };
        assert_eq!(
            (e[0].stage, e[0].amount),
            (Stage::Refunded, Amount::Fen(150))
        );
        let body =
            r#"{"id":"m4","event":"statusUpdate","msgBody":"{\"orderNo\":123,\"orderStatus\":8}"}"#;
        let Reading::Events(e) = read(body).reading else {
            panic!()
        };
        assert_eq!(e[0].stage, Stage::Completed);
    }
}
