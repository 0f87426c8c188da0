//! The words the pages show for the daily payment from the pool and for the pool itself. Points
//! are consumer rewards with no financial character (the brief: 不具有金融属性), and Chinese
//! enforcement against 消费增值 schemes read investment words as evidence of an unlicensed
//! securities offer. So the pages default to neutral consumer terms (每日回馈 / daily reward,
//! 回馈池 / reward pool), and an operator may rename them per economy, but never to a word of
//! the forbidden list. The API's field names (`dividend_pool_fen`, …) stay as they are.

use serde::{Deserialize, Serialize};

/// The default terms.
pub const REWARD_ZH: &str = "每日回馈";
pub const REWARD_EN: &str = "daily reward";
pub const POOL_ZH: &str = "回馈池";
pub const POOL_EN: &str = "reward pool";

/// The longest term, in characters.
pub const TERM_CHARS_MAX: usize = 24;

/// Chinese words no term may contain: shares, stock, dividends, yields, wealth management,
/// investment returns.
pub const FORBIDDEN_ZH: [&str; 10] = [
    "股权",
    "股票",
    "股份",
    "原始股",
    "股东",
    "分红",
    "收益率",
    "理财",
    "投资回报",
    "利息",
];

/// English words no term may contain as a word (any case), and phrases it may not contain.
pub const FORBIDDEN_EN_WORDS: [&str; 17] = [
    "equity",
    "equities",
    "stock",
    "stocks",
    "share",
    "shares",
    "shareholder",
    "shareholders",
    "dividend",
    "dividends",
    "yield",
    "yields",
    "roi",
    "invest",
    "investment",
    "investments",
    "interest",
];
pub const FORBIDDEN_EN_PHRASES: [&str; 3] = ["rate of return", "wealth management", "returns"];

/// The operator's terms; `None` keeps the default.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// The daily payment from the pool, in Chinese (default 每日回馈).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_zh: Option<String>,
    /// In English (default "daily reward").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_en: Option<String>,
    /// The pool it is paid from, in Chinese (default 回馈池).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_zh: Option<String>,
    /// In English (default "reward pool").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_en: Option<String>,
}

impl Terms {
    /// The terms the pages show: the operator's, or the defaults.
    pub fn shown(&self) -> serde_json::Value {
        let or = |v: &Option<String>, d: &str| v.clone().unwrap_or_else(|| d.to_string());
        serde_json::json!({
            "reward_zh": or(&self.reward_zh, REWARD_ZH),
            "reward_en": or(&self.reward_en, REWARD_EN),
            "pool_zh": or(&self.pool_zh, POOL_ZH),
            "pool_en": or(&self.pool_en, POOL_EN),
        })
    }

    /// Checks every term set: `Err` names the field and why, in English and Chinese.
    pub fn check(&self) -> Result<(), String> {
        let fields = [
            ("reward_zh", &self.reward_zh),
            ("reward_en", &self.reward_en),
            ("pool_zh", &self.pool_zh),
            ("pool_en", &self.pool_en),
        ];
        for (field, value) in fields {
            if let Some(v) = value {
                check_term(v).map_err(|why| format!("terms.{field}: {why}"))?;
            }
        }
        Ok(())
    }
}

/// Why `term` may not be shown, if it may not.
pub fn check_term(term: &str) -> Result<(), String> {
    let chars = term.chars().count();
    if term.trim().is_empty() || chars > TERM_CHARS_MAX || term.chars().any(char::is_control) {
        return Err(format!(
            "a term is 1 to {TERM_CHARS_MAX} characters, without control characters \
             (名称须为 1 到 {TERM_CHARS_MAX} 个字符)"
        ));
    }
    let lower = term.to_lowercase();
    let word = lower
        .split(|c: char| !c.is_alphanumeric() || !c.is_ascii())
        .find(|w| FORBIDDEN_EN_WORDS.contains(w));
    let found = FORBIDDEN_ZH
        .iter()
        .chain(FORBIDDEN_EN_PHRASES.iter())
        .find(|f| lower.contains(*f))
        .copied()
        .or(word);
    match found {
        Some(f) => Err(format!(
            "{f:?} describes an investment; points are consumer rewards, not shares or returns \
             (“{f}”属于投资用语：积分是消费奖励，不是股权或投资收益)"
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_forbidden_word_is_refused_and_the_defaults_pass() {
        for f in FORBIDDEN_ZH
            .iter()
            .chain(FORBIDDEN_EN_WORDS.iter())
            .chain(FORBIDDEN_EN_PHRASES.iter())
        {
            for term in [f.to_string(), format!("每日{f}"), format!("My {f} Club")] {
                assert!(check_term(&term).is_err(), "{term}");
            }
            assert!(check_term(&f.to_uppercase()).is_err(), "{f}");
        }
        for ok in [
            REWARD_ZH,
            REWARD_EN,
            POOL_ZH,
            POOL_EN,
            "会员回馈",
            "Sharp rewards",
        ] {
            assert_eq!(check_term(ok), Ok(()), "{ok}");
        }
        assert!(check_term("").is_err() && check_term(" ").is_err());
        assert!(check_term(&"回".repeat(TERM_CHARS_MAX + 1)).is_err());
        assert!(check_term("a\u{7}b").is_err());
    }
}
