//! Parsing one command line (SPEC §5) into a core [`Command`].

use jifen_core::{Amount, Code, Command, Fingerprint, OptionalAmount, Text};
use serde_json::{Map, Value};

use crate::json::fingerprint;
use crate::rules::rules_from_json;

/// The longest command line accepted, in bytes. A longer line is an `invalid_command` outcome
/// and is not parsed at all, which bounds the work one line can cause.
pub const LINE_BYTES_MAX: usize = 64 * 1024;

/// One parsed command line.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The line's `"id"` value as given, for echoing in outcomes (`null` when absent or when
    /// the line is not a JSON object).
    pub id_echo: Value,
    /// The id when it is a string (the ledger checks its pattern).
    pub id: Option<Text>,
    pub fingerprint: Fingerprint,
    /// The command, or the code that parsing already decided.
    pub command: Result<Command, Code>,
}

impl Parsed {
    fn invalid(id_echo: Value) -> Parsed {
        Parsed {
            id: id_echo.as_str().map(Text::from),
            id_echo,
            fingerprint: Fingerprint(0),
            command: Err(Code::InvalidCommand),
        }
    }
}

/// Parses one line of a command file. Never fails: a bad line is an `invalid_command`.
pub fn parse_command_line(line: &str) -> Parsed {
    if line.len() > LINE_BYTES_MAX {
        return Parsed::invalid(Value::Null);
    }
    match serde_json::from_str::<Value>(line) {
        Ok(value) => parse_command_value(value),
        Err(_) => Parsed::invalid(Value::Null),
    }
}

/// Parses one command object.
pub fn parse_command_value(value: Value) -> Parsed {
    let fp = Fingerprint(fingerprint(&value));
    let Value::Object(map) = value else {
        return Parsed::invalid(Value::Null);
    };
    let id_echo = map.get("id").cloned().unwrap_or(Value::Null);
    let id = id_echo.as_str().map(Text::from);
    let command = command_from_map(&map);
    Parsed {
        id_echo,
        id,
        fingerprint: fp,
        command,
    }
}

/// The fields of one command type: required strings, optional strings, amounts (required, in
/// SPEC order) and optional amounts. Any other field is an `invalid_command`.
struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Checks that the object has no field outside `allowed` (besides `type` and `id`).
    fn only(&self, allowed: &[&str]) -> Result<(), Code> {
        let ok = self
            .map
            .keys()
            .all(|k| k == "type" || k == "id" || allowed.contains(&k.as_str()));
        ok.then_some(()).ok_or(Code::InvalidCommand)
    }

    fn text(&self, key: &str) -> Result<Text, Code> {
        self.map
            .get(key)
            .and_then(Value::as_str)
            .map(Text::from)
            .ok_or(Code::InvalidCommand)
    }

    fn optional_text(&self, key: &str) -> Result<Option<Text>, Code> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Text::from(s.as_str()))),
            Some(_) => Err(Code::InvalidCommand),
        }
    }

    fn amount(&self, key: &str) -> Amount {
        self.map.get(key).and_then(Value::as_u64)
    }

    fn optional_amount(&self, key: &str) -> OptionalAmount {
        self.map.get(key).map(Value::as_u64)
    }
}

fn command_from_map(map: &Map<String, Value>) -> Result<Command, Code> {
    let f = Fields { map };
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or(Code::InvalidCommand)?;
    let command = match kind {
        "register_consumer" => {
            f.only(&["account", "referrer"])?;
            Command::RegisterConsumer {
                account: f.text("account")?,
                referrer: f.optional_text("referrer")?,
            }
        }
        "register_merchant" => {
            f.only(&["account"])?;
            Command::RegisterMerchant {
                account: f.text("account")?,
            }
        }
        "pay_order" => {
            f.only(&["order", "consumer", "merchant", "cash_fen", "stable_fen"])?;
            Command::PayOrder {
                order: f.text("order")?,
                consumer: f.text("consumer")?,
                merchant: f.text("merchant")?,
                cash_fen: f.amount("cash_fen"),
                stable_fen: f.amount("stable_fen"),
            }
        }
        "confirm_order" => {
            f.only(&["order"])?;
            Command::ConfirmOrder {
                order: f.text("order")?,
            }
        }
        "refund_order" => {
            f.only(&["order", "cash_fen", "stable_fen"])?;
            Command::RefundOrder {
                order: f.text("order")?,
                cash_fen: f.optional_amount("cash_fen"),
                stable_fen: f.optional_amount("stable_fen"),
            }
        }
        "sell" => {
            f.only(&["account", "atoms"])?;
            Command::Sell {
                account: f.text("account")?,
                atoms: f.amount("atoms"),
            }
        }
        "convert_to_stable" => {
            f.only(&["account", "atoms"])?;
            Command::ConvertToStable {
                account: f.text("account")?,
                atoms: f.amount("atoms"),
            }
        }
        "redeem_stable" => {
            f.only(&["account", "fen"])?;
            Command::RedeemStable {
                account: f.text("account")?,
                fen: f.amount("fen"),
            }
        }
        "settle_dividends" => {
            f.only(&["day"])?;
            Command::SettleDividends {
                day: f
                    .map
                    .get("day")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
            }
        }
        "set_rules" => {
            f.only(&["rules"])?;
            Command::SetRules {
                rules: map.get("rules").and_then(rules_from_json),
            }
        }
        _ => return Err(Code::InvalidCommand),
    };
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(line: &str) -> Option<Code> {
        parse_command_line(line).command.err()
    }

    #[test]
    fn shapes() {
        assert_eq!(code_of("not json"), Some(Code::InvalidCommand));
        assert_eq!(code_of("[1,2]"), Some(Code::InvalidCommand));
        assert_eq!(
            code_of(r#"{"type":"teleport","id":"a"}"#),
            Some(Code::InvalidCommand)
        );
        assert_eq!(
            code_of(r#"{"type":"sell","id":"a","account":"x","atoms":1,"extra":1}"#),
            Some(Code::InvalidCommand)
        );
        assert_eq!(
            code_of(r#"{"type":"sell","id":"a","account":7,"atoms":1}"#),
            Some(Code::InvalidCommand)
        );
        assert_eq!(
            code_of(r#"{"type":"sell","id":"a","account":"x","atoms":1}"#),
            None
        );
        let long = format!(
            r#"{{"type":"sell","id":"a","account":"{}","atoms":1}}"#,
            "x".repeat(LINE_BYTES_MAX)
        );
        assert_eq!(code_of(&long), Some(Code::InvalidCommand));
    }

    #[test]
    fn amounts() {
        let atoms = |v: &str| match parse_command_line(&format!(
            r#"{{"type":"sell","id":"a","account":"x","atoms":{v}}}"#
        ))
        .command
        {
            Ok(Command::Sell { atoms, .. }) => atoms,
            other => panic!("{other:?}"),
        };
        assert_eq!(atoms("5"), Some(5));
        assert_eq!(atoms("18446744073709551615"), Some(u64::MAX));
        assert_eq!(atoms("18446744073709551616"), None);
        assert_eq!(atoms("-1"), None);
        assert_eq!(atoms("1.5"), None);
        assert_eq!(atoms("1.0"), None);
        assert_eq!(atoms("\"5\""), None);
        assert_eq!(atoms("true"), None);
        assert_eq!(atoms("null"), None);
    }

    #[test]
    fn id_echo() {
        let p = parse_command_line(r#"{"type":"sell","id":17}"#);
        assert_eq!(p.id_echo, Value::from(17));
        assert_eq!(p.id, None);
        let p = parse_command_line(r#"[1]"#);
        assert_eq!(p.id_echo, Value::Null);
    }
}
