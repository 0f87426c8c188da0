//! Scenario files (TOML): what the simulated programme looks like.
//!
//! Every error names the key and the line, on one line: an unknown key, a value of the wrong
//! type, or a value that is impossible (a share above 100 %, behaviour shares that do not add
//! up, arrivals that would outgrow the limits).

use std::ops::Range;

use jifen_core::{parse_day, Rules};
use serde::Deserialize;
use toml::Spanned;

/// The longest simulation, in days.
pub const DAYS_MAX: u64 = 3650;
/// The most new consumers on any one day.
pub const ARRIVALS_PER_DAY_MAX: u64 = 1_000_000;
/// The most consumers in one simulation (memory stays in the low gigabytes).
pub const CONSUMERS_MAX: u64 = 20_000_000;
pub const MERCHANTS_MAX: u64 = 10_000;
pub const REPEAT_PURCHASES_MAX: u64 = 1_000;

#[derive(Clone, Debug, PartialEq)]
pub enum Curve {
    Constant,
    /// Arrivals grow by `bps` basis points a day, compounded.
    Growth {
        bps: u64,
    },
    /// Arrivals ramp up linearly to `per_day` on `peak_day`, then fall by `decline_bps` a day.
    Boom {
        peak_day: u64,
        decline_bps: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Spend {
    Fixed {
        fen: u64,
    },
    /// Log-normal around a median, with `sigma_milli / 1000` as the log-space deviation.
    LogNormal {
        median_fen: u64,
        sigma_milli: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Shock {
    pub day: u64,
    /// The share of all holders who sell everything at once on that day.
    pub sell_share_bps: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub days: u64,
    pub seed: u64,
    /// The first day, as `YYYYMMDD`.
    pub start_day: u32,
    pub rules: Rules,
    pub merchants: u64,
    pub redeem_every_days: u64,
    pub curve: Curve,
    pub per_day: u64,
    /// No new consumers from this day on.
    pub stop_day: Option<u64>,
    pub spend: Spend,
    pub repeat_purchases: u64,
    pub repeat_every_days: u64,
    pub holders_bps: u64,
    pub takers_bps: u64,
    pub spenders_bps: u64,
    /// Takers sell once their points are worth this multiple (× 1000) of their reward value.
    pub taker_multiple_milli: u64,
    pub referral_bps: u64,
    pub refund_bps: u64,
    pub shocks: Vec<Shock>,
    /// Fraud actors (`[fraud]`): with them, `jifen simulate` runs the scenario with the risk
    /// controls off and on, and reports what the controls held.
    pub fraud: Option<Fraud>,
    /// Whether the engine's recommended risk rules are on (SPEC §17). Set by the caller for
    /// each run; a scenario file does not name it.
    pub controls: bool,
}

/// The fraud actors of a scenario (issue 24).
#[derive(Clone, Debug, PartialEq)]
pub struct Fraud {
    /// Merchants that order from themselves, through a consumer account carrying the
    /// merchant's own phone and device.
    pub self_dealers: u64,
    pub self_dealer_orders_per_day: u64,
    /// A ring: this many accounts registered behind one referrer on `ring_day`, sharing a few
    /// devices with each other and the referrer, each ordering `ring_orders_each` times.
    pub ring_size: u64,
    pub ring_day: u64,
    pub ring_orders_each: u64,
    /// Consumers who order every day and refund most of it.
    pub refunders: u64,
    pub refunder_orders_per_day: u64,
    /// The day the self-dealers and refunders start.
    pub start_day: u64,
    /// What a fraud order costs (fen).
    pub order_fen: u64,
}

impl Fraud {
    /// How many fraud accounts there are (the ring's referrer among them).
    pub fn accounts(&self) -> u64 {
        self.self_dealers + 1 + self.ring_size + self.refunders
    }
}

impl Scenario {
    /// New consumers expected on `day` (before the integer carry).
    pub fn arrivals_on(&self, day: u64) -> f64 {
        let s = self;
        if s.stop_day.is_some_and(|stop| day >= stop) {
            return 0.0;
        }
        let base = s.per_day as f64;
        match s.curve {
            Curve::Constant => base,
            Curve::Growth { bps } => base * (1.0 + bps as f64 / 10_000.0).powf(day as f64),
            Curve::Boom { peak_day, .. } if day <= peak_day => {
                base * (day + 1) as f64 / (peak_day + 1) as f64
            }
            Curve::Boom {
                peak_day,
                decline_bps,
            } => base * (1.0 - decline_bps as f64 / 10_000.0).powf((day - peak_day) as f64),
        }
    }
}

// ----- the raw file -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<Spanned<String>>,
    days: Spanned<u64>,
    seed: Option<Spanned<u64>>,
    start_date: Option<Spanned<String>>,
    rules: Option<RawRules>,
    merchants: Option<RawMerchants>,
    arrivals: RawArrivals,
    spend: RawSpend,
    behaviour: Option<RawBehaviour>,
    #[serde(default)]
    shocks: Vec<RawShock>,
    fraud: Option<RawFraud>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFraud {
    self_dealers: Option<Spanned<u64>>,
    self_dealer_orders_per_day: Option<Spanned<u64>>,
    ring_size: Option<Spanned<u64>>,
    ring_day: Option<Spanned<u64>>,
    ring_orders_each: Option<Spanned<u64>>,
    refunders: Option<Spanned<u64>>,
    refunder_orders_per_day: Option<Spanned<u64>>,
    start_day: Option<Spanned<u64>>,
    order_fen: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRules {
    initial_price_fen: Option<Spanned<u64>>,
    reserve_bps: Option<Spanned<u64>>,
    reward_bps: Option<Spanned<u64>>,
    referral_bps: Option<Spanned<u64>>,
    dividend_bps: Option<Spanned<u64>>,
    quota_multiplier_bps: Option<Spanned<u64>>,
    sell_fee_bps: Option<Spanned<u64>>,
    convert_fee_bps: Option<Spanned<u64>>,
    issuance_cap_points: Option<Spanned<u64>>,
    exit_enabled: Option<Spanned<bool>>,
    stable_payment_earns: Option<Spanned<bool>>,
    order_max_fen: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMerchants {
    count: Option<Spanned<u64>>,
    redeem_every_days: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArrivals {
    curve: Spanned<String>,
    per_day: Spanned<u64>,
    growth_bps: Option<Spanned<u64>>,
    peak_day: Option<Spanned<u64>>,
    decline_bps: Option<Spanned<u64>>,
    stop_day: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpend {
    distribution: Spanned<String>,
    fen: Spanned<u64>,
    sigma_milli: Option<Spanned<u64>>,
    repeat_purchases: Option<Spanned<u64>>,
    repeat_every_days: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBehaviour {
    holders_bps: Option<Spanned<u64>>,
    takers_bps: Option<Spanned<u64>>,
    spenders_bps: Option<Spanned<u64>>,
    taker_multiple_milli: Option<Spanned<u64>>,
    referral_bps: Option<Spanned<u64>>,
    refund_bps: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShock {
    day: Spanned<u64>,
    sell_share_bps: Spanned<u64>,
}

// ----- errors -----

/// A scenario error: `line` (1-based, 0 when unknown), the key, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.key.is_empty()) {
            (0, true) => write!(f, "{}", self.message),
            (0, false) => write!(f, "key `{}`: {}", self.key, self.message),
            (line, true) => write!(f, "line {line}: {}", self.message),
            (line, false) => write!(f, "line {line}: key `{}`: {}", self.key, self.message),
        }
    }
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

/// The key written on a line: `key = …`, or the table name of `[table]`.
fn key_on_line(text: &str, line: usize) -> String {
    let l = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    if let Some(table) = l.strip_prefix('[') {
        return table
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    l.split('=').next().unwrap_or("").trim().to_string()
}

struct Checker<'a> {
    text: &'a str,
}

impl Checker<'_> {
    fn err(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            line: line_of(self.text, span.start),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn at_most(&self, v: &Spanned<u64>, key: &str, max: u64) -> Result<u64, ScenarioError> {
        if *v.get_ref() > max {
            return Err(self.err(
                v.span(),
                key,
                format!("{} is above the largest allowed, {max}", v.get_ref()),
            ));
        }
        Ok(*v.get_ref())
    }

    fn in_range(
        &self,
        v: &Spanned<u64>,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<u64, ScenarioError> {
        if *v.get_ref() < min {
            return Err(self.err(
                v.span(),
                key,
                format!("{} is below the smallest allowed, {min}", v.get_ref()),
            ));
        }
        self.at_most(v, key, max)
    }

    fn opt(
        &self,
        v: &Option<Spanned<u64>>,
        key: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ScenarioError> {
        match v {
            Some(v) => self.in_range(v, key, min, max),
            None => Ok(default),
        }
    }
}

/// Parses and checks a scenario file.
pub fn parse_scenario(text: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        let key = if line > 0 {
            key_on_line(text, line)
        } else {
            String::new()
        };
        ScenarioError {
            line,
            key,
            message: e.message().replace('\n', " "),
        }
    })?;
    let c = Checker { text };
    let days = c.in_range(&raw.days, "days", 1, DAYS_MAX)?;
    let start_day = match &raw.start_date {
        None => 20260101,
        Some(s) => parse_day(s.get_ref())
            .ok_or_else(|| c.err(s.span(), "start_date", "must be a date YYYY-MM-DD"))?,
    };
    let rules = rules(&c, raw.rules.unwrap_or_default())?;
    let merchants_raw = raw.merchants.unwrap_or_default();
    let merchants = c.opt(&merchants_raw.count, "merchants.count", 1, 1, MERCHANTS_MAX)?;
    let redeem_every_days = c.opt(
        &merchants_raw.redeem_every_days,
        "merchants.redeem_every_days",
        7,
        1,
        DAYS_MAX,
    )?;
    let (per_day, curve, stop_day) = arrivals(&c, &raw.arrivals, days)?;
    let (spend, repeat_purchases, repeat_every_days) = spending(&c, &raw.spend, &rules)?;
    let b = behaviour(&c, raw.behaviour.unwrap_or_default())?;
    let mut shocks = Vec::new();
    for sh in &raw.shocks {
        shocks.push(Shock {
            day: c.in_range(&sh.day, "shocks.day", 0, days - 1)?,
            sell_share_bps: c.in_range(&sh.sell_share_bps, "shocks.sell_share_bps", 0, 10_000)?,
        });
    }
    let scenario = Scenario {
        name: raw
            .name
            .map_or_else(|| "unnamed scenario".to_string(), |n| n.into_inner()),
        days,
        seed: raw.seed.map_or(1, |s| s.into_inner()),
        start_day,
        rules,
        merchants,
        redeem_every_days,
        curve,
        per_day,
        stop_day,
        spend,
        repeat_purchases,
        repeat_every_days,
        holders_bps: b.holders_bps,
        takers_bps: b.takers_bps,
        spenders_bps: b.spenders_bps,
        taker_multiple_milli: b.taker_multiple_milli,
        referral_bps: b.referral_bps,
        refund_bps: b.refund_bps,
        shocks,
        fraud: raw.fraud.map(|f| fraud(&c, &f, days)).transpose()?,
        controls: false,
    };
    check_growth(&scenario, &raw.arrivals, &c)?;
    Ok(scenario)
}

/// `[fraud]`: the fraud actors, each bounded.
fn fraud(c: &Checker, f: &RawFraud, days: u64) -> Result<Fraud, ScenarioError> {
    let last = days - 1;
    Ok(Fraud {
        self_dealers: c.opt(&f.self_dealers, "fraud.self_dealers", 1, 0, 100)?,
        self_dealer_orders_per_day: c.opt(
            &f.self_dealer_orders_per_day,
            "fraud.self_dealer_orders_per_day",
            3,
            0,
            100,
        )?,
        ring_size: c.opt(&f.ring_size, "fraud.ring_size", 50, 0, 10_000)?,
        ring_day: c.opt(&f.ring_day, "fraud.ring_day", 0, 0, last)?,
        ring_orders_each: c.opt(&f.ring_orders_each, "fraud.ring_orders_each", 3, 0, 100)?,
        refunders: c.opt(&f.refunders, "fraud.refunders", 1, 0, 100)?,
        refunder_orders_per_day: c.opt(
            &f.refunder_orders_per_day,
            "fraud.refunder_orders_per_day",
            2,
            0,
            100,
        )?,
        start_day: c.opt(&f.start_day, "fraud.start_day", 0, 0, last)?,
        order_fen: c.opt(&f.order_fen, "fraud.order_fen", 30_000, 1, 1_000_000_000)?,
    })
}

/// `[arrivals]`: new consumers a day, the curve they follow, and the day they stop.
fn arrivals(
    c: &Checker,
    a: &RawArrivals,
    days: u64,
) -> Result<(u64, Curve, Option<u64>), ScenarioError> {
    let per_day = c.in_range(&a.per_day, "arrivals.per_day", 0, ARRIVALS_PER_DAY_MAX)?;
    let curve = match a.curve.get_ref().as_str() {
        "constant" => Curve::Constant,
        "growth" => Curve::Growth {
            bps: c.opt(&a.growth_bps, "arrivals.growth_bps", 100, 0, 10_000)?,
        },
        "boom" => Curve::Boom {
            peak_day: c.opt(&a.peak_day, "arrivals.peak_day", days / 4, 0, DAYS_MAX)?,
            decline_bps: c.opt(&a.decline_bps, "arrivals.decline_bps", 300, 0, 10_000)?,
        },
        other => {
            return Err(c.err(
                a.curve.span(),
                "arrivals.curve",
                format!("{other:?} is not one of \"constant\", \"growth\", \"boom\""),
            ))
        }
    };
    let stop_day = a
        .stop_day
        .as_ref()
        .map(|s| c.in_range(s, "arrivals.stop_day", 0, DAYS_MAX))
        .transpose()?;
    Ok((per_day, curve, stop_day))
}

/// `[spend]`: what an order costs, and how often a consumer buys again.
fn spending(
    c: &Checker,
    s: &RawSpend,
    rules: &jifen_core::Rules,
) -> Result<(Spend, u64, u64), ScenarioError> {
    let fen = c.in_range(&s.fen, "spend.fen", 1, rules.order_max_fen)?;
    let spend = match s.distribution.get_ref().as_str() {
        "fixed" => Spend::Fixed { fen },
        "lognormal" => Spend::LogNormal {
            median_fen: fen,
            sigma_milli: c.opt(&s.sigma_milli, "spend.sigma_milli", 600, 0, 5_000)?,
        },
        other => {
            return Err(c.err(
                s.distribution.span(),
                "spend.distribution",
                format!("{other:?} is not one of \"fixed\", \"lognormal\""),
            ))
        }
    };
    let repeat_purchases = c.opt(
        &s.repeat_purchases,
        "spend.repeat_purchases",
        0,
        0,
        REPEAT_PURCHASES_MAX,
    )?;
    let repeat_every_days = c.opt(
        &s.repeat_every_days,
        "spend.repeat_every_days",
        30,
        1,
        DAYS_MAX,
    )?;
    Ok((spend, repeat_purchases, repeat_every_days))
}

/// `[behaviour]`, checked: the shares of holders, takers and spenders add up to the whole.
struct Behaviour {
    holders_bps: u64,
    takers_bps: u64,
    spenders_bps: u64,
    taker_multiple_milli: u64,
    referral_bps: u64,
    refund_bps: u64,
}

fn behaviour(c: &Checker, b: RawBehaviour) -> Result<Behaviour, ScenarioError> {
    let holders_bps = c.opt(&b.holders_bps, "behaviour.holders_bps", 10_000, 0, 10_000)?;
    let takers_bps = c.opt(&b.takers_bps, "behaviour.takers_bps", 0, 0, 10_000)?;
    let spenders_bps = c.opt(&b.spenders_bps, "behaviour.spenders_bps", 0, 0, 10_000)?;
    if holders_bps + takers_bps + spenders_bps != 10_000 {
        let span = b
            .holders_bps
            .as_ref()
            .or(b.takers_bps.as_ref())
            .or(b.spenders_bps.as_ref())
            .map_or(0..0, |v| v.span());
        return Err(c.err(
            span,
            "behaviour",
            format!(
                "holders_bps + takers_bps + spenders_bps must be 10000, not {}",
                holders_bps + takers_bps + spenders_bps
            ),
        ));
    }
    Ok(Behaviour {
        holders_bps,
        takers_bps,
        spenders_bps,
        taker_multiple_milli: c.opt(
            &b.taker_multiple_milli,
            "behaviour.taker_multiple_milli",
            2_000,
            1,
            1_000_000,
        )?,
        referral_bps: c.opt(&b.referral_bps, "behaviour.referral_bps", 0, 0, 10_000)?,
        refund_bps: c.opt(&b.refund_bps, "behaviour.refund_bps", 0, 0, 10_000)?,
    })
}

/// Arrivals must stay within the limits on every day.
fn check_growth(s: &Scenario, a: &RawArrivals, c: &Checker) -> Result<(), ScenarioError> {
    let mut total = 0f64;
    for day in 0..s.days {
        let n = s.arrivals_on(day);
        if n > ARRIVALS_PER_DAY_MAX as f64 {
            let span = a.growth_bps.as_ref().map_or(a.per_day.span(), |g| g.span());
            return Err(c.err(span, "arrivals", format!("arrivals would reach {n:.0} a day on day {day}; at most {ARRIVALS_PER_DAY_MAX}")));
        }
        total += n;
    }
    if total > CONSUMERS_MAX as f64 {
        return Err(c.err(
            a.per_day.span(),
            "arrivals",
            format!("{total:.0} consumers in all; at most {CONSUMERS_MAX}"),
        ));
    }
    Ok(())
}

fn rules(c: &Checker, r: RawRules) -> Result<Rules, ScenarioError> {
    let d = Rules::default();
    let int = |v: &Option<Spanned<u64>>, default: u64| v.as_ref().map_or(default, |s| *s.get_ref());
    let flag =
        |v: &Option<Spanned<bool>>, default: bool| v.as_ref().map_or(default, |s| *s.get_ref());
    let rules = Rules {
        initial_price_fen: int(&r.initial_price_fen, d.initial_price_fen),
        reserve_bps: int(&r.reserve_bps, d.reserve_bps),
        reward_bps: int(&r.reward_bps, d.reward_bps),
        referral_bps: int(&r.referral_bps, d.referral_bps),
        dividend_bps: int(&r.dividend_bps, d.dividend_bps),
        quota_multiplier_bps: int(&r.quota_multiplier_bps, d.quota_multiplier_bps),
        sell_fee_bps: int(&r.sell_fee_bps, d.sell_fee_bps),
        convert_fee_bps: int(&r.convert_fee_bps, d.convert_fee_bps),
        issuance_cap_points: int(&r.issuance_cap_points, d.issuance_cap_points),
        exit_enabled: flag(&r.exit_enabled, d.exit_enabled),
        stable_payment_earns: flag(&r.stable_payment_earns, d.stable_payment_earns),
        order_max_fen: int(&r.order_max_fen, d.order_max_fen),
    };
    if let Err(why) = rules.check(0) {
        // The message starts with the key it is about; find that key's line.
        let key = why.split([' ', '+']).next().unwrap_or("");
        let span = [
            ("initial_price_fen", &r.initial_price_fen),
            ("reserve_bps", &r.reserve_bps),
            ("reward_bps", &r.reward_bps),
            ("referral_bps", &r.referral_bps),
            ("dividend_bps", &r.dividend_bps),
            ("quota_multiplier_bps", &r.quota_multiplier_bps),
            ("sell_fee_bps", &r.sell_fee_bps),
            ("convert_fee_bps", &r.convert_fee_bps),
            ("issuance_cap_points", &r.issuance_cap_points),
            ("order_max_fen", &r.order_max_fen),
        ]
        .into_iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.as_ref().map(|s| s.span()));
        return Err(match span {
            Some(span) => c.err(span, &format!("rules.{key}"), why),
            None => ScenarioError {
                line: 0,
                key: format!("rules.{key}"),
                message: why.to_string(),
            },
        });
    }
    Ok(rules)
}
