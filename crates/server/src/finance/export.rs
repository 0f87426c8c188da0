//! The double-entry export as a file, written line by line (a year of a busy economy is
//! millions of lines: they are never all held as values), from the lines the writer stored with
//! each commit, or by replaying the range where they do not cover it.

use jifen_journal::JournalError;

use super::files::{Cell, Table};
use super::report::BookLine;
use super::{book_lines, stored_book_lines, Range, Source, LINE_COLUMNS};
use crate::error::ApiError;
use crate::store::StoreHandle;

/// The most lines an XLSX export holds (a sheet holds 1,048,576 rows).
pub const XLSX_LINES_MAX: usize = 1_000_000;

/// How an export is asked for.
pub struct Ask {
    pub range: Range,
    pub xlsx: bool,
    /// Replay the journal even where the stored lines cover the range.
    pub replay: bool,
}

/// The export as CSV, or XLSX, from the stored lines when they cover the range (naming
/// accounts from `accounts`, the committed state), else by replaying. With where it came from.
pub fn run(
    store: &StoreHandle,
    eco: &str,
    tz: jiff::tz::TimeZone,
    ask: Ask,
    accounts: &jifen_core::Accounts,
) -> Result<(Vec<u8>, Source), ApiError> {
    let mut own = store.open_own()?;
    let mut sink = Sink::new(ask.xlsx);
    let stored = !ask.replay
        && stored_book_lines(
            own.as_mut(),
            eco,
            tz.clone(),
            ask.range,
            accounts,
            &mut |l| sink.take(&l),
        )?;
    let source = if stored {
        Source::Stored
    } else {
        sink = Sink::new(ask.xlsx);
        book_lines(own.as_mut(), eco, tz, ask.range, &mut |l| sink.take(&l))
            .map_err(|e: JournalError| ApiError::from(e))?;
        Source::Journal
    };
    Ok((sink.finish()?, source))
}

/// Where the lines go: CSV text, or rows for a sheet.
struct Sink {
    csv: Option<Vec<u8>>,
    rows: Vec<Vec<Cell>>,
    too_many: bool,
}

impl Sink {
    fn new(xlsx: bool) -> Sink {
        let csv = (!xlsx).then(|| {
            let mut out = Vec::with_capacity(1 << 20);
            out.extend_from_slice("\u{feff}".as_bytes());
            out.extend_from_slice(
                b"date,seq,account_code,account_name,debit_fen,credit_fen,memo\n",
            );
            out
        });
        Sink {
            csv,
            rows: Vec::new(),
            too_many: false,
        }
    }

    fn take(&mut self, l: &BookLine) {
        match &mut self.csv {
            Some(out) => write_csv_line(out, l),
            None if self.rows.len() == XLSX_LINES_MAX => self.too_many = true,
            None => self.rows.push(row(l)),
        }
    }

    fn finish(self) -> Result<Vec<u8>, ApiError> {
        if let Some(out) = self.csv {
            return Ok(out);
        }
        if self.too_many {
            return Err(ApiError::invalid(format!(
                "the range has more than {XLSX_LINES_MAX} lines: ask for CSV, or a shorter range"
            )));
        }
        let table = Table {
            sheet: "journal",
            columns: LINE_COLUMNS.to_vec(),
            rows: self.rows,
        };
        table.xlsx().map_err(ApiError::internal)
    }
}

fn row(l: &BookLine) -> Vec<Cell> {
    vec![
        Cell::Text(l.date.clone()),
        Cell::Int(l.seq),
        Cell::Text(l.account_code.into()),
        Cell::Text(l.account_name.into()),
        Cell::Int(l.debit_fen),
        Cell::Int(l.credit_fen),
        Cell::Text(l.memo.clone()),
    ]
}

/// One CSV line. Only the memo and the account name can hold a comma (names of the SPEC
/// pattern hold none, nor a quote), so they alone are quoted.
fn write_csv_line(out: &mut Vec<u8>, l: &BookLine) {
    use std::io::Write;
    let _ = writeln!(
        out,
        "{},{},{},\"{}\",{},{},\"{}\"",
        l.date,
        l.seq,
        l.account_code,
        l.account_name,
        l.debit_fen,
        l.credit_fen,
        l.memo.replace('"', "\"\"")
    );
}
