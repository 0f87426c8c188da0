//! The simulator's outputs: `daily.csv`, `accounts.csv`, `summary.json` and `report.html`.
//!
//! Figures are computed in integers and printed as fixed-point text, so the same run gives the
//! same bytes. Charts use floats (they are only pictures).

use std::fmt::Write;

use jifen_core::{format_day, Price};
use serde_json::json;

use crate::decimal;
use crate::run::{points, DayRow, ShockResult, SimResult};

/// A consumer's outcome: what they spent and what came back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Outcome {
    spent_fen: u64,
    reward_value_fen: u64,
    dividends_fen: u64,
    proceeds_fen: u64,
    held_value_fen: u64,
}

impl Outcome {
    fn received_fen(&self) -> u64 {
        self.dividends_fen + self.proceeds_fen + self.held_value_fen
    }

    fn add(&mut self, o: &Outcome) {
        self.spent_fen += o.spent_fen;
        self.reward_value_fen += o.reward_value_fen;
        self.dividends_fen += o.dividends_fen;
        self.proceeds_fen += o.proceeds_fen;
        self.held_value_fen += o.held_value_fen;
    }
}

/// Consumers grouped by the week of their first purchase.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cohort {
    pub week: u64,
    pub consumers: u64,
    pub spent_fen: u64,
    pub reward_value_fen: u64,
    pub dividends_fen: u64,
    pub proceeds_fen: u64,
    pub held_value_fen: u64,
    /// Dividends plus sale proceeds plus the value still held.
    pub received_fen: u64,
}

fn final_price(r: &SimResult) -> Price {
    r.economy.price()
}

fn outcome(r: &SimResult, person: usize) -> Outcome {
    let account = r
        .economy
        .accounts()
        .get((r.scenario.merchants + person as u64) as u32);
    let p = &r.people[person];
    Outcome {
        spent_fen: account.spent_fen,
        reward_value_fen: p.reward_value_fen,
        dividends_fen: account.dividends_fen,
        proceeds_fen: p.proceeds_fen,
        held_value_fen: final_price(r).value_fen(account.atoms),
    }
}

pub fn cohorts(r: &SimResult) -> Vec<Cohort> {
    let mut by_week: Vec<Cohort> = Vec::new();
    for (i, p) in r.people.iter().enumerate() {
        let week = p.first_day as u64 / 7;
        while by_week.len() as u64 <= week {
            let w = by_week.len() as u64;
            by_week.push(Cohort {
                week: w,
                ..Cohort::default()
            });
        }
        let o = outcome(r, i);
        let c = &mut by_week[week as usize];
        c.consumers += 1;
        c.spent_fen += o.spent_fen;
        c.reward_value_fen += o.reward_value_fen;
        c.dividends_fen += o.dividends_fen;
        c.proceeds_fen += o.proceeds_fen;
        c.held_value_fen += o.held_value_fen;
        c.received_fen += o.received_fen();
    }
    by_week.retain(|c| c.consumers > 0);
    by_week
}

/// `a / b` as a percentage with two decimals, in integers (`-` when `b` is zero).
fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        return "-".into();
    }
    let hundredths = (a as u128 * 10_000 + b as u128 / 2) / b as u128;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// `a / b` as a multiple with two decimals.
fn times(a: u64, b: u64) -> String {
    if b == 0 {
        return "-".into();
    }
    let hundredths = (a as u128 * 100 + b as u128 / 2) / b as u128;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

/// A whole number with thousands separators.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Yuan for people: with thousands separators (the CSV files keep plain numbers).
fn money(fen: u64) -> String {
    format!("{}.{:02}", grouped(fen / 100), fen % 100)
}

/// The languages the report speaks: Chinese first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    Zh,
    En,
}

pub fn daily_csv(r: &SimResult) -> String {
    let mut out = String::from(
        "day,date,price_yuan_per_point,price_before_settlement,price_num_fen,price_den_atoms,reserve_fen,circulating_atoms,treasury_atoms,\
         dividend_pool_fen,consumers,new_consumers,orders,refunds,sales_fen,money_in_fen,paid_out_fen,\
         dividends_paid_fen,holders_paid,holders_capped,exits,outstanding_quota_fen,cost_pct_of_sales\n",
    );
    for d in &r.days {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            d.day,
            format_day(d.date),
            d.price().yuan_per_point(4),
            d.price_before_settlement,
            d.price_num_fen,
            d.price_den_atoms,
            d.reserve_fen,
            d.circulating_atoms,
            d.treasury_atoms,
            d.dividend_pool_fen,
            d.consumers,
            d.new_consumers,
            d.orders,
            d.refunds,
            d.sales_fen,
            d.money_in_fen,
            d.paid_out_fen,
            d.dividends_paid_fen,
            d.holders_paid,
            d.holders_capped,
            d.exits,
            d.outstanding_quota_fen,
            pct(d.money_in_total_fen, d.sales_total_fen)
        );
    }
    out
}

pub fn accounts_csv(r: &SimResult) -> String {
    let mut out = String::with_capacity(r.people.len() * 80 + 200);
    out.push_str("account,cohort_week,first_day,behaviour,spent_fen,reward_value_fen,dividends_fen,proceeds_fen,atoms,held_value_fen,stable_fen,quota_fen,exits\n");
    for (i, p) in r.people.iter().enumerate() {
        let a = r
            .economy
            .accounts()
            .get((r.scenario.merchants + i as u64) as u32);
        let o = outcome(r, i);
        // A million rows: the digits are written directly, not through `write!`.
        out.push('u');
        decimal::push(&mut out, i as u64);
        out.push(',');
        decimal::push(&mut out, u64::from(p.first_day / 7));
        out.push(',');
        decimal::push(&mut out, u64::from(p.first_day));
        out.push(',');
        out.push_str(p.behaviour.as_str());
        for field in [
            o.spent_fen,
            o.reward_value_fen,
            o.dividends_fen,
            o.proceeds_fen,
            a.atoms,
            o.held_value_fen,
            a.stable_fen,
            a.quota_fen,
            u64::from(a.exits),
        ] {
            out.push(',');
            decimal::push(&mut out, field);
        }
        out.push('\n');
    }
    out
}

/// The first lines of the report: who gained and who did not, derived from the run.
/// The headlines in English (the terminal's summary and `summary.json`).
pub fn headlines(r: &SimResult) -> Vec<String> {
    headlines_in(r, Lang::En)
}

/// Who gained and who did not, in `lang`.
pub fn headlines_in(r: &SimResult, lang: Lang) -> Vec<String> {
    let s = &r.scenario;
    let last = r.days.last().cloned().unwrap_or_default();
    let first_price = Price::per_point(s.rules.initial_price_fen).yuan_per_point(4);
    let (people, sales, set_aside) = (
        grouped(r.people.len() as u64),
        money(last.sales_total_fen),
        pct(last.money_in_total_fen, last.sales_total_fen),
    );
    let (before, after) = (
        &last.price_before_settlement,
        final_price(r).yuan_per_point(4),
    );
    let mut lines = vec![match lang {
        Lang::Zh => format!("{people} 位消费者在 {} 天内消费 {sales} 元；计划把销售额的 {set_aside}% 存入储备金和回馈池。积分价格从 {first_price} 元升至最后一天订单后的 {before} 元，当天每日回馈结算后为 {after} 元。", s.days),
        Lang::En => format!("{people} consumers spent {sales} yuan over {} days; the programme set aside {set_aside}% of sales for the reserve and the reward pool. The price went from {first_price} to {before} yuan per point after the last day's orders, and to {after} once its daily rewards settled.", s.days),
    }];
    lines.extend(cohort_lines(r, lang));
    lines.push(quota_line(r, &last, lang));
    let exits: u64 = r.days.iter().map(|d| d.exits).sum();
    let rewards = money(r.days.iter().map(|d| d.dividends_paid_fen).sum());
    lines.push(match lang {
        Lang::Zh => format!("共有 {exits} 次持有人的积分价值达到额度而被回购（出局）；累计发放每日回馈 {rewards} 元。"),
        Lang::En => format!("{exits} times a holder's points reached their cap and were bought back (exits); {rewards} yuan of daily rewards were paid in all."),
    });
    lines.extend(r.shocks.iter().map(|sh| shock_line(sh, lang)));
    lines.extend(fraud_lines(r, lang));
    lines
}

/// With fraud actors: what the risk controls held, and what fraud would have drawn without
/// them, and from whom.
fn fraud_lines(r: &SimResult, lang: Lang) -> Vec<String> {
    if r.scenario.fraud.is_none() {
        return Vec::new();
    }
    let t = &r.tally;
    let (fh, fo, hh, ho) = (t.fraud_held, t.fraud_orders, t.honest_held, t.honest_orders);
    let (fp, hp) = (pct(fh, fo), pct(hh, ho));
    let mut lines = vec![match (lang, r.scenario.controls) {
        (Lang::Zh, true) => format!("风控规则开启：扣留了欺诈账户 {fh}/{fo} 笔订单（{fp}%），正常消费者 {hh}/{ho} 笔订单（{hp}%，审核后放行）。"),
        (Lang::En, true) => format!("With the risk controls on, they held {fh} of the fraud actors' {fo} orders ({fp}%) and {hh} of {ho} honest orders ({hp}%, approved on review)."),
        (Lang::Zh, false) => "风控规则关闭。".to_string(),
        (Lang::En, false) => "The risk controls were off.".to_string(),
    }];
    let minted = |t: &crate::run::FraudTally, lang: Lang| {
        let whole = t.fraud_atoms / jifen_core::ATOMS_PER_POINT;
        let cents =
            t.fraud_atoms % jifen_core::ATOMS_PER_POINT / (jifen_core::ATOMS_PER_POINT / 100);
        let pts = format!("{}.{cents:02}", grouped(whole));
        let (value, div) = (money(t.fraud_reward_fen), money(t.fraud_dividends_fen));
        match lang {
            Lang::Zh => format!("欺诈账户获得 {pts} 积分（发放时价值 {value} 元），领取每日回馈 {div} 元"),
            Lang::En => format!("fraud accounts received {pts} points (worth {value} yuan when granted) and {div} yuan of daily rewards"),
        }
    };
    if let Some(off) = &r.without_controls {
        lines.push(match lang {
            Lang::Zh => format!("不开风控时，{}；这些由其他持有人承担：储备金要支撑更多积分，回馈池被更多人分走。开启风控后，{}。", minted(off, lang), minted(t, lang)),
            Lang::En => format!("Without controls, {}; the other holders pay for that: the reserve backs more points and the reward pool is shared among more. With controls, {}.", minted(off, lang), minted(t, lang)),
        });
    }
    lines
}

/// What the first and the last tenth of buyers got back, against what they spent.
fn cohort_lines(r: &SimResult, lang: Lang) -> Vec<String> {
    let n = r.people.len();
    if n == 0 {
        return Vec::new();
    }
    let tenth = n.div_ceil(10);
    let group = |range: std::ops::Range<usize>| {
        let mut o = Outcome::default();
        for i in range {
            o.add(&outcome(r, i));
        }
        o
    };
    let (early, late) = (group(0..tenth), group(n - tenth..n));
    let line = |o: &Outcome, first: bool, day: u32| {
        let (back, x) = (
            pct(o.received_fen(), o.spent_fen),
            times(o.received_fen(), o.reward_value_fen),
        );
        let n10 = grouped(tenth as u64);
        match (lang, first) {
            (Lang::Zh, true) => format!("最早的 10% 买家（{n10} 人，第 {day} 天前到来）拿回了消费额的 {back}%，是所得积分当时价值的 {x} 倍。"),
            (Lang::Zh, false) => format!("最晚的 10% 买家（{n10} 人，第 {day} 天起到来）拿回了消费额的 {back}%，是所得积分当时价值的 {x} 倍。"),
            (Lang::En, true) => format!("The first 10% of buyers ({n10} people, arriving by day {day}) got back {back}% of what they spent: {x}× the value of the points they were given."),
            (Lang::En, false) => format!("The last 10% of buyers ({n10} people, arriving from day {day}) got back {back}% of what they spent: {x}× the value of the points they were given."),
        }
    };
    vec![
        line(&early, true, r.people[tenth - 1].first_day),
        line(&late, false, r.people[n - tenth].first_day),
    ]
}

/// How much of the outstanding cap the reward pool paid (after arrivals stop), or can.
fn quota_line(r: &SimResult, last: &DayRow, lang: Lang) -> String {
    let stop = r
        .scenario
        .stop_day
        .filter(|&d| d > 0 && (d as usize) < r.days.len());
    let (zh_tail, en_tail) = (
        "额度是上限，只从回馈池支付，不是承诺。",
        "A cap is a limit, paid only from the reward pool, not a promise.",
    );
    match (stop, lang) {
        (Some(stop), _) => {
            let outstanding = r.days[stop as usize - 1].outstanding_quota_fen;
            let paid: u64 = r.days[stop as usize..].iter().map(|d| d.dividends_paid_fen).sum();
            let (share, owed) = (pct(paid, outstanding), money(outstanding));
            match lang {
                Lang::Zh => format!("第 {stop} 天起不再有新买家：此后回馈池支付了当天未付额度 {owed} 元中的 {share}%。{zh_tail}"),
                Lang::En => format!("Arrivals stop on day {stop}: from then on the reward pool paid {share}% of the {owed} yuan of caps outstanding that day. {en_tail}"),
            }
        }
        (None, Lang::Zh) => format!(
            "期末尚有 {} 元额度未付，回馈池有 {} 元，为其 {}%。{zh_tail}",
            money(last.outstanding_quota_fen), money(last.dividend_pool_fen), pct(last.dividend_pool_fen, last.outstanding_quota_fen),
        ),
        (None, Lang::En) => format!(
            "At the end, {} yuan of caps is outstanding and the reward pool holds {} yuan, {}% of it. {en_tail}",
            money(last.outstanding_quota_fen), money(last.dividend_pool_fen), pct(last.dividend_pool_fen, last.outstanding_quota_fen),
        ),
    }
}

/// One run on the reserve: who sold, what was paid, and what the price did.
fn shock_line(sh: &ShockResult, lang: Lang) -> String {
    let down = money(sh.reserve_before_fen - sh.reserve_after_fen);
    let (paid, before, after) = (
        money(sh.paid_fen),
        money(sh.reserve_before_fen),
        money(sh.reserve_after_fen),
    );
    let (day, sellers, p0, p1) = (sh.day, sh.sellers, &sh.price_before, &sh.price_after);
    match lang {
        Lang::Zh => {
            let all = if sh.refused == 0 {
                "全部由储备金兑付"
            } else {
                "部分被拒绝"
            };
            format!("第 {day} 天，{sellers} 位持有人同时卖出：{all}（共支付 {paid} 元；储备金从 {before} 元降到 {after} 元，减少 {down} 元，手续费留在储备金中），积分价格从 {p0} 元变为 {p1} 元。")
        }
        Lang::En => {
            let all = if sh.refused == 0 {
                "every one was paid from the reserve"
            } else {
                "some were refused"
            };
            format!("On day {day}, {sellers} holders sold at once: {all} ({paid} yuan paid out; the reserve went from {before} to {after} yuan, down {down} yuan, the fees staying in it), and the price moved from {p0} to {p1} yuan per point.")
        }
    }
}

pub fn summary_json(r: &SimResult) -> String {
    let s = &r.scenario;
    let last = r.days.last().cloned().unwrap_or_default();
    let t = r.economy.totals();
    let cohorts: Vec<_> = cohorts(r)
        .iter()
        .map(|c| {
            json!({
                "week": c.week,
                "consumers": c.consumers,
                "spent_fen": c.spent_fen,
                "reward_value_fen": c.reward_value_fen,
                "dividends_fen": c.dividends_fen,
                "proceeds_fen": c.proceeds_fen,
                "held_value_fen": c.held_value_fen,
                "received_fen": c.received_fen,
                "received_pct_of_spent": pct(c.received_fen, c.spent_fen),
                "received_x_reward_value": times(c.received_fen, c.reward_value_fen),
            })
        })
        .collect();
    let shocks: Vec<_> = r
        .shocks
        .iter()
        .map(|sh| {
            json!({
                "day": sh.day, "sellers": sh.sellers, "refused": sh.refused, "paid_fen": sh.paid_fen,
                "reserve_before_fen": sh.reserve_before_fen, "reserve_after_fen": sh.reserve_after_fen,
                "price_before": sh.price_before, "price_after": sh.price_after,
            })
        })
        .collect();
    let summary = json!({
        "scenario": s.name,
        "seed": r.seed,
        "days": s.days,
        "consumers": r.people.len(),
        "merchants": s.merchants,
        "orders": r.days.iter().map(|d| d.orders).sum::<u64>(),
        "refunds": r.days.iter().map(|d| d.refunds).sum::<u64>(),
        "sales_fen": last.sales_total_fen,
        "money_in_fen": last.money_in_total_fen,
        "cost_pct_of_sales": pct(last.money_in_total_fen, last.sales_total_fen),
        "paid_out_fen": t.paid_out_fen.0,
        "dividends_paid_fen": r.days.iter().map(|d| d.dividends_paid_fen).sum::<u64>(),
        "exits": r.days.iter().map(|d| d.exits).sum::<u64>(),
        "final_price_yuan_per_point": final_price(r).yuan_per_point(4),
        "price_after_last_orders_yuan_per_point": last.price_before_settlement,
        "final_price_exact": [final_price(r).num_fen, final_price(r).den_atoms],
        "reserve_fen": t.reserve_fen.0,
        "dividend_pool_fen": t.dividend_pool_fen.0,
        "circulating_points": points(t.circulating_atoms.0),
        "outstanding_quota_fen": r.economy.quota_total_fen(),
        "rejections": r.rejected,
        "shocks": shocks,
        "fraud": r.scenario.fraud.as_ref().map(|_| json!({
            "controls": r.scenario.controls,
            "with": tally_json(&r.tally),
            "without_controls": r.without_controls.as_ref().map(tally_json),
        })),
        "cohorts": cohorts,
        "headlines": headlines(r),
    });
    let mut text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    text.push('\n');
    text
}

fn tally_json(t: &crate::run::FraudTally) -> serde_json::Value {
    json!({
        "fraud_orders": t.fraud_orders, "fraud_held": t.fraud_held,
        "fraud_held_pct": pct(t.fraud_held, t.fraud_orders),
        "honest_orders": t.honest_orders, "honest_held": t.honest_held,
        "honest_held_pct": pct(t.honest_held, t.honest_orders),
        "fraud_points": points(t.fraud_atoms), "fraud_reward_fen": t.fraud_reward_fen,
        "fraud_dividends_fen": t.fraud_dividends_fen,
    })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const UPLOT_JS: &str = include_str!("../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../assets/uplot/uPlot.min.css");
const REPORT_JS: &str = include_str!("../assets/report.js");
const REPORT_CSS: &str = include_str!("../assets/report.css");

/// The chart data, as JSON for the page's script.
fn chart_data(r: &SimResult) -> serde_json::Value {
    let days: Vec<u64> = r.days.iter().map(|d| d.day).collect();
    let y = |fen: u64| fen as f64 / 100.0;
    let mut paid_out = 0u64;
    let mut dividends = 0u64;
    let (mut cum_paid, mut cum_div) = (Vec::new(), Vec::new());
    for d in &r.days {
        paid_out += d.paid_out_fen;
        dividends += d.dividends_paid_fen;
        cum_paid.push(y(paid_out));
        cum_div.push(y(dividends));
    }
    let cohorts = cohorts(r);
    json!({
        "days": days,
        "price": r.days.iter().map(|d| d.price_num_fen as f64 * 1e6 / d.price_den_atoms.max(1) as f64).collect::<Vec<_>>(),
        "price_before_settlement": r.days.iter().map(|d| d.price_before_settlement.parse::<f64>().unwrap_or(0.0)).collect::<Vec<_>>(),
        "reserve": r.days.iter().map(|d| y(d.reserve_fen)).collect::<Vec<_>>(),
        "money_in": r.days.iter().map(|d| y(d.money_in_total_fen)).collect::<Vec<_>>(),
        "paid_out": cum_paid,
        "dividends": cum_div,
        "quota": r.days.iter().map(|d| y(d.outstanding_quota_fen)).collect::<Vec<_>>(),
        "exits": r.days.iter().map(|d| d.exits).collect::<Vec<_>>(),
        "cost_pct": r.days.iter().map(|d| if d.sales_total_fen == 0 { 0.0 } else { d.money_in_total_fen as f64 * 100.0 / d.sales_total_fen as f64 }).collect::<Vec<_>>(),
        "cohort_week": cohorts.iter().map(|c| c.week).collect::<Vec<_>>(),
        "cohort_spent": cohorts.iter().map(|c| y(c.spent_fen)).collect::<Vec<_>>(),
        "cohort_received": cohorts.iter().map(|c| y(c.received_fen)).collect::<Vec<_>>(),
    })
}

/// Text in both languages; the page shows one (`html[data-lang]`), Chinese first.
fn both(zh: &str, en: &str) -> String {
    format!(
        "<span class=\"zh\" lang=\"zh-CN\">{}</span><span class=\"en\" lang=\"en\">{}</span>",
        escape(zh),
        escape(en)
    )
}

/// A self-contained page: works offline, the chart library and data inlined. It speaks
/// Chinese first, with a switch to English, and fits a 375 px phone.
pub fn report_html(r: &SimResult) -> String {
    let s = &r.scenario;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"zh-CN\" data-lang=\"zh\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>jifen 模拟 simulation: {}</title>\n<style>{UPLOT_CSS}\n{REPORT_CSS}</style>\n</head>\n<body>\n",
        escape(&s.name)
    );
    let (days, start, seed) = (s.days, format_day(s.start_day), r.seed);
    let _ = writeln!(
        html,
        "<header><div class=\"top\"><h1>{}</h1><button type=\"button\" id=\"lang\">{}</button></div><p class=\"meta\">{}</p></header>",
        escape(&s.name),
        both("English", "中文"),
        both(
            &format!("自 {start} 起 {days} 天，随机种子 {seed}。由 jifen 引擎本身模拟：下面每一分钱、每一个积分都按它的精确规则计算。"),
            &format!("{days} days from {start}, seed {seed}. Simulated with the jifen engine itself: every fen and point below went through its exact rules."),
        )
    );
    let _ = writeln!(
        html,
        "<section id=\"headlines\"><h2>{}</h2><ul>",
        both("谁得到了什么", "Who gained and who did not")
    );
    for (zh, en) in headlines_in(r, Lang::Zh)
        .iter()
        .zip(headlines_in(r, Lang::En))
    {
        let _ = writeln!(html, "<li>{}</li>", both(zh, &en));
    }
    html.push_str("</ul></section>\n<section id=\"charts\">\n");
    for (id, zh, en) in CHARTS {
        let _ = writeln!(
            html,
            "<figure><figcaption>{}</figcaption><div class=\"chart\" id=\"{id}\"></div></figure>",
            both(zh, en)
        );
    }
    html.push_str("</section>\n");
    cohort_table(r, &mut html);
    let _ = write!(
        html,
        "<footer><p>{}</p></footer>\n<script>{UPLOT_JS}</script>\n<script>const DATA = {};\n{REPORT_JS}</script>\n</body>\n</html>\n",
        both(
            "积分是由储备金支撑的消费奖励，不是投资。额度是每日回馈的上限，只从回馈池支付，不是承诺。",
            "Points are a loyalty reward backed by the reserve, not an investment. A cap limits the daily rewards, paid only from the reward pool, never a promise."
        ),
        chart_data(r)
    );
    html
}

/// The charts: id, and the caption in each language.
const CHARTS: [(&str, &str, &str); 6] = [
    (
        "chart-price",
        "积分价格（元/积分）与储备金（元）",
        "Price (yuan per point) and reserve (yuan)",
    ),
    (
        "chart-money",
        "存入的钱与付出的钱（元，累计）",
        "Money set aside against money paid out (yuan, cumulative)",
    ),
    (
        "chart-quota",
        "已发每日回馈（累计）与未付额度（元）",
        "Daily rewards paid (cumulative) against outstanding caps (yuan)",
    ),
    ("chart-exits", "每天出局次数", "Exits per day"),
    (
        "chart-cost",
        "计划成本，占销售额 %（累计）",
        "Programme cost, % of sales (cumulative)",
    ),
    (
        "chart-cohorts",
        "按首次购买周分组：消费与所得（元）",
        "Outcomes by cohort: spent against received (yuan), by week of first purchase",
    ),
];

/// The cohort table, scrolling inside its box on a phone.
fn cohort_table(r: &SimResult, html: &mut String) {
    let heads = [
        ("周", "week"),
        ("人数", "consumers"),
        ("消费（元）", "spent (yuan)"),
        ("每日回馈", "daily rewards"),
        ("卖出所得", "sale proceeds"),
        ("仍持有的价值", "value still held"),
        ("所得/消费", "received / spent"),
        ("所得/积分价值", "received / reward value"),
    ];
    let _ = write!(
        html,
        "<section id=\"cohorts\"><h2>{}</h2><div class=\"table-wrap\"><table><thead><tr>",
        both("按周分组的结果", "Outcomes by cohort")
    );
    for (zh, en) in heads {
        let _ = write!(html, "<th>{}</th>", both(zh, en));
    }
    html.push_str("</tr></thead><tbody>\n");
    for c in cohorts(r) {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}×</td></tr>",
            c.week,
            c.consumers,
            money(c.spent_fen),
            money(c.dividends_fen),
            money(c.proceeds_fen),
            money(c.held_value_fen),
            pct(c.received_fen, c.spent_fen),
            times(c.received_fen, c.reward_value_fen)
        );
    }
    html.push_str("</tbody></table></div></section>\n");
}
