//! Tables as files for finance teams: CSV (UTF-8 with a byte-order mark, so spreadsheet programs
//! read Chinese headers right) and XLSX (`rust_xlsxwriter`). A fen column is an exact integer;
//! a yuan column is the same amount for people (its exact value is the fen column / 100).

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(u64),
    /// Fen shown as yuan with two decimals.
    Yuan(u64),
}

impl Cell {
    fn csv_text(&self) -> String {
        match self {
            Cell::Text(t) => guard_formula(t),
            Cell::Int(n) => n.to_string(),
            Cell::Yuan(f) => super::owed::yuan(*f),
        }
    }
}

/// A cell a spreadsheet would run as a formula is written with a leading apostrophe.
fn guard_formula(t: &str) -> String {
    if t.starts_with(['=', '+', '-', '@']) {
        format!("'{t}")
    } else {
        t.to_string()
    }
}

/// A table: each column's key (the CSV header), Chinese and English title (the XLSX header),
/// and rows.
pub struct Table {
    pub sheet: &'static str,
    pub columns: Vec<(&'static str, &'static str, &'static str)>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// CSV: a byte-order mark, the keys as the header, one line per row.
    pub fn csv(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.rows.len() * 64);
        out.extend_from_slice("\u{feff}".as_bytes());
        let mut w = csv::Writer::from_writer(out);
        let _ = w.write_record(self.columns.iter().map(|c| c.0));
        for row in &self.rows {
            let _ = w.write_record(row.iter().map(Cell::csv_text));
        }
        w.into_inner().unwrap_or_default()
    }

    /// XLSX: one sheet, a header row of "中文 / English" titles, then the rows.
    pub fn xlsx(&self) -> Result<Vec<u8>, XlsxError> {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.set_name(self.sheet)?;
        let bold = Format::new().set_bold();
        let yuan = Format::new().set_num_format("0.00");
        for (c, (_, zh, en)) in self.columns.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, format!("{zh} / {en}"), &bold)?;
            sheet.set_column_width(c as u16, (zh.chars().count() * 2 + en.len() + 3) as f64)?;
        }
        for (r, row) in self.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(t) => sheet.write_string(r, c, t)?,
                    Cell::Int(n) => sheet.write_number(r, c, *n as f64)?,
                    Cell::Yuan(f) => {
                        let text = super::owed::yuan(*f);
                        let value: f64 = text.parse().unwrap_or(0.0);
                        sheet.write_number_with_format(r, c, value, &yuan)?
                    }
                };
            }
        }
        sheet.set_freeze_panes(1, 0)?;
        book.save_to_buffer()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_guards() {
        let t = Table {
            sheet: "t",
            columns: vec![("a", "甲", "A"), ("b", "乙", "B")],
            rows: vec![
                vec![Cell::Text("x,y".into()), Cell::Yuan(1234)],
                vec![Cell::Text("=1+1".into()), Cell::Int(7)],
            ],
        };
        let text = String::from_utf8(t.csv()).unwrap();
        assert_eq!(text, "\u{feff}a,b\n\"x,y\",12.34\n'=1+1,7\n");
        assert!(t.xlsx().unwrap().starts_with(b"PK"));
    }
}
