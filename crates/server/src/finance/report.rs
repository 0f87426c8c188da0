//! The daily liability report and the double-entry export (docs/FINANCE.md), both worked out by
//! replaying the journal over the range (`jifen_journal::walk`): every figure is the engine's
//! own, and each day ties to the signed tree head that covers it.

use jifen_core::books::{postings, Book, Line, Why};
use jifen_core::{Command, Ledger, Totals};

use jifen_journal::Step;
use serde::Serialize;

/// The most days one report covers.
pub const REPORT_DAYS_MAX: i64 = 3700;

/// One day of the liability report. Flows are what happened that day; balances are at its
/// close.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DayRow {
    pub day: String,
    /// The first and last journal entries of the day (0 and the previous day's last when none).
    pub first_seq: u64,
    pub last_seq: u64,
    pub entries: u64,
    // Flows.
    pub contributions_fen: u64,
    pub to_reserve_fen: u64,
    pub to_dividend_pool_fen: u64,
    pub to_escrow_fen: u64,
    pub dividends_paid_fen: u64,
    pub fees_kept_fen: u64,
    pub payouts_owed_added_fen: u64,
    pub payouts_settled_fen: u64,
    pub atoms_issued: u64,
    pub atoms_burned: u64,
    pub exits: u64,
    // Balances at the close.
    pub reserve_fen: u64,
    pub dividend_pool_fen: u64,
    pub escrow_fen: u64,
    pub stable_outstanding_fen: u64,
    pub payouts_owed_fen: u64,
    pub paid_out_total_fen: u64,
    pub settled_total_fen: u64,
    pub contributions_total_fen: u64,
    pub circulating_atoms: u64,
    /// The closing price, yuan per point (4 decimals, for people), and the exact fraction.
    pub closing_price_yuan: String,
    pub closing_price_num_fen: u64,
    pub closing_price_den_atoms: u64,
    /// What the points in circulation are worth at the closing price: the reserve.
    pub circulating_value_fen: u64,
    /// Outstanding quota: a cap on what the dividend pool may still pay, not a liability.
    pub quota_cap_fen: u64,
    /// The smallest signed tree head that covers the day's last entry (0 and "" when none is
    /// signed yet), so the day ties to the signed journal.
    pub tree_size: u64,
    pub tree_root: String,
}

/// One line of the double-entry export.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BookLine {
    pub date: String,
    pub seq: u64,
    pub account_code: &'static str,
    pub account_name: &'static str,
    pub debit_fen: u64,
    pub credit_fen: u64,
    pub memo: String,
}

/// The day (economy time zone) of an instant, `YYYY-MM-DD`, and the instant the next day
/// starts (ms).
pub struct Days {
    tz: jiff::tz::TimeZone,
}

impl Days {
    pub fn new(tz: jiff::tz::TimeZone) -> Days {
        Days { tz }
    }

    pub fn day_of(&self, ms: i64) -> jiff::civil::Date {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(self.tz.clone()).date())
            .unwrap_or_default()
    }

    /// When `day` starts, in ms since the epoch.
    pub fn start_ms(&self, day: jiff::civil::Date) -> i64 {
        day.to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(0)
    }
}

/// What one walk over a range gathers: day rows, book lines, or both.
pub struct Gather<'a> {
    pub days: &'a Days,
    pub rows: Option<Vec<DayRow>>,
    pub lines: Option<&'a mut dyn FnMut(BookLine)>,
    open: Option<DayRow>,
    scratch: Vec<Line>,
}

impl<'a> Gather<'a> {
    pub fn new(days: &'a Days, rows: bool, lines: Option<&'a mut dyn FnMut(BookLine)>) -> Self {
        Gather {
            days,
            rows: rows.then(Vec::new),
            lines,
            open: None,
            scratch: Vec::new(),
        }
    }

    /// Takes one entry of the walk.
    pub fn entry(&mut self, step: &Step, after: &Ledger) {
        let day = self.days.day_of(step.ts_ms).to_string();
        if self.rows.is_some() && self.open.as_ref().is_none_or(|r| r.day != day) {
            self.close();
            self.open = Some(DayRow {
                day: day.clone(),
                first_seq: step.seq,
                ..DayRow::default()
            });
        }
        self.scratch.clear();
        if let (true, Some(c)) = (step.accepted, step.command) {
            postings(c, step.before, after.economy(), &mut self.scratch);
        }
        if let Some(row) = self.open.as_mut() {
            row.entries += 1;
            row.last_seq = step.seq;
            add_flows(row, &self.scratch, step.before, after);
            set_balances(row, after);
        }
        if let (Some(emit), Some(c)) = (self.lines.as_mut(), step.command) {
            for l in &self.scratch {
                emit(book_line(&day, step.seq, c, l, after));
            }
        }
    }

    fn close(&mut self) {
        if let (Some(rows), Some(row)) = (self.rows.as_mut(), self.open.take()) {
            rows.push(row);
        }
    }

    /// The day rows gathered, closed.
    pub fn finish(mut self) -> Vec<DayRow> {
        self.close();
        self.rows.unwrap_or_default()
    }
}

fn add_flows(row: &mut DayRow, lines: &[Line], before: &Totals, after: &Ledger) {
    for l in lines {
        let flow = match (l.why, l.book) {
            (Why::Contribution, Book::CashReceived) => &mut row.contributions_fen,
            (Why::Contribution, Book::Reserve) => &mut row.to_reserve_fen,
            (Why::Contribution, Book::DividendPool) => &mut row.to_dividend_pool_fen,
            (Why::StableIntoEscrow, Book::Escrow) => &mut row.to_escrow_fen,
            (Why::Dividends, Book::DividendPool) => &mut row.dividends_paid_fen,
            (Why::Fee, Book::FeeIncome) if l.credit_fen > 0 => &mut row.fees_kept_fen,
            (Why::Sale, Book::PayoutsPayable) => &mut row.payouts_owed_added_fen,
            (Why::Payout, Book::CashPaid) => &mut row.payouts_settled_fen,
            _ => continue,
        };
        *flow += l.debit_fen.max(l.credit_fen);
    }
    let t = after.economy().totals();
    row.atoms_issued += t.issued_atoms.0 - before.issued_atoms.0;
    row.atoms_burned += t.burned_atoms.0 - before.burned_atoms.0;
    row.exits += after.economy().effects().exits.len() as u64;
}

fn set_balances(row: &mut DayRow, after: &Ledger) {
    let e = after.economy();
    let t = e.totals();
    let price = e.price();
    row.reserve_fen = t.reserve_fen.0;
    row.dividend_pool_fen = t.dividend_pool_fen.0;
    row.escrow_fen = t.escrow_fen.0;
    row.stable_outstanding_fen = t.stable_fen.0;
    row.payouts_owed_fen = t.owed_fen.0;
    row.paid_out_total_fen = t.paid_out_fen.0;
    row.settled_total_fen = t.settled_fen.0;
    row.contributions_total_fen = t.contributions_fen.0;
    row.circulating_atoms = t.circulating_atoms.0;
    row.closing_price_yuan = price.yuan_per_point(4);
    row.closing_price_num_fen = price.num_fen;
    row.closing_price_den_atoms = price.den_atoms;
    row.circulating_value_fen = if t.circulating_atoms.0 > 0 {
        t.reserve_fen.0
    } else {
        0
    };
    row.quota_cap_fen = e.quota_total_fen();
}

/// A day with no entries: the balances of the close before it, no flows.
pub fn quiet_day(day: String, previous: &DayRow) -> DayRow {
    DayRow {
        day,
        first_seq: 0,
        last_seq: previous.last_seq,
        entries: 0,
        contributions_fen: 0,
        to_reserve_fen: 0,
        to_dividend_pool_fen: 0,
        to_escrow_fen: 0,
        dividends_paid_fen: 0,
        fees_kept_fen: 0,
        payouts_owed_added_fen: 0,
        payouts_settled_fen: 0,
        atoms_issued: 0,
        atoms_burned: 0,
        exits: 0,
        tree_size: 0,
        tree_root: String::new(),
        ..previous.clone()
    }
}

/// The balances of a ledger as a row with no flows (the close before a range).
pub fn opening(ledger: &Ledger, last_seq: u64) -> DayRow {
    let mut row = DayRow {
        last_seq,
        ..DayRow::default()
    };
    set_balances(&mut row, ledger);
    row
}

fn book_line(day: &str, seq: u64, c: &Command, l: &Line, after: &Ledger) -> BookLine {
    book_line_of(day, seq, c.type_name(), l, after.economy().accounts())
}

/// A line as the export writes it. The memo names the command type, the reason and the account
/// the line is about; the seq leads to the command itself.
pub fn book_line_of(
    day: &str,
    seq: u64,
    kind: &str,
    l: &Line,
    accounts: &jifen_core::Accounts,
) -> BookLine {
    let who = l
        .account
        .filter(|a| (*a as usize) < accounts.len())
        .map(|a| format!(" {}", accounts.get(a).name))
        .unwrap_or_default();
    BookLine {
        date: day.to_string(),
        seq,
        account_code: l.book.code(),
        account_name: l.book.name_en(),
        debit_fen: l.debit_fen,
        credit_fen: l.credit_fen,
        memo: format!("{kind}: {}{who}", l.why.as_str()),
    }
}
