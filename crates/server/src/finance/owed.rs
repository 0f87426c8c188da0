//! Who the brand owes money (SPEC §14), and payout batches: the lines a brand pays through
//! WeChat Pay's batch transfer to change (商家转账到零钱) or a bank batch, kept until their
//! results come back.

use std::collections::HashMap;

use jifen_core::Economy;
use serde::{Deserialize, Serialize};

/// A batch holds at most this many lines (one upload of results records them in one commit).
pub const BATCH_LINES_MAX: usize = 8190;
/// A remark's bound, in characters (WeChat Pay allows 32).
pub const REMARK_CHARS_MAX: usize = 32;
/// The most days an age filter takes (a larger one takes the same accounts).
pub const OLDER_THAN_DAYS_MAX: u64 = 36_500;
/// The remark when none is given.
pub const DEFAULT_REMARK: &str = "积分回购兑付";

/// Which accounts a list or a batch takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// Only accounts owed at least this much.
    pub min_fen: u64,
    /// Only accounts owed since at least this many days (by the economy's clock).
    pub older_than_days: u64,
}

/// One account owed money.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Owed {
    pub account: String,
    pub kind: String,
    pub owed_fen: u64,
    /// Economy clock (seconds) when the debt last rose from zero.
    pub since: i64,
}

/// A page of the accounts owed, in account order after the cursor `after` (an account's
/// position), with the next cursor and the count and sum of every account the filter takes.
pub struct OwedPage {
    pub rows: Vec<Owed>,
    pub next: Option<u64>,
    pub count: u64,
    pub total_fen: u64,
}

/// The page of accounts owed money that `filter` takes.
pub fn owed_page(e: &Economy, filter: Filter, after: Option<u64>, limit: usize) -> OwedPage {
    let days = filter.older_than_days.min(OLDER_THAN_DAYS_MAX) as i64;
    let cutoff = e.clock().saturating_sub(days * 86_400);
    let mut page = OwedPage {
        rows: Vec::new(),
        next: None,
        count: 0,
        total_fen: 0,
    };
    for (id, x) in e.accounts().with_extras() {
        if x.owed_fen == 0 || x.owed_fen < filter.min_fen {
            continue;
        }
        let (a, since, id) = (e.accounts().get(id), x.owed_since, id as usize);
        if filter.older_than_days > 0 && since > cutoff {
            continue;
        }
        page.count += 1;
        page.total_fen += x.owed_fen;
        if after.is_some_and(|after| id as u64 <= after) {
            continue;
        }
        if page.rows.len() == limit {
            page.next.get_or_insert(id as u64 - 1);
            continue;
        }
        page.rows.push(Owed {
            account: a.name.to_string(),
            kind: a.kind.as_str().into(),
            owed_fen: x.owed_fen,
            since,
        });
    }
    page
}

/// One line of a payout batch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BatchLine {
    /// The detail number (商家明细单号): the payout's reference once paid.
    pub detail_no: String,
    pub account: String,
    pub amount_fen: u64,
    /// The account's identity hashes from the connectors' identity table, when it has any.
    pub identity: String,
    /// What the result file said, once uploaded: `paid`, `failed` or `pending`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
}

/// A payout batch, as kept in the store until its results are in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Batch {
    pub batch_no: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub remark: String,
    pub lines: Vec<BatchLine>,
}

impl Batch {
    /// A batch of every account `filter` takes (up to `limit`), each for all it is owed now.
    /// `batch_no` must be 5 to 20 letters and digits, so each detail number (`<batch_no>D` and
    /// five digits) is valid for WeChat Pay and as a SPEC name.
    pub fn of(
        e: &Economy,
        filter: Filter,
        limit: usize,
        batch_no: String,
        created_at: String,
        remark: String,
        identities: &HashMap<String, Vec<String>>,
    ) -> Batch {
        let page = owed_page(e, filter, None, limit);
        let lines = page
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, o)| BatchLine {
                detail_no: format!("{batch_no}D{:05}", i + 1),
                identity: identities
                    .get(&o.account)
                    .map(|h| h.join(" "))
                    .unwrap_or_default(),
                account: o.account,
                amount_fen: o.owed_fen,
                status: String::new(),
                reason: String::new(),
            })
            .collect();
        Batch {
            batch_no,
            created_at,
            remark,
            lines,
        }
    }

    pub fn total_fen(&self) -> u64 {
        self.lines.iter().map(|l| l.amount_fen).sum()
    }
}

/// Fen as yuan with two decimals, exactly: `12345` → `123.45`.
pub fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Whether `remark` may go to the payment platform: at most 32 characters, no control
/// characters, and none of the characters a spreadsheet reads as a formula first.
pub fn remark_ok(remark: &str) -> bool {
    remark.chars().count() <= REMARK_CHARS_MAX
        && !remark.chars().any(char::is_control)
        && !remark.starts_with(['=', '+', '-', '@'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzzer found this: a huge age overflowed the cutoff (a panic, a 500).
    #[test]
    fn any_age_filter_is_safe() {
        let mut e = Economy::new(jifen_core::Rules::default());
        let filter = Filter {
            min_fen: 0,
            older_than_days: 1 << 63,
        };
        assert!(owed_page(&e, filter, None, 10).rows.is_empty());
        e.execute(&jifen_core::Command::AdvanceClock {
            at: "1970-01-01T00:00:01Z".into(),
        })
        .unwrap();
        assert!(owed_page(&e, filter, None, 10).rows.is_empty());
    }

    #[test]
    fn yuan_is_exact() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(12_345), "123.45");
        assert_eq!(yuan(u64::MAX), "184467440737095516.15");
    }

    #[test]
    fn remarks_are_bounded() {
        assert!(remark_ok(DEFAULT_REMARK));
        assert!(!remark_ok(&"x".repeat(33)));
        assert!(!remark_ok("=HYPERLINK(1)"));
        assert!(!remark_ok("a\nb"));
    }
}
