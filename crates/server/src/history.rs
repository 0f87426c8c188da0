//! Price history for charts: the samples the writer records, one point per step.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;

/// Samples read from the store per query.
const SAMPLES_PER_READ: usize = 10_000;
/// The most samples one history request reads in all.
const SAMPLES_READ_MAX: usize = 2_000_000;
/// The most points one answer holds.
pub const POINTS_MAX: u64 = 10_000;

/// One point per step from `from` to `to`: the last sample at or before the step's end.
/// Steps before the first sample are left out.
pub fn bucketed(
    store: &StoreHandle,
    economy: &str,
    from: i64,
    to: i64,
    step_ms: i64,
) -> ApiResult<Vec<Value>> {
    // The sample in force at `from` is the last one before it.
    let mut last = store.with(|s| s.sample_before(economy, from))?;
    let mut points = Vec::new();
    let mut bucket_end = from.saturating_add(step_ms - 1);
    let mut read_from = from;
    let mut seen: Option<(i64, u64)> = None;
    let mut read = 0usize;
    loop {
        let page = store.with(|s| s.samples(economy, read_from, to, SAMPLES_PER_READ))?;
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
