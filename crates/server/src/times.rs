//! Times as the API takes and gives them: RFC 3339 or milliseconds, steps like `15m`, and the
//! local days of an economy's time zone.

use crate::error::{ApiError, ApiResult};

/// The longest step, in milliseconds (100 years).
const STEP_MS_MAX: i64 = 36_500 * 86_400_000;

/// An RFC 3339 time, to milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    let ts: jiff::Timestamp = text.parse().ok()?;
    Some(ts.as_millisecond())
}

/// A `from` or `to` query value: RFC 3339, or milliseconds since the epoch.
pub fn parse_time_param(text: &str) -> ApiResult<i64> {
    text.parse::<i64>()
        .ok()
        .or_else(|| parse_time(text))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{text:?} is neither an RFC 3339 time nor milliseconds since the epoch"
            ))
        })
}

/// A step: seconds, or a number followed by `s`, `m`, `h` or `d`. One second to 100 years.
pub fn parse_step(text: &str) -> ApiResult<i64> {
    let bad = || ApiError::invalid(format!("step {text:?} must be like 60, 15m, 1h or 1d"));
    let (digits, unit_ms) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1000),
        Some((i, 'm')) => (&text[..i], 60_000),
        Some((i, 'h')) => (&text[..i], 3_600_000),
        Some((i, 'd')) => (&text[..i], 86_400_000),
        _ => (text, 1000),
    };
    let n: i64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(unit_ms)
        .filter(|ms| (1000..=STEP_MS_MAX).contains(ms))
        .ok_or_else(bad)
}

/// The time zone an economy keeps its days in.
pub fn time_zone(name: &str) -> ApiResult<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name).map_err(ApiError::internal)
}

/// Whether `name` is a time zone this server knows.
pub fn is_time_zone(name: &str) -> bool {
    jifen_journal::is_valid_timezone(name) && jiff::tz::TimeZone::get(name).is_ok()
}

/// The start of the local day holding `ms`, and that day, in time zone `tz`.
pub fn day_start(tz: &jiff::tz::TimeZone, ms: i64) -> ApiResult<(i64, jiff::civil::Date)> {
    let zoned = jiff::Timestamp::from_millisecond(ms)
        .map_err(ApiError::internal)?
        .to_zoned(tz.clone());
    let start = zoned.start_of_day().map_err(ApiError::internal)?;
    Ok((start.timestamp().as_millisecond(), zoned.date()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(parse_step("60").unwrap(), 60_000);
        assert_eq!(parse_step("15m").unwrap(), 900_000);
        assert_eq!(parse_step("1d").unwrap(), 86_400_000);
        for bad in ["0", "-5", "x", "", "999999999999999999d", "36501d"] {
            assert!(parse_step(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_rfc_3339_or_milliseconds() {
        assert_eq!(parse_time_param("1000").unwrap(), 1000);
        assert_eq!(parse_time_param("1970-01-01T00:00:01Z").unwrap(), 1000);
        let e = parse_time_param("yesterday").unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }

    #[test]
    fn local_days_start_at_local_midnight() {
        let tz = time_zone("Asia/Shanghai").unwrap();
        // 2026-12-04T01:00:00+08:00 is 2026-12-03T17:00:00Z.
        let ms = parse_time("2026-12-03T17:00:00Z").unwrap();
        let (start, day) = day_start(&tz, ms).unwrap();
        assert_eq!(day.to_string(), "2026-12-04");
        assert_eq!(start, parse_time("2026-12-03T16:00:00Z").unwrap());
        assert!(is_time_zone("UTC") && !is_time_zone("Mars/Olympus"));
    }
}
