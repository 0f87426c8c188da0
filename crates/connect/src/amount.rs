//! Money as shops write it, to fen exactly: yuan strings (`"59.99"`), yuan as JSON numbers
//! (`59.99`, read from the number's own digits, never through a float), or whole fen.

use serde_json::value::RawValue;

/// The most fen an amount may be (a bound far above any order: 10^15 fen).
pub const FEN_MAX: u64 = 1_000_000_000_000_000;

/// How an amount field counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Yuan,
    Fen,
}

/// Yuan written in decimal (`"59.99"`, `"59.9"`, `"59"`, `"59.990"`) to fen. More than two
/// decimals that are not zeros, a sign, an exponent, spaces, or no digits is an error, in
/// words.
pub fn yuan_to_fen(text: &str) -> Result<u64, String> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return Err(format!(
            "{text:?} is not an amount in yuan (digits, at most one '.')"
        ));
    }
    if frac.len() > 2 && frac[2..].bytes().any(|b| b != b'0') {
        return Err(format!("{text:?} has more than 2 decimals"));
    }
    let mut cents = [b'0'; 2];
    for (slot, b) in cents.iter_mut().zip(frac.bytes()) {
        *slot = b;
    }
    let whole: u128 = parse_digits(whole).ok_or_else(|| too_large(text))?;
    let cents = u128::from(cents[0] - b'0') * 10 + u128::from(cents[1] - b'0');
    let fen = whole
        .checked_mul(100)
        .and_then(|f| f.checked_add(cents))
        .filter(|f| *f <= u128::from(FEN_MAX))
        .ok_or_else(|| too_large(text))?;
    Ok(fen as u64)
}

/// Whole fen written in decimal digits.
pub fn fen_of(text: &str) -> Result<u64, String> {
    if text.is_empty() || !all_digits(text) {
        return Err(format!("{text:?} is not a whole number of fen"));
    }
    parse_digits(text)
        .filter(|f| *f <= u128::from(FEN_MAX))
        .map(|f| f as u64)
        .ok_or_else(|| too_large(text))
}

/// An amount field as JSON: a string or a number, in `unit`.
pub fn amount_of(raw: &RawValue, unit: Unit) -> Result<u64, String> {
    let text = raw.get().trim();
    let digits = match serde_json::from_str::<String>(text) {
        Ok(s) => s,
        Err(_) if text.starts_with('"') => return Err(format!("{text} is not a string")),
        Err(_) => text.to_string(),
    };
    let digits = digits.trim();
    match unit {
        Unit::Yuan => yuan_to_fen(digits),
        Unit::Fen => fen_of(digits),
    }
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_digits(s: &str) -> Option<u128> {
    if s.len() > 30 {
        return None;
    }
    s.bytes().try_fold(0u128, |n, b| {
        n.checked_mul(10)?.checked_add(u128::from(b - b'0'))
    })
}

fn too_large(text: &str) -> String {
    format!("{text:?} is over the largest amount, {FEN_MAX} fen")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn yuan_strings_become_fen_exactly() {
        for (text, fen) in [
            ("59.99", 5999),
            ("59.9", 5990),
            ("59", 5900),
            ("0.01", 1),
            ("0", 0),
            ("59.990", 5999),
            ("10000000000000.00", 1_000_000_000_000_000),
            ("0.07", 7),
        ] {
            assert_eq!(yuan_to_fen(text), Ok(fen), "{text}");
        }
    }

    #[test]
    fn anything_else_is_refused_in_words() {
        for text in [
            "",
            ".5",
            "59.999",
            "-1",
            "+1",
            "1e3",
            " 1",
            "1,00",
            "NaN",
            "59..9",
            "10000000000000.01",
        ] {
            let e = yuan_to_fen(text).unwrap_err();
            assert!(e.contains(&format!("{text:?}")), "{text}: {e}");
        }
        assert!(yuan_to_fen("59.999")
            .unwrap_err()
            .contains("more than 2 decimals"));
    }

    #[test]
    fn json_numbers_are_read_from_their_digits() {
        assert_eq!(amount_of(&raw("59.99"), Unit::Yuan), Ok(5999));
        assert_eq!(amount_of(&raw("\"59.99\""), Unit::Yuan), Ok(5999));
        // 0.1 + 0.2 in floats is 0.30000000000000004: never through a float.
        assert_eq!(amount_of(&raw("0.3"), Unit::Yuan), Ok(30));
        assert_eq!(amount_of(&raw("5999"), Unit::Fen), Ok(5999));
        assert!(amount_of(&raw("59.5"), Unit::Fen).is_err());
        assert!(amount_of(&raw("5.999e1"), Unit::Yuan).is_err());
        assert!(amount_of(&raw("null"), Unit::Yuan).is_err());
    }
}
