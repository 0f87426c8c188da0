//! Members imported from CSV (issue 23): one line per consumer, with the columns `account`,
//! `display_name`, `referrer` and `identity` (a header line first; Excel's byte-order mark is
//! allowed). Every line is checked before anything is written, and each bad line is reported
//! with its number, a stable code and words; a file with any bad line writes nothing. A good
//! file becomes one batch of `register_consumer` commands, committed at once, with each display
//! name and identity link written in the same transaction.
//!
//! An identity is `scheme:id` with a connector scheme (`phone:13800138000`,
//! `youzan-open-id:…`), or a bare phone number. Only its keyed hash is kept (see
//! `connectors::Shop::identity_hash`), and linking it means the shop's later orders of that
//! buyer earn for the imported account.

use std::collections::{HashMap, HashSet};

use jifen_connect::Identity;

/// The most lines one file may hold: one batch, committed atomically.
pub const LINES_MAX: usize = jifen_journal::BATCH_COMMANDS_MAX;
/// The most characters of a display name.
pub const DISPLAY_NAME_CHARS_MAX: usize = 32;
/// The most bytes of an identity's id.
const IDENTITY_BYTES_MAX: usize = 128;

/// The codes a bad line is reported with (each has words in the pages' `common.js`).
pub const PROBLEM_CODES: [&str; 8] = [
    "bad_csv",
    "bad_header",
    "bad_account",
    "duplicate_account",
    "unknown_referrer",
    "bad_display_name",
    "bad_identity",
    "duplicate_identity",
];

/// One good line.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub line: usize,
    pub account: String,
    pub display_name: String,
    pub referrer: Option<String>,
    pub identity: Option<Identity>,
}

/// One bad line: its number (the header is line 1), a code of `PROBLEM_CODES`, and words.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Problem {
    pub line: usize,
    pub code: &'static str,
    pub message: String,
}

/// What the economy already holds that a line depends on.
pub trait Existing {
    /// Some(true) for an existing consumer, Some(false) for an existing merchant, None if absent.
    fn account(&self, name: &str) -> Option<bool>;
    /// The keyed hash of an identity, and the account it is linked to already, if any.
    fn identity(&self, identity: &Identity) -> (String, Option<String>);
}

const HEADERS: [[&str; 4]; 2] = [
    ["account", "display_name", "referrer", "identity"],
    ["账户", "显示名", "推荐人", "身份"],
];

fn problem(line: usize, code: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        line,
        code,
        message: message.into(),
    }
}

/// Every line of `text` checked against `existing`: the members, or every problem found.
pub fn check(
    text: &str,
    existing: &dyn Existing,
) -> Result<Vec<(Member, Option<String>)>, Vec<Problem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = reader.records();
    match rows.next() {
        Some(Ok(h)) if HEADERS.iter().any(|want| header_is(&h, want)) => {}
        _ => {
            let want = HEADERS.iter().map(|h| h.join(",")).collect::<Vec<_>>();
            return Err(vec![problem(
                1,
                "bad_header",
                format!("the first line must be {}", want.join(" or ")),
            )]);
        }
    }
    let mut seen = Lines::default();
    let mut problems = Vec::new();
    let mut members = Vec::new();
    for (i, row) in rows.enumerate() {
        let line = i + 2;
        if line > LINES_MAX + 1 {
            problems.push(problem(
                line,
                "bad_csv",
                format!("at most {LINES_MAX} members in one file"),
            ));
            break;
        }
        match row
            .map_err(|e| problem(line, "bad_csv", format!("not a CSV line: {e}")))
            .and_then(|r| seen.member(line, &r, existing))
        {
            Ok(m) => members.push(m),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(members)
    } else {
        Err(problems)
    }
}

fn header_is(row: &csv::StringRecord, want: &[&str; 4]) -> bool {
    row.len() == 4
        && row
            .iter()
            .zip(want)
            .all(|(got, w)| got.trim().eq_ignore_ascii_case(w))
}

/// What earlier lines of the file define.
#[derive(Default)]
struct Lines {
    accounts: HashMap<String, usize>,
    identities: HashSet<String>,
}

impl Lines {
    fn member(
        &mut self,
        line: usize,
        row: &csv::StringRecord,
        existing: &dyn Existing,
    ) -> Result<(Member, Option<String>), Problem> {
        if row.len() != 4 {
            return Err(problem(
                line,
                "bad_csv",
                format!(
                    "{} columns; a line has 4: account, display_name, referrer, identity",
                    row.len()
                ),
            ));
        }
        let field = |i: usize| row.get(i).unwrap_or("").trim();
        let account = field(0);
        if !jifen_core::is_valid_name(account) {
            return Err(problem(
                line,
                "bad_account",
                format!("account {account:?} must be 1 to 64 of A-Z a-z 0-9 _ . : @ -"),
            ));
        }
        if let Some(earlier) = self.accounts.get(account) {
            return Err(problem(
                line,
                "duplicate_account",
                format!("account {account:?} is also on line {earlier}"),
            ));
        }
        if existing.account(account).is_some() {
            return Err(problem(
                line,
                "duplicate_account",
                format!("account {account:?} already exists"),
            ));
        }
        let display_name = field(1);
        if !jifen_core::members::is_valid_text(display_name, DISPLAY_NAME_CHARS_MAX, true) {
            return Err(problem(line, "bad_display_name", format!("the display name must be at most {DISPLAY_NAME_CHARS_MAX} characters, without control characters")));
        }
        let referrer = self.referrer(line, field(2), existing)?;
        let (identity, hash) = self.identity(line, field(3), existing)?;
        self.accounts.insert(account.to_string(), line);
        let member = Member {
            line,
            account: account.into(),
            display_name: display_name.into(),
            referrer,
            identity,
        };
        Ok((member, hash))
    }

    fn referrer(
        &self,
        line: usize,
        name: &str,
        existing: &dyn Existing,
    ) -> Result<Option<String>, Problem> {
        if name.is_empty() {
            return Ok(None);
        }
        let known = self.accounts.contains_key(name) || existing.account(name) == Some(true);
        if !known {
            return Err(problem(
                line,
                "unknown_referrer",
                format!("referrer {name:?} is not a consumer here, nor on an earlier line"),
            ));
        }
        Ok(Some(name.to_string()))
    }

    fn identity(
        &mut self,
        line: usize,
        text: &str,
        existing: &dyn Existing,
    ) -> Result<(Option<Identity>, Option<String>), Problem> {
        if text.is_empty() {
            return Ok((None, None));
        }
        let identity = parse_identity(text).ok_or_else(|| {
            problem(line, "bad_identity", "an identity is scheme:id (phone, shopify-customer, woocommerce-customer, youzan-open-id, weimob-wid, generic) or a phone number")
        })?;
        let (hash, linked) = existing.identity(&identity);
        if linked.is_some() || !self.identities.insert(hash.clone()) {
            return Err(problem(
                line,
                "duplicate_identity",
                "this identity is already linked to an account",
            ));
        }
        Ok((Some(identity), Some(hash)))
    }
}

/// `scheme:id`, or a bare phone number.
pub fn parse_identity(text: &str) -> Option<Identity> {
    if let Some((scheme, id)) = text.split_once(':') {
        let scheme = crate::connectors::SCHEMES
            .into_iter()
            .find(|s| *s == scheme.trim())?;
        let id = id.trim();
        return match scheme {
            "phone" => Identity::phone(id),
            _ => (!id.is_empty()
                && id.len() <= IDENTITY_BYTES_MAX
                && !id.chars().any(char::is_control))
            .then(|| Identity::new(scheme, id)),
        };
    }
    let phone_like = text
        .chars()
        .all(|c| c.is_ascii_digit() || " +-".contains(c))
        && text.chars().filter(char::is_ascii_digit).count() >= 5;
    phone_like.then(|| Identity::phone(text)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;

    impl Existing for Fake {
        fn account(&self, name: &str) -> Option<bool> {
            match name {
                "old" => Some(true),
                "shop" => Some(false),
                _ => None,
            }
        }
        fn identity(&self, identity: &Identity) -> (String, Option<String>) {
            let hash = format!("{}:{}", identity.scheme, identity.id);
            let linked = (identity.id == "13900000000").then(|| "old".to_string());
            (hash, linked)
        }
    }

    #[test]
    fn a_good_file_gives_every_member_in_order() {
        let text = "\u{feff}account,display_name,referrer,identity\n\
                    a1,张三,old,phone:138 0013 8000\n\
                    a2,\"Li, Si\",a1,\n\
                    a3,,,youzan-open-id:oAbC\n";
        let got = check(text, &Fake).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0].0.identity,
            Some(Identity::new("phone", "13800138000"))
        );
        assert_eq!(got[0].1.as_deref(), Some("phone:13800138000"));
        assert_eq!(got[1].0.display_name, "Li, Si");
        assert_eq!(got[1].0.referrer.as_deref(), Some("a1"));
        assert_eq!(
            got[2].0.identity,
            Some(Identity::new("youzan-open-id", "oAbC"))
        );
        assert!(check("账户,显示名,推荐人,身份\nb1,,,\n", &Fake).is_ok());
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number_and_code() {
        let text = "account,display_name,referrer,identity\n\
                    ok1,,,\n\
                    bad name,,,\n\
                    ok1,,,\n\
                    old,,,\n\
                    r1,,later,\n\
                    later,,,\n\
                    n1,这是一个非常非常非常非常非常非常非常非常非常非常长的显示名字超过三十二个字,,\n\
                    i1,,,fax:123\n\
                    i2,,,13900000000\n\
                    i3,,,phone:13700000000\n\
                    i4,,,phone:13700000000\n\
                    short,,\n\
                    m1,,shop,\n";
        let problems = check(text, &Fake).unwrap_err();
        let got: Vec<(usize, &str)> = problems.iter().map(|p| (p.line, p.code)).collect();
        assert_eq!(
            got,
            vec![
                (3, "bad_account"),
                (4, "duplicate_account"),
                (5, "duplicate_account"),
                (6, "unknown_referrer"),
                (8, "bad_display_name"),
                (9, "bad_identity"),
                (10, "duplicate_identity"),
                (12, "duplicate_identity"),
                (13, "bad_csv"),
                (14, "unknown_referrer"),
            ]
        );
        assert!(problems.iter().all(|p| PROBLEM_CODES.contains(&p.code)));
    }

    #[test]
    fn a_missing_or_wrong_header_is_one_problem() {
        let problems = check("a1,,,\n", &Fake).unwrap_err();
        assert_eq!((problems[0].line, problems[0].code), (1, "bad_header"));
        assert_eq!(check("", &Fake).unwrap_err()[0].code, "bad_header");
    }

    #[test]
    fn a_file_over_one_batch_is_refused() {
        let mut text = String::from("account,display_name,referrer,identity\n");
        for i in 0..=LINES_MAX {
            text.push_str(&format!("m{i},,,\n"));
        }
        let problems = check(&text, &Fake).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].line, problems[0].code),
            (LINES_MAX + 2, "bad_csv")
        );
    }
}
