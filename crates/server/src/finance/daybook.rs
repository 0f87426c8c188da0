//! The liability report from the writer's samples: the writer samples the state exactly at
//! every quarter-hour boundary (so at every midnight of every time zone), with the running totals
//! of `jifen_core::Flows`, so a day's row is the difference of two samples. This reads two rows
//! and one journal block per day instead of replaying the day's entries. When a boundary's
//! sample is missing, stale (a crash lost it) or from before the finance figures, it answers
//! `None` and the caller replays the journal instead.

use jifen_journal::{JournalError, Sample, Store};

use super::report::{DayRow, Days};
use super::Range;

/// The state just before `boundary_ms`, from the samples; the live state when nothing was
/// committed since. `None` when the samples cannot say exactly.
fn close_at(
    store: &mut dyn Store,
    eco: &str,
    boundary_ms: i64,
    live: &Sample,
) -> Result<Option<Sample>, JournalError> {
    if live.ts_ms < boundary_ms {
        return Ok(Some(*live));
    }
    let Some(s) = store.sample_before(eco, boundary_ms)? else {
        // Nothing before the boundary: the empty economy, unless entries were committed then.
        let first = store.entry(eco, 1)?;
        return Ok(first.filter(|e| e.ts_ms >= boundary_ms).map(|_| Sample {
            finance: true,
            ..Sample::default()
        }));
    };
    if !s.finance {
        return Ok(None);
    }
    // Exact only when the next entry is past the boundary.
    let next = store.entry(eco, s.seq + 1)?;
    Ok(next.is_none_or(|e| e.ts_ms >= boundary_ms).then_some(s))
}

/// The report's rows from the samples, or `None` when they cannot give it exactly.
pub fn rows(
    store: &mut dyn Store,
    eco: &str,
    days: &Days,
    range: Range,
    live: &Sample,
) -> Result<Option<Vec<DayRow>>, JournalError> {
    let Some(mut open) = close_at(store, eco, days.start_ms(range.from), live)? else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    for day in range.days() {
        let end = days.start_ms(day.tomorrow().unwrap_or(day));
        let Some(close) = close_at(store, eco, end, live)? else {
            return Ok(None);
        };
        rows.push(row(day.to_string(), &open, &close));
        open = close;
    }
    Ok(Some(rows))
}

/// A day's row from the samples at its start and its end.
fn row(day: String, open: &Sample, close: &Sample) -> DayRow {
    let (f, g) = (&close.flows, &open.flows);
    let entries = close.seq - open.seq;
    let price = jifen_core::Price {
        num_fen: close.price_num_fen,
        den_atoms: close.price_den_atoms.max(1),
    };
    DayRow {
        day,
        first_seq: if entries > 0 { open.seq + 1 } else { 0 },
        last_seq: close.seq,
        entries,
        contributions_fen: close.contributions_fen - open.contributions_fen,
        to_reserve_fen: f.to_reserve_fen - g.to_reserve_fen,
        to_dividend_pool_fen: f.to_dividend_pool_fen - g.to_dividend_pool_fen,
        to_escrow_fen: f.to_escrow_fen - g.to_escrow_fen,
        dividends_paid_fen: f.dividends_paid_fen - g.dividends_paid_fen,
        fees_kept_fen: f.fees_kept_fen - g.fees_kept_fen,
        payouts_owed_added_fen: f.owed_added_fen - g.owed_added_fen,
        payouts_settled_fen: close.settled_fen - open.settled_fen,
        atoms_issued: close.issued_atoms - open.issued_atoms,
        atoms_burned: close.burned_atoms - open.burned_atoms,
        exits: close.exits - open.exits,
        reserve_fen: close.reserve_fen,
        dividend_pool_fen: close.dividend_pool_fen,
        escrow_fen: close.escrow_fen,
        stable_outstanding_fen: close.stable_fen,
        payouts_owed_fen: close.owed_fen,
        paid_out_total_fen: close.paid_out_fen,
        settled_total_fen: close.settled_fen,
        contributions_total_fen: close.contributions_fen,
        circulating_atoms: close.circulating_atoms,
        closing_price_yuan: price.yuan_per_point(4),
        closing_price_num_fen: price.num_fen,
        closing_price_den_atoms: price.den_atoms,
        circulating_value_fen: if close.circulating_atoms > 0 {
            close.reserve_fen
        } else {
            0
        },
        quota_cap_fen: close.quota_fen,
        tree_size: 0,
        tree_root: String::new(),
    }
}
