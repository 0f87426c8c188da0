//! Youzan (<https://doc.youzanyun.com/detail/MSG/6>): a push is a JSON envelope whose `type`
//! names the event and whose `msg` is the event's JSON, URL-encoded as text (or, from some
//! senders, an object). Pushes may arrive out of order, and `version` orders them.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{amount, malformed, Id};
use crate::amount::Unit;
use crate::event::{address, Amount, Delivery, Headers, Identity, OrderEvent, Reading, Stage};

#[derive(Deserialize)]
struct Envelope<'a> {
    id: Option<Id>,
    #[serde(rename = "type")]
    kind: String,
    status: Option<String>,
    #[serde(borrow)]
    msg: Option<&'a RawValue>,
    version: Option<u64>,
    #[serde(default)]
    test: bool,
}

#[derive(Deserialize, Default)]
struct Msg<'a> {
    tid: Option<Id>,
    #[serde(borrow)]
    full_order_info: Option<FullOrder<'a>>,
    refund_id: Option<Id>,
    #[serde(borrow)]
    refunded_fee: Option<&'a RawValue>,
    #[serde(borrow)]
    refund_fee: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FullOrder<'a> {
    order_info: OrderInfo,
    buyer_info: Option<Buyer>,
    address_info: Option<AddressInfo>,
    #[serde(borrow)]
    pay_info: Option<PayInfo<'a>>,
}

#[derive(Deserialize)]
struct AddressInfo {
    receiver_tel: Option<String>,
    delivery_province: Option<String>,
    delivery_city: Option<String>,
    delivery_district: Option<String>,
    delivery_address: Option<String>,
}

#[derive(Deserialize)]
struct OrderInfo {
    tid: Id,
}

#[derive(Deserialize)]
struct Buyer {
    yz_open_id: Option<String>,
    buyer_phone: Option<String>,
}

#[derive(Deserialize)]
struct PayInfo<'a> {
    #[serde(borrow)]
    payment: Option<&'a RawValue>,
}

pub(super) fn read(headers: &dyn Headers, text: &str) -> Delivery {
    let mut env = match serde_json::from_str::<Envelope>(text) {
        Ok(e) => e,
        Err(e) => return malformed("youzan", &e),
    };
    // The event's type is in the `Event-Type` header (and, as sent, in the body's `type`).
    if let Some(kind) = headers.header("event-type").filter(|k| !k.is_empty()) {
        env.kind = kind.to_string();
    }
    let id = Some(format!(
        "{}:{}:{}",
        env.kind,
        env.id.as_ref().map(Id::text).unwrap_or_default(),
        env.version.unwrap_or(0)
    ));
    let reading = if env.test {
        Reading::Ignored("a test push".into())
    } else {
        reading(&env)
    };
    Delivery::new(id, env.kind.clone(), reading)
}

fn stage_of(env: &Envelope) -> Option<Stage> {
    match (env.kind.as_str(), env.status.as_deref()) {
        ("trade_TradePaid", _) | ("TRADE_ORDER_STATE", Some("WAIT_SELLER_SEND_GOODS")) => {
            Some(Stage::Paid)
        }
        ("trade_TradeSuccess", _) | ("TRADE_ORDER_STATE", Some("TRADE_SUCCESS")) => {
            Some(Stage::Completed)
        }
        ("youzan_trade_RefundSuccess", _) => Some(Stage::Refunded),
        _ => None,
    }
}

fn reading(env: &Envelope) -> Reading {
    let Some(stage) = stage_of(env) else {
        return Reading::Ignored(format!("event {:?} does not concern points", env.kind));
    };
    let text = match env.msg.map(msg_text).transpose() {
        Ok(t) => t.unwrap_or_else(|| "{}".into()),
        Err(e) => return Reading::Refused(e),
    };
    let msg = match serde_json::from_str::<Msg>(&text) {
        Ok(m) => m,
        Err(e) => return Reading::Refused(format!("msg is not as documented: {e}")),
    };
    match event(stage, msg) {
        Ok(mut e) => {
            e.version = env.version;
            e.currency = Some("CNY".into());
            Reading::Events(vec![e])
        }
        Err(why) => Reading::Refused(why),
    }
}

/// `msg` as JSON text: URL-decoded when it is a string, as it stands when an object.
fn msg_text(raw: &RawValue) -> Result<String, String> {
    match serde_json::from_str::<String>(raw.get()) {
        Ok(encoded) => percent_encoding::percent_decode_str(&encoded.replace('+', " "))
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "msg is not URL-encoded UTF-8".to_string()),
        Err(_) => Ok(raw.get().to_string()),
    }
}

fn event(stage: Stage, msg: Msg) -> Result<OrderEvent, String> {
    let full = msg.full_order_info;
    let tid = full
        .as_ref()
        .map(|f| f.order_info.tid.text())
        .or(msg.tid.map(|t| t.text()))
        .ok_or("msg names no order (tid)")?;
    let amount = match stage {
        Stage::Paid => {
            let payment = full
                .as_ref()
                .and_then(|f| f.pay_info.as_ref())
                .and_then(|p| p.payment);
            amount(payment, Unit::Yuan, Amount::Needed).map_err(|e| format!("payment: {e}"))?
        }
        Stage::Refunded => amount(msg.refunded_fee.or(msg.refund_fee), Unit::Yuan, Amount::All)
            .map_err(|e| format!("refunded_fee: {e}"))?,
        Stage::Completed => Amount::None,
    };
    let mut e = OrderEvent::new(tid, stage, amount);
    e.refund = msg.refund_id.map(|r| r.text());
    let (buyer, place) = full.map_or((None, None), |f| (f.buyer_info, f.address_info));
    let buyer_phone = buyer.as_ref().and_then(|b| b.buyer_phone.clone());
    let receiver_tel = place.as_ref().and_then(|a| a.receiver_tel.clone());
    e.add_signal("phone", buyer_phone.clone().or(receiver_tel));
    if let Some(b) = buyer {
        e.buyer = b
            .yz_open_id
            .filter(|s| !s.is_empty())
            .map(|id| Identity::new("youzan-open-id", id))
            .or_else(|| buyer_phone.as_deref().and_then(Identity::phone));
    }
    e.add_signal(
        "address",
        place.and_then(|a| {
            let parts = [
                &a.delivery_province,
                &a.delivery_city,
                &a.delivery_district,
                &a.delivery_address,
            ];
            address(parts)
        }),
    );
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_HEADERS: [(&str, &str); 0] = [];

    fn encoded(json: &str) -> String {
        percent_encoding::utf8_percent_encode(json, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn a_paid_trade_is_read_from_url_encoded_msg_or_an_object() {
        let msg = r#"{"full_order_info":{"order_info":{"tid":"E2026"},"buyer_info":{"yz_open_id":"oYz1"},"pay_info":{"payment":"59.99"}}}"#;
        for m in [format!("{:?}", encoded(msg)), msg.to_string()] {
            let body =
                format!(r#"{{"id":"E2026","type":"trade_TradePaid","msg":{m},"version":7}}"#);
            let Reading::Events(e) = read(&NO_HEADERS, &body).reading else {
                panic!("{body}")
            };
            assert_eq!(
                (e[0].order.as_str(), e[0].amount),
                ("E2026", Amount::Fen(5999))
            );
            assert_eq!(e[0].buyer, Some(Identity::new("youzan-open-id", "oYz1")));
            assert_eq!(e[0].version, Some(7));
        }
    }

    #[test]
    fn the_receivers_phone_and_address_are_signals() {
        let msg = r#"{"full_order_info":{"order_info":{"tid":"E7"},"buyer_info":{"yz_open_id":"oYz1"},
            "address_info":{"receiver_tel":"13800138000","delivery_province":"上海市",
            "delivery_city":"上海市","delivery_district":" ","delivery_address":"世纪大道 100 号"},
            "pay_info":{"payment":"1.00"}}}"#;
        let body = format!(r#"{{"type":"trade_TradePaid","msg":{msg}}}"#);
        let Reading::Events(e) = read(&NO_HEADERS, &body).reading else {
            panic!("{body}")
        };
        assert_eq!(
            e[0].signals,
            vec![
                ("phone", "13800138000".to_string()),
                ("address", "上海市 上海市 世纪大道 100 号".to_string())
            ]
        );
    }

    #[test]
    fn refunds_completions_and_tests() {
        let body = r#"{"type":"youzan_trade_RefundSuccess","msg":{"tid":"E1","refund_id":"R1","refunded_fee":"5.00"}}"#;
        let Reading::Events(e) = read(&NO_HEADERS, body).reading else {
            panic!()
        };
        assert_eq!(
            (e[0].stage, e[0].amount),
            (Stage::Refunded, Amount::Fen(500))
        );
        let body = r#"{"type":"trade_TradeSuccess","msg":{"tid":"E1"}}"#;
        let Reading::Events(e) = read(&NO_HEADERS, body).reading else {
            panic!()
        };
        assert_eq!(e[0].stage, Stage::Completed);
        let body = r#"{"type":"trade_TradeSuccess","msg":{"tid":"E1"},"test":true}"#;
        assert!(matches!(
            read(&NO_HEADERS, body).reading,
            Reading::Ignored(_)
        ));
    }
}
