//! Each platform's deliveries: checking their signatures and reading them into order events.

mod generic;
mod shopify;
mod weimob;
mod woocommerce;
mod youzan;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::amount::{amount_of, Unit};
use crate::event::{Amount, Delivery, Headers, Kind, Reading};
use crate::{sign, standard_webhooks};

/// A connector's secrets: `secret` for Shopify, WooCommerce and generic; `client_id` and
/// `client_secret` for Youzan and Weimob.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub secret: String,
    pub client_id: String,
    pub client_secret: String,
}

/// Checks a delivery's signature by the platform's scheme. `Err` says what is wrong, for the
/// 401's message.
pub fn verify(
    kind: Kind,
    c: &Credentials,
    headers: &dyn Headers,
    body: &[u8],
    now_s: i64,
) -> Result<(), String> {
    match kind {
        Kind::Shopify => {
            sign::base64_hmac_sha256(&c.secret, body, headers.header("x-shopify-hmac-sha256"))
        }
        Kind::WooCommerce => {
            sign::base64_hmac_sha256(&c.secret, body, headers.header("x-wc-webhook-signature"))
        }
        Kind::Youzan => sign::youzan(
            &c.client_id,
            &c.client_secret,
            body,
            headers.header("event-sign"),
            headers.header("client-id"),
        ),
        Kind::Weimob => weimob::verify(c, body),
        Kind::Generic => standard_webhooks::verify(
            &c.secret,
            headers.header("webhook-id"),
            headers.header("webhook-timestamp"),
            headers.header("webhook-signature"),
            body,
            now_s,
        ),
    }
}

/// Whether a delivery is the platform's unsigned check that the URL answers (WooCommerce
/// posts `webhook_id=N`, form-encoded and unsigned, when a webhook is created). It is answered
/// 200 and nothing else happens.
pub fn is_ping(kind: Kind, body: &[u8]) -> bool {
    kind == Kind::WooCommerce
        && body
            .strip_prefix(b"webhook_id=")
            .is_some_and(|n| !n.is_empty() && n.len() <= 20 && n.iter().all(u8::is_ascii_digit))
}

/// Reads a delivery (whose signature was checked) into order events.
pub fn read(kind: Kind, headers: &dyn Headers, body: &[u8]) -> Delivery {
    if is_ping(kind, body) {
        return Delivery::new(None, "ping", Reading::Ping);
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Delivery::new(None, "", Reading::Refused("the body is not UTF-8".into()));
    };
    match kind {
        Kind::Shopify => shopify::read(headers, text),
        Kind::WooCommerce => woocommerce::read(headers, text),
        Kind::Youzan => youzan::read(headers, text),
        Kind::Weimob => weimob::read(text),
        Kind::Generic => generic::read(headers, text),
    }
}

/// A platform id: a JSON string or a whole number.
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub(crate) enum Id {
    Text(String),
    Number(u64),
}

impl Id {
    pub(crate) fn text(&self) -> String {
        match self {
            Id::Text(s) => s.clone(),
            Id::Number(n) => n.to_string(),
        }
    }
}

/// An amount field: absent is `absent`, present is read exactly.
pub(crate) fn amount(raw: Option<&RawValue>, unit: Unit, absent: Amount) -> Result<Amount, String> {
    match raw {
        None => Ok(absent),
        Some(r) if r.get().trim() == "null" => Ok(absent),
        Some(r) => amount_of(r, unit).map(Amount::Fen),
    }
}

/// A body that does not parse as the platform's shape, refused with serde's words.
pub(crate) fn malformed(event: &str, e: &serde_json::Error) -> Delivery {
    Delivery::new(
        None,
        event,
        Reading::Refused(format!(
            "the body is not a {event} delivery as documented: {e}"
        )),
    )
}
