//! The finance view (docs/FINANCE.md): who is owed, payout batches and their results, the
//! daily liability report and the double-entry export.
//!
//! Payouts are `record_payout` commands (SPEC §14) the server issues under ids fixed by their
//! reference (`jifen:payout:<reference>`), so recording the same payout twice is a retry and
//! changes nothing. A batch is kept in the settings table until its results are in; the results
//! and the payouts they record are written in one transaction.

pub mod daybook;
pub mod export;
pub mod files;
pub mod owed;
pub mod reconcile;
pub mod report;
pub mod results;
pub mod statement;

use jifen_core::Outcome;
use jifen_journal::{KvWrite, PreparedBatch};
use serde_json::json;

use crate::economies::Economy;
use crate::error::{ApiError, ApiResult};
use files::{Cell, Table};
use owed::Batch;
use report::{BookLine, DayRow};

/// Where an economy's payout batches are kept.
pub fn batches_scope(eco: &str) -> String {
    format!("payout-batches:{eco}")
}

/// One payout to record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payout {
    pub account: String,
    pub amount_fen: serde_json::Value,
    pub reference: serde_json::Value,
}

/// The `record_payout` command of a payout, under the id its reference fixes.
pub fn payout_command(p: &Payout) -> String {
    let id = p
        .reference
        .as_str()
        .map(jifen_journal::ids::payout)
        .unwrap_or_else(|| jifen_journal::ids::payout("-"));
    json!({
        "type": "record_payout", "id": id, "account": p.account,
        "amount_fen": p.amount_fen, "reference": p.reference,
    })
    .to_string()
}

/// Submits `commands` (with `kv` written in the same transaction) and waits for their outcomes.
pub async fn submit(
    economy: &Economy,
    commands: &[String],
    kv: Vec<KvWrite>,
) -> ApiResult<Vec<Outcome>> {
    let mut batch =
        PreparedBatch::with_capacity(commands.len(), commands.iter().map(String::len).sum());
    for c in commands {
        if !batch.push_text(c) {
            return Err(ApiError::internal("a payout command is not JSON"));
        }
    }
    batch.write_kv(kv);
    let (tx, rx) = tokio::sync::oneshot::channel();
    economy.journal.submit_prepared(
        batch,
        Box::new(move |_, r| {
            let _ = tx.send(r);
        }),
    );
    let result = rx
        .await
        .map_err(|_| ApiError::unavailable("the economy's writer stopped"))?;
    Ok(result?)
}

/// A batch as a table: what a payment platform's batch upload needs.
pub fn batch_table(b: &Batch) -> Table {
    Table {
        sheet: "payouts",
        columns: vec![
            ("batch_no", "批次号", "Batch no"),
            ("detail_no", "明细号", "Detail no"),
            ("account", "账户", "Account"),
            ("amount_fen", "金额（分）", "Amount (fen)"),
            ("amount_yuan", "金额（元）", "Amount (yuan)"),
            ("payout_identity", "收款身份", "Payout identity"),
            ("remark", "备注", "Remark"),
        ],
        rows: b
            .lines
            .iter()
            .map(|l| {
                vec![
                    Cell::Text(b.batch_no.clone()),
                    Cell::Text(l.detail_no.clone()),
                    Cell::Text(l.account.clone()),
                    Cell::Int(l.amount_fen),
                    Cell::Yuan(l.amount_fen),
                    Cell::Text(l.identity.clone()),
                    Cell::Text(b.remark.clone()),
                ]
            })
            .collect(),
    }
}

/// The liability report as a table, one row per day.
pub fn report_table(rows: &[DayRow]) -> Table {
    let value = |r: &DayRow| serde_json::to_value(r).unwrap_or_default();
    let columns = report_columns();
    let rows = rows
        .iter()
        .map(|r| {
            let v = value(r);
            columns
                .iter()
                .map(|(key, _, _)| match &v[*key] {
                    serde_json::Value::Number(n) if key.ends_with("_fen") => {
                        Cell::Int(n.as_u64().unwrap_or(0))
                    }
                    serde_json::Value::Number(n) => Cell::Int(n.as_u64().unwrap_or(0)),
                    serde_json::Value::String(s) => Cell::Text(s.clone()),
                    other => Cell::Text(other.to_string()),
                })
                .collect()
        })
        .collect();
    Table {
        sheet: "liabilities",
        columns,
        rows,
    }
}

/// The report's columns: key, Chinese and English titles.
pub fn report_columns() -> Vec<(&'static str, &'static str, &'static str)> {
    REPORT_COLUMNS.to_vec()
}

const REPORT_COLUMNS: [(&str, &str, &str); 30] = [
    ("day", "日期", "Day"),
    ("contributions_fen", "订单贡献（分）", "Contributions (fen)"),
    ("to_reserve_fen", "其中入储备金", "of which to the reserve"),
    (
        "to_dividend_pool_fen",
        "其中入分红池",
        "of which to the dividend pool",
    ),
    (
        "to_escrow_fen",
        "稳定积分入托管",
        "Stable points into escrow",
    ),
    ("dividends_paid_fen", "分红发放", "Dividends paid"),
    (
        "fees_kept_fen",
        "手续费留存储备金",
        "Fees kept in the reserve",
    ),
    (
        "payouts_owed_added_fen",
        "新增应付兑付",
        "Payouts owed, added",
    ),
    ("payouts_settled_fen", "当日已付兑付", "Payouts settled"),
    ("atoms_issued", "发行积分（原子）", "Atoms issued"),
    ("atoms_burned", "销毁积分（原子）", "Atoms burned"),
    ("exits", "出局人数", "Exits"),
    ("reserve_fen", "储备金余额", "Reserve"),
    ("dividend_pool_fen", "分红池余额", "Dividend pool"),
    ("escrow_fen", "托管余额", "Escrow"),
    (
        "stable_outstanding_fen",
        "稳定积分负债",
        "Stable points outstanding",
    ),
    ("payouts_owed_fen", "应付兑付余额", "Payouts owed"),
    (
        "paid_out_total_fen",
        "累计兑付（应付+已付）",
        "Paid out to date (owed + settled)",
    ),
    ("settled_total_fen", "累计已付", "Settled to date"),
    (
        "contributions_total_fen",
        "累计贡献",
        "Contributions to date",
    ),
    (
        "circulating_atoms",
        "流通积分（原子）",
        "Atoms in circulation",
    ),
    (
        "closing_price_yuan",
        "收盘价（元/积分）",
        "Closing price (yuan per point)",
    ),
    (
        "closing_price_num_fen",
        "价格分子（分）",
        "Price numerator (fen)",
    ),
    (
        "closing_price_den_atoms",
        "价格分母（原子）",
        "Price denominator (atoms)",
    ),
    (
        "circulating_value_fen",
        "流通积分价值",
        "Value of points in circulation",
    ),
    (
        "quota_cap_fen",
        "剩余额度（上限，非负债）",
        "Outstanding quota (a cap, not a liability)",
    ),
    ("first_seq", "首条日志", "First seq"),
    ("last_seq", "末条日志", "Last seq"),
    ("tree_size", "覆盖的签名树大小", "Covering signed tree size"),
    ("tree_root", "签名树根", "Covering tree root"),
];

pub const LINE_COLUMNS: [(&str, &str, &str); 7] = [
    ("date", "日期", "Date"),
    ("seq", "日志序号", "Seq"),
    ("account_code", "科目代码", "Account code"),
    ("account_name", "科目名称", "Account name"),
    ("debit_fen", "借方（分）", "Debit (fen)"),
    ("credit_fen", "贷方（分）", "Credit (fen)"),
    ("memo", "摘要", "Memo"),
];

/// A date range of the economy's days, checked: `from ≤ to`, at most
/// [`report::REPORT_DAYS_MAX`] days.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub from: jiff::civil::Date,
    pub to: jiff::civil::Date,
}

impl Range {
    pub fn days(&self) -> impl Iterator<Item = jiff::civil::Date> {
        let to = self.to;
        std::iter::successors(Some(self.from), move |d| {
            d.tomorrow().ok().filter(|next| *next <= to)
        })
    }
}

/// The seqs of the range's entries: after `.0`, up to `.1`.
pub(crate) fn seqs_of(
    store: &mut dyn jifen_journal::Store,
    eco: &str,
    days: &report::Days,
    range: Range,
) -> Result<(u64, u64), jifen_journal::JournalError> {
    let head = store.head(eco)?.map_or(0, |e| e.seq);
    let start = days.start_ms(range.from);
    let end = days.start_ms(range.to.tomorrow().unwrap_or(range.to));
    let first = jifen_journal::first_seq_at(store, eco, head, start)?;
    let past = jifen_journal::first_seq_at(store, eco, head, end)?;
    Ok((first - 1, past.saturating_sub(1).max(first - 1)))
}

/// The liability report of `range`: one row per day, quiet days included, each tied to the
/// signed head that covers it. With `live` (the committed state now), from the writer's
/// day-boundary samples when they can say it exactly (see `daybook`); otherwise, or without
/// `live`, by replaying the range's entries. Blocking.
pub fn liability_rows(
    store: &mut dyn jifen_journal::Store,
    eco: &str,
    tz: jiff::tz::TimeZone,
    range: Range,
    heads: &[(u64, String)],
    live: Option<&jifen_journal::Sample>,
) -> Result<(Vec<DayRow>, Source), jifen_journal::JournalError> {
    let days = report::Days::new(tz);
    let from_samples = match live {
        Some(live) => daybook::rows(store, eco, &days, range, live)?,
        None => None,
    };
    let (mut rows, source) = match from_samples {
        Some(rows) => (rows, Source::Stored),
        None => (replayed_rows(store, eco, &days, range)?, Source::Journal),
    };
    for row in &mut rows {
        if let Some((size, root)) = heads.iter().find(|(size, _)| *size >= row.last_seq) {
            if row.last_seq > 0 {
                row.tree_size = *size;
                row.tree_root = root.clone();
            }
        }
    }
    Ok((rows, source))
}

/// Where a report's figures came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// What the writer kept with the journal: the day-boundary samples (the report) or each
    /// commit's lines (the export).
    Stored,
    /// A replay of the journal.
    Journal,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Stored => "stored",
            Source::Journal => "journal",
        }
    }
}

/// The report's rows by replaying the range's entries.
fn replayed_rows(
    store: &mut dyn jifen_journal::Store,
    eco: &str,
    days: &report::Days,
    range: Range,
) -> Result<Vec<DayRow>, jifen_journal::JournalError> {
    let (after, upto) = seqs_of(store, eco, days, range)?;
    let mut open = DayRow::default();
    let mut gather = report::Gather::new(days, true, None);
    jifen_journal::walk(
        store,
        eco,
        (after, upto),
        &|| true,
        &mut |l| open = report::opening(l, after),
        &mut |step, l| gather.entry(step, l),
    )?;
    let mut busy = gather.finish().into_iter().peekable();
    let mut rows = Vec::new();
    for day in range.days() {
        let day = day.to_string();
        let row = match busy.peek() {
            Some(r) if r.day == day => busy.next().unwrap_or_default(),
            _ => report::quiet_day(day, rows.last().unwrap_or(&open)),
        };
        rows.push(row);
    }
    Ok(rows)
}

/// The double-entry export of `range` from the lines the writer stored with each commit
/// (`jifen_journal::postings`), written by `emit`; `false` (part may have been emitted) when
/// the stored lines do not cover the range, as in journals written before them. Blocking.
pub fn stored_book_lines(
    store: &mut dyn jifen_journal::Store,
    eco: &str,
    tz: jiff::tz::TimeZone,
    range: Range,
    accounts: &jifen_core::Accounts,
    emit: &mut dyn FnMut(BookLine),
) -> Result<bool, jifen_journal::JournalError> {
    let days = report::Days::new(tz);
    let (after, upto) = seqs_of(store, eco, &days, range)?;
    let mut next = after + 1;
    let mut whole = true;
    store.postings(eco, after, upto, &mut |row| {
        if row.first_seq > next || !whole {
            whole = false;
            return Ok(());
        }
        next = next.max(row.last_seq + 1);
        let day = days.day_of(row.ts_ms).to_string();
        let lines = jifen_journal::postings::decode(&row).ok_or_else(|| {
            jifen_journal::StoreError::Malformed(format!("postings at {}", row.first_seq))
        })?;
        for p in lines.iter().filter(|p| p.seq > after && p.seq <= upto) {
            emit(report::book_line_of(&day, p.seq, p.kind, &p.line, accounts));
        }
        Ok(())
    })?;
    Ok(whole && next > upto)
}

/// The double-entry export of `range` by replaying it, written by `emit` line by line.
/// Blocking.
pub fn book_lines(
    store: &mut dyn jifen_journal::Store,
    eco: &str,
    tz: jiff::tz::TimeZone,
    range: Range,
    emit: &mut dyn FnMut(BookLine),
) -> Result<(), jifen_journal::JournalError> {
    let days = report::Days::new(tz);
    let (after, upto) = seqs_of(store, eco, &days, range)?;
    let mut gather = report::Gather::new(&days, false, Some(emit));
    jifen_journal::walk(
        store,
        eco,
        (after, upto),
        &|| true,
        &mut |_| {},
        &mut |step, l| gather.entry(step, l),
    )
}
