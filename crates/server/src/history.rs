//! Price history for charts: the samples the writer records, one point per step.

use serde_json::{json, Value};

use crate::app::App;
use crate::error::{ApiError, ApiResult};

/// Samples read from the store per query.
const SAMPLES_PER_READ: usize = 10_000;
/// The most samples one history request reads in all.
const SAMPLES_READ_MAX: usize = 2_000_000;

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

/// The longest step, in milliseconds (100 years).
const STEP_MS_MAX: i64 = 36_500 * 86_400_000;

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

/// One point per step from `from` to `to`: the last sample at or before the step's end.
/// Steps before the first sample are left out.
pub fn bucketed(
    app: &App,
    economy: &str,
    from: i64,
    to: i64,
    step_ms: i64,
) -> ApiResult<Vec<Value>> {
    // The sample in force at `from` is the last one before it.
    let mut last = app.with_store(|s| s.sample_before(economy, from))?;
    let mut points = Vec::new();
    let mut bucket_end = from.saturating_add(step_ms - 1);
    let mut read_from = from;
    let mut seen: Option<(i64, u64)> = None;
    let mut read = 0usize;
    loop {
        let page = app.with_store(|s| s.samples(economy, read_from, to, SAMPLES_PER_READ))?;
        let full = page.len() == SAMPLES_PER_READ;
        read += page.len();
        if read > SAMPLES_READ_MAX {
            return Err(ApiError::invalid(
                "the range holds too many samples; narrow it",
            ));
        }
        let mut fresh = 0;
        for s in page {
            if seen.is_some_and(|seen| (s.ts_ms, s.seq) <= seen) {
                continue;
            }
            fresh += 1;
            seen = Some((s.ts_ms, s.seq));
            while s.ts_ms > bucket_end {
                if let Some(l) = &last {
                    points.push(point(bucket_end.min(to), l));
                }
                bucket_end = bucket_end.saturating_add(step_ms);
            }
            last = Some(s);
        }
        if !full {
            break;
        }
        // The next page starts at the last millisecond read (its rows are skipped above), or
        // past it when a whole page fell within that one millisecond.
        read_from = match seen {
            Some((ts, _)) if fresh > 0 => ts,
            _ => read_from + 1,
        };
    }
    loop {
        if let Some(l) = &last {
            points.push(point(bucket_end.min(to), l));
        }
        if bucket_end >= to {
            break;
        }
        bucket_end = bucket_end.saturating_add(step_ms);
    }
    Ok(points)
}

fn point(t_ms: i64, s: &jifen_journal::Sample) -> Value {
    let price = jifen_core::Price {
        num_fen: s.price_num_fen,
        den_atoms: s.price_den_atoms,
    };
    json!({
        "t_ms": t_ms,
        "time": jifen_journal::time::rfc3339_ms(t_ms),
        "seq": s.seq,
        "price_yuan_per_point": price.yuan_per_point(4),
        "reserve_fen": s.reserve_fen,
        "circulating_atoms": s.circulating_atoms,
        "treasury_atoms": s.treasury_atoms,
        "dividend_pool_fen": s.dividend_pool_fen,
    })
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
}
