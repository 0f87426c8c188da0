//! Parsing one command line (SPEC §5) into a core [`Command`].

use jifen_core::{Amount, Code, Command, Fingerprint, Text};
use serde_json::{Map, Value};

use crate::fast::parse_fast;
use crate::json::fingerprint;
use crate::rules::rules_from_json;
use jifen_core::Rules;

/// The longest command line accepted, in bytes. A longer line is an `invalid_command` outcome
/// and is not parsed at all, which bounds the work one line can cause.
pub const LINE_BYTES_MAX: usize = 64 * 1024;

/// One parsed command line.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The line's `"id"` value when it is not a plain string (`null` when absent or when the
    /// line is not a JSON object). A string id is not copied here: see [`Parsed::id_echo`].
    echo: Value,
    /// The id when it is a string (the ledger checks its pattern).
    pub id: Option<Text>,
    pub fingerprint: Fingerprint,
    /// The command, or the code that parsing already decided.
    pub command: Result<Command, Code>,
}

impl Parsed {
    /// The line's `"id"` value as given, for echoing in outcomes.
    pub fn id_echo(&self) -> Value {
        match &self.id {
            Some(id) => Value::String(id.to_string()),
            None => self.echo.clone(),
        }
    }

    pub(crate) fn new(
        id: Option<Text>,
        echo: Value,
        fingerprint: Fingerprint,
        command: Result<Command, Code>,
    ) -> Parsed {
        let echo = if id.is_some() { Value::Null } else { echo };
        Parsed {
            echo,
            id,
            fingerprint,
            command,
        }
    }

    fn invalid(id_echo: Value) -> Parsed {
        Parsed {
            id: id_echo.as_str().map(Text::from),
            echo: id_echo,
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
    if let Some(parsed) = parse_fast(line) {
        return parsed;
    }
    parse_command_general(line)
        .map(|(parsed, _)| parsed)
        .unwrap_or_else(|| Parsed::invalid(Value::Null))
}

/// Parses one JSON text on the general path (never the fast one): the command, and its
/// canonical text. The fingerprint and the canonical text keep every number's exact digits
/// (see `exact`), so two commands that differ only beyond `f64`'s precision are told apart.
/// `None` when the text is not JSON.
pub fn parse_command_general(text: &str) -> Option<(Parsed, String)> {
    let value = serde_json::from_str::<Value>(text).ok()?;
    let (canonical, fp) = crate::exact::canonical_and_fingerprint(text)?;
    let mut parsed = parse_command_value(value);
    parsed.fingerprint = Fingerprint(fp);
    Some((parsed, canonical))
}

/// Parses one JSON text holding a command and appends its canonical text to `out`: on the fast
/// path when it can, otherwise through a `Value`. `None` (and nothing appended) when the text
/// is not JSON or is longer than [`LINE_BYTES_MAX`]; the caller journals such a text as an
/// excerpt.
pub fn parse_command_canonical_into(text: &str, out: &mut String) -> Option<Parsed> {
    if text.len() > LINE_BYTES_MAX {
        return None;
    }
    let mark = out.len();
    if let Some(parsed) = crate::fast::parse_fast_canonical(text, out) {
        return Some(parsed);
    }
    out.truncate(mark);
    let (parsed, canonical) = parse_command_general(text)?;
    out.push_str(&canonical);
    Some(parsed)
}

/// Parses one command object built in code. Its fingerprint is taken from the `Value`, whose
/// numbers beyond `u64` are already `f64`: text from outside goes through
/// [`parse_command_general`] instead.
pub fn parse_command_value(value: Value) -> Parsed {
    let fp = Fingerprint(fingerprint(&value));
    let Value::Object(map) = value else {
        return Parsed::invalid(Value::Null);
    };
    let id_echo = map.get("id").cloned().unwrap_or(Value::Null);
    let id = id_echo.as_str().map(Text::from);
    let command = command_from_map(&map);
    Parsed::new(id, id_echo, fp, command)
}

/// Where a command's fields come from: a parsed JSON object, or the borrowed fast path.
pub(crate) trait Source {
    /// Whether every field is `type`, `id` or one of `allowed`.
    fn only(&self, allowed: &[&str]) -> bool;
    /// A string field; `None` when missing, `Some(None)` when present but not a string.
    fn string(&self, key: &str) -> Option<Option<&str>>;
    /// An amount field; `None` when missing, `Some(None)` when present but not in `u64`.
    fn number(&self, key: &str) -> Option<Amount>;
    fn rules(&self) -> Option<Rules>;
    fn policy(&self) -> Option<jifen_core::Policy>;
}

impl Source for Map<String, Value> {
    fn only(&self, allowed: &[&str]) -> bool {
        self.keys()
            .all(|k| k == "type" || k == "id" || allowed.contains(&k.as_str()))
    }

    fn string(&self, key: &str) -> Option<Option<&str>> {
        self.get(key).map(Value::as_str)
    }

    fn number(&self, key: &str) -> Option<Amount> {
        self.get(key).map(Value::as_u64)
    }

    fn rules(&self) -> Option<Rules> {
        self.get("rules").and_then(rules_from_json)
    }

    fn policy(&self) -> Option<jifen_core::Policy> {
        self.get("policy").and_then(crate::rules::policy_from_json)
    }
}

fn only(source: &impl Source, allowed: &[&str]) -> Result<(), Code> {
    source
        .only(allowed)
        .then_some(())
        .ok_or(Code::InvalidCommand)
}

fn text(source: &impl Source, key: &str) -> Result<Text, Code> {
    match source.string(key) {
        Some(Some(s)) => Ok(Text::from(s)),
        _ => Err(Code::InvalidCommand),
    }
}

fn optional_text(source: &impl Source, key: &str) -> Result<Option<Text>, Code> {
    match source.string(key) {
        None => Ok(None),
        Some(Some(s)) => Ok(Some(Text::from(s))),
        Some(None) => Err(Code::InvalidCommand),
    }
}

fn amount(source: &impl Source, key: &str) -> Amount {
    source.number(key).flatten()
}

/// Maps a command object's fields to a core command. Shapes only: the engine checks values.
pub(crate) fn command_from(f: &impl Source, kind: &str) -> Result<Command, Code> {
    let command = match kind {
        "register_consumer" => {
            only(f, &["account", "referrer"])?;
            Command::RegisterConsumer {
                account: text(f, "account")?,
                referrer: optional_text(f, "referrer")?,
            }
        }
        "register_merchant" => {
            only(f, &["account"])?;
            Command::RegisterMerchant {
                account: text(f, "account")?,
            }
        }
        "pay_order" => {
            only(
                f,
                &["order", "consumer", "merchant", "cash_fen", "stable_fen"],
            )?;
            Command::PayOrder {
                order: text(f, "order")?,
                consumer: text(f, "consumer")?,
                merchant: text(f, "merchant")?,
                cash_fen: amount(f, "cash_fen"),
                stable_fen: amount(f, "stable_fen"),
            }
        }
        "confirm_order" => {
            only(f, &["order"])?;
            Command::ConfirmOrder {
                order: text(f, "order")?,
            }
        }
        "refund_order" => {
            only(f, &["order", "cash_fen", "stable_fen"])?;
            Command::RefundOrder {
                order: text(f, "order")?,
                cash_fen: f.number("cash_fen"),
                stable_fen: f.number("stable_fen"),
            }
        }
        "sell" => {
            only(f, &["account", "atoms"])?;
            Command::Sell {
                account: text(f, "account")?,
                atoms: amount(f, "atoms"),
            }
        }
        "convert_to_stable" => {
            only(f, &["account", "atoms"])?;
            Command::ConvertToStable {
                account: text(f, "account")?,
                atoms: amount(f, "atoms"),
            }
        }
        "redeem_stable" => {
            only(f, &["account", "fen"])?;
            Command::RedeemStable {
                account: text(f, "account")?,
                fen: amount(f, "fen"),
            }
        }
        "settle_dividends" => {
            only(f, &["day"])?;
            // A missing or non-string day is not a day: `invalid_day`.
            Command::SettleDividends {
                day: f.string("day").flatten().unwrap_or("").into(),
            }
        }
        "set_rules" => {
            only(f, &["rules"])?;
            Command::SetRules { rules: f.rules() }
        }
        "advance_clock" => {
            only(f, &["at"])?;
            // A missing or non-string instant is not an instant: `invalid_time`.
            Command::AdvanceClock {
                at: f.string("at").flatten().unwrap_or("").into(),
            }
        }
        "set_collectible_policy" => {
            only(f, &["policy"])?;
            Command::SetCollectiblePolicy { policy: f.policy() }
        }
        "mint_collectible" => {
            only(
                f,
                &[
                    "collectible",
                    "account",
                    "series",
                    "atoms",
                    "content_sha256",
                ],
            )?;
            Command::MintCollectible {
                collectible: text(f, "collectible")?,
                account: text(f, "account")?,
                series: text(f, "series")?,
                atoms: amount(f, "atoms"),
                content_sha256: text(f, "content_sha256")?,
            }
        }
        "issue_certificate" => {
            only(f, &["collectible", "order", "series", "content_sha256"])?;
            Command::IssueCertificate {
                collectible: text(f, "collectible")?,
                order: text(f, "order")?,
                series: text(f, "series")?,
                content_sha256: text(f, "content_sha256")?,
            }
        }
        "gift_collectible" => {
            only(f, &["collectible", "to"])?;
            Command::GiftCollectible {
                collectible: text(f, "collectible")?,
                to: text(f, "to")?,
            }
        }
        "dissolve_collectible" => {
            only(f, &["collectible"])?;
            Command::DissolveCollectible {
                collectible: text(f, "collectible")?,
            }
        }
        "export_collectible" => {
            only(f, &["collectible", "venue"])?;
            Command::ExportCollectible {
                collectible: text(f, "collectible")?,
                venue: text(f, "venue")?,
            }
        }
        "return_collectible" => {
            only(f, &["collectible", "to"])?;
            Command::ReturnCollectible {
                collectible: text(f, "collectible")?,
                to: text(f, "to")?,
            }
        }
        _ => return Err(Code::InvalidCommand),
    };
    Ok(command)
}

fn command_from_map(map: &Map<String, Value>) -> Result<Command, Code> {
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or(Code::InvalidCommand)?;
    command_from(map, kind)
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
        assert_eq!(p.id_echo(), Value::from(17));
        assert_eq!(p.id, None);
        let p = parse_command_line(r#"[1]"#);
        assert_eq!(p.id_echo(), Value::Null);
    }
}
