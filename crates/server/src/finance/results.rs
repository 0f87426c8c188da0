//! A payment platform's result file for a payout batch (CSV), read into one result per detail
//! number. docs/FINANCE.md lists the column names taken, in Chinese (as WeChat Pay's 转账明细
//! 下载 writes them) and in English.

use std::collections::HashMap;

/// The longest result file taken, in bytes.
pub const RESULT_FILE_BYTES_MAX: usize = 4 << 20;

/// What the platform says of one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Paid,
    Failed,
    Pending,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Paid => "paid",
            Status::Failed => "failed",
            Status::Pending => "pending",
        }
    }

    fn parse(text: &str) -> Option<Status> {
        let t = text.trim().to_ascii_uppercase();
        Some(match t.as_str() {
            "SUCCESS" | "PAID" | "成功" | "已到账" | "转账成功" | "支付成功" => {
                Status::Paid
            }
            "FAIL" | "FAILED" | "CLOSED" | "失败" | "已关闭" | "转账失败" | "退票" => {
                Status::Failed
            }
            "PROCESSING" | "WAIT_PAY" | "INIT" | "PENDING" | "处理中" | "待转账" | "转账中" => {
                Status::Pending
            }
            _ => return None,
        })
    }
}

/// One line of a result file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultLine {
    /// The line's number in the file (the header is line 1).
    pub line: usize,
    pub detail_no: String,
    pub status: Status,
    /// The amount the file states, when it states one.
    pub amount_fen: Option<u64>,
    pub reason: String,
}

const DETAIL: &[&str] = &["detail_no", "out_detail_no", "商家明细单号", "明细单号"];
const STATUS: &[&str] = &["status", "detail_status", "明细状态", "状态", "转账状态"];
const YUAN: &[&str] = &[
    "amount_yuan",
    "amount",
    "转账金额",
    "转账金额(元)",
    "金额(元)",
    "金额",
];
const FEN: &[&str] = &["amount_fen", "转账金额(分)", "金额(分)"];
const REASON: &[&str] = &["reason", "fail_reason", "失败原因"];

/// The column of the header named one of `names`.
fn column(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    header.iter().position(|h| {
        let h = h.trim().trim_start_matches('\u{feff}');
        names.iter().any(|n| h.eq_ignore_ascii_case(n))
    })
}

/// Lines of a file that could not be read: each line's number and why.
pub type Problems = Vec<(usize, String)>;

/// The lines of a result file, or what is wrong with it as a whole. A line that cannot be read
/// is a problem of that line (its number and why), not of the file.
pub fn parse(text: &str) -> Result<(Vec<ResultLine>, Problems), String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("the header cannot be read: {e}"))?
        .clone();
    let detail = column(&header, DETAIL)
        .ok_or("the header has no detail number column (detail_no or 商家明细单号)")?;
    let status =
        column(&header, STATUS).ok_or("the header has no status column (status or 明细状态)")?;
    let (yuan, fen, reason) = (
        column(&header, YUAN),
        column(&header, FEN),
        column(&header, REASON),
    );
    let (mut lines, mut problems) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let n = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push((n, format!("cannot be read: {e}")));
                continue;
            }
        };
        let cell = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim);
        match read_line(n, &cell, detail, status, yuan, fen, reason) {
            Ok(line) => lines.push(line),
            Err(why) => problems.push((n, why)),
        }
    }
    Ok((lines, problems))
}

fn read_line<'a>(
    n: usize,
    cell: &dyn Fn(Option<usize>) -> Option<&'a str>,
    detail: usize,
    status: usize,
    yuan: Option<usize>,
    fen: Option<usize>,
    reason: Option<usize>,
) -> Result<ResultLine, String> {
    let detail_no = cell(Some(detail)).unwrap_or("").to_string();
    if detail_no.is_empty() {
        return Err("no detail number".into());
    }
    let status_text = cell(Some(status)).unwrap_or("");
    let status = Status::parse(status_text)
        .ok_or_else(|| format!("status {status_text:?} is not one this reader knows"))?;
    let amount_fen = match (cell(fen).filter(|t| !t.is_empty()), cell(yuan)) {
        (Some(f), _) => Some(jifen_connect::amount::fen_of(f)?),
        (None, Some(y)) if !y.is_empty() => {
            Some(jifen_connect::amount::yuan_to_fen(&y.replace(',', ""))?)
        }
        _ => None,
    };
    Ok(ResultLine {
        line: n,
        detail_no,
        status,
        amount_fen,
        reason: cell(reason).unwrap_or("").chars().take(200).collect(),
    })
}

/// The last result of each detail number, in file order of first appearance.
pub fn by_detail(lines: Vec<ResultLine>) -> Vec<ResultLine> {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut out: Vec<ResultLine> = Vec::new();
    for l in lines {
        match at.get(&l.detail_no) {
            Some(&i) => out[i] = l,
            None => {
                at.insert(l.detail_no.clone(), out.len());
                out.push(l);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wechat_and_english_headers_are_read() {
        let zh = "\u{feff}商家明细单号,收款用户openid,转账金额,明细状态,失败原因\nB1D00001,o1,12.34,SUCCESS,\nB1D00002,o2,1.00,FAIL,账户异常\n";
        let (lines, problems) = parse(zh).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(lines[0].amount_fen, Some(1234));
        assert_eq!(lines[0].status, Status::Paid);
        assert_eq!(lines[1].status, Status::Failed);
        assert_eq!(lines[1].reason, "账户异常");
        let en = "detail_no,amount_fen,status\nB1D00001,1234,成功\nB1D00002,x,FAIL\n,1,SUCCESS\n";
        let (lines, problems) = parse(en).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].0, 3);
        assert!(parse("a,b\n1,2\n").is_err());
    }
}
