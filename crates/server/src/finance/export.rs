//! The double-entry export as a file, written line by line as the range replays (a year of a
//! busy economy is millions of lines: they are never all held as values).

use jifen_journal::JournalError;

use super::files::{Cell, Table};
use super::report::BookLine;
use super::{book_lines, Range, LINE_COLUMNS};
use crate::store::StoreHandle;

/// The most lines an XLSX export holds (a sheet holds 1,048,576 rows).
pub const XLSX_LINES_MAX: usize = 1_000_000;

/// The export of `range` as CSV, or XLSX when `xlsx`.
pub fn run(
    store: &StoreHandle,
    eco: &str,
    tz: jiff::tz::TimeZone,
    range: Range,
    xlsx: bool,
) -> Result<Vec<u8>, crate::error::ApiError> {
    let mut own = store.open_own()?;
    if xlsx {
        let mut rows = Vec::new();
        let mut too_many = false;
        book_lines(own.as_mut(), eco, tz, range, &mut |l: BookLine| {
            if rows.len() == XLSX_LINES_MAX {
                too_many = true;
            } else {
                rows.push(row(&l));
            }
        })?;
        if too_many {
            return Err(crate::error::ApiError::invalid(format!(
                "the range has more than {XLSX_LINES_MAX} lines: ask for CSV, or a shorter range"
            )));
        }
        let table = Table {
            sheet: "journal",
            columns: LINE_COLUMNS.to_vec(),
            rows,
        };
        return table.xlsx().map_err(crate::error::ApiError::internal);
    }
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice("\u{feff}".as_bytes());
    out.extend_from_slice(b"date,seq,account_code,account_name,debit_fen,credit_fen,memo\n");
    book_lines(own.as_mut(), eco, tz, range, &mut |l: BookLine| {
        write_csv_line(&mut out, &l)
    })
    .map_err(|e: JournalError| crate::error::ApiError::from(e))?;
    Ok(out)
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
