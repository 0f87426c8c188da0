//! What a delivery says, whatever platform sent it: order events in one shape.

/// The platforms a connector takes deliveries from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Shopify,
    WooCommerce,
    Youzan,
    Weimob,
    Generic,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Shopify,
        Kind::WooCommerce,
        Kind::Youzan,
        Kind::Weimob,
        Kind::Generic,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Shopify => "shopify",
            Kind::WooCommerce => "woocommerce",
            Kind::Youzan => "youzan",
            Kind::Weimob => "weimob",
            Kind::Generic => "generic",
        }
    }

    /// Whether the platform signs with an app's `client_id` and `client_secret` (otherwise
    /// with one `secret`).
    pub fn uses_client_pair(self) -> bool {
        matches!(self, Kind::Youzan | Kind::Weimob)
    }

    /// The body the platform expects back, so that it stops retrying.
    pub fn reply(self) -> &'static str {
        match self {
            Kind::Youzan => r#"{"code":0,"msg":"success"}"#,
            Kind::Weimob => r#"{"code":{"errcode":"0","errmsg":"success"}}"#,
            _ => r#"{"ok":true}"#,
        }
    }
}

/// Where an order is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Paid,
    Refunded,
    Completed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Paid => "paid",
            Stage::Refunded => "refunded",
            Stage::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        [Stage::Paid, Stage::Refunded, Stage::Completed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// An event's amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amount {
    /// Fen, exactly.
    Fen(u64),
    /// A refund of everything left of the order.
    All,
    /// The platform sent none where one is needed (Weimob's `statusUpdate`): the operator
    /// supplies it.
    Needed,
    /// An event that carries no amount (a completion).
    None,
}

/// Who a buyer (or a referrer) is on the platform: `scheme` says which id it is
/// (`shopify-customer`, `phone`, ...), `id` the id itself. A phone number is personal data:
/// it is only ever stored as a keyed hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub scheme: &'static str,
    pub id: String,
}

impl Identity {
    pub fn new(scheme: &'static str, id: impl Into<String>) -> Identity {
        Identity {
            scheme,
            id: id.into(),
        }
    }

    /// A phone number with its spacing and the +86 / 0086 prefix taken off, so one number
    /// written two ways is one identity. `None` when no digits are left.
    pub fn phone(raw: &str) -> Option<Identity> {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let digits = match digits
            .strip_prefix("0086")
            .or_else(|| (raw.trim_start().starts_with("+86")).then(|| &digits[2..]))
        {
            Some(rest) => rest.to_string(),
            None => digits,
        };
        (!digits.is_empty()).then(|| Identity::new("phone", digits))
    }
}

/// One order event from a delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEvent {
    /// The platform's order id.
    pub order: String,
    pub stage: Stage,
    pub amount: Amount,
    /// The currency the platform names, when it names one.
    pub currency: Option<String>,
    pub buyer: Option<Identity>,
    pub referrer: Option<Identity>,
    /// The platform's id of a refund (one order may be refunded in parts).
    pub refund: Option<String>,
    /// The platform's version of the order, where it sends one: an older one than already
    /// seen is ignored.
    pub version: Option<u64>,
    /// Risk signals the delivery names (SPEC §17), raw: `phone` and `address`. Personal data:
    /// the server turns each into a keyed hash before anything is stored.
    pub signals: Vec<(&'static str, String)>,
}

impl OrderEvent {
    pub fn new(order: impl Into<String>, stage: Stage, amount: Amount) -> OrderEvent {
        OrderEvent {
            order: order.into(),
            stage,
            amount,
            currency: None,
            buyer: None,
            referrer: None,
            refund: None,
            version: None,
            signals: Vec::new(),
        }
    }

    /// Adds a signal of `kind`, unless the value is blank or longer than
    /// [`SIGNAL_BYTES_MAX`] (then it is not a phone or an address the rules could match).
    pub fn add_signal(&mut self, kind: &'static str, value: Option<String>) {
        if let Some(v) = value.filter(|v| !v.trim().is_empty() && v.len() <= SIGNAL_BYTES_MAX) {
            self.signals.push((kind, v));
        }
    }
}

/// The longest signal value read from a delivery.
pub const SIGNAL_BYTES_MAX: usize = 512;

/// An address from its parts, in the order given, blank parts left out; `None` when all are.
pub fn address<'a>(parts: impl IntoIterator<Item = &'a Option<String>>) -> Option<String> {
    let kept: Vec<&str> = (parts.into_iter())
        .filter_map(|p| p.as_deref().map(str::trim))
        .filter(|p| !p.is_empty())
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}

/// What a delivery is, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Order events, in the order they apply.
    Events(Vec<OrderEvent>),
    /// A platform's check that the URL answers (WooCommerce's ping): answered, not stored.
    Ping,
    /// A well-formed delivery jifen has nothing to do with (another topic, a test message).
    Ignored(String),
    /// A delivery that cannot be mapped: malformed, an amount that is not exact.
    Refused(String),
}

/// A delivery read: the platform's delivery id and event name, where it gives them, and what
/// it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: Option<String>,
    pub event: String,
    pub reading: Reading,
}

impl Delivery {
    pub fn new(id: Option<String>, event: impl Into<String>, reading: Reading) -> Delivery {
        Delivery {
            id,
            event: event.into(),
            reading,
        }
    }
}

/// A request's headers, by case-insensitive name.
pub trait Headers {
    fn header(&self, name: &str) -> Option<&str>;
}

impl<const N: usize> Headers for [(&str, &str); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl Headers for Vec<(String, String)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_written_two_ways_are_one_identity() {
        let a = Identity::phone("+86 138-0013-8000").unwrap();
        assert_eq!(a, Identity::phone("13800138000").unwrap());
        assert_eq!(a, Identity::phone("0086 13800138000").unwrap());
        assert_eq!(Identity::phone(" - "), None);
    }

    #[test]
    fn kinds_and_stages_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("taobao"), None);
        assert_eq!(Stage::parse("paid"), Some(Stage::Paid));
    }
}
