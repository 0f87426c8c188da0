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

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
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
pub fn headlines(r: &SimResult) -> Vec<String> {
    let s = &r.scenario;
    let last = r.days.last().cloned().unwrap_or_default();
    let first_price = Price::per_point(s.rules.initial_price_fen).yuan_per_point(4);
    let mut lines = vec![format!(
        "{} consumers spent {} yuan over {} days; the programme set aside {}% of sales for the reserve and the dividend pool. The price went from {first_price} to {} yuan per point after the last day's orders, and to {} once its dividends settled.",
        r.people.len(),
        yuan(last.sales_total_fen),
        s.days,
        pct(last.money_in_total_fen, last.sales_total_fen),
        last.price_before_settlement,
        final_price(r).yuan_per_point(4),
    )];
    lines.extend(cohort_lines(r));
    lines.push(quota_line(r, &last));
    let exits: u64 = r.days.iter().map(|d| d.exits).sum();
    let dividends: u64 = r.days.iter().map(|d| d.dividends_paid_fen).sum();
    lines.push(format!(
        "{exits} times a holder's points reached their quota and were bought back (exits); {} yuan of dividends were paid in all.",
        yuan(dividends)
    ));
    lines.extend(r.shocks.iter().map(shock_line));
    lines
}

/// What the first and the last tenth of buyers got back, against what they spent.
fn cohort_lines(r: &SimResult) -> Vec<String> {
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
    vec![
        format!(
            "The first 10% of buyers ({tenth} people, arriving by day {}) got back {}% of what they spent: {}× the value of the points they were given.",
            r.people[tenth - 1].first_day,
            pct(early.received_fen(), early.spent_fen),
            times(early.received_fen(), early.reward_value_fen),
        ),
        format!(
            "The last 10% of buyers ({tenth} people, arriving from day {}) got back {}% of what they spent: {}× the value of the points they were given.",
            r.people[n - tenth].first_day,
            pct(late.received_fen(), late.spent_fen),
            times(late.received_fen(), late.reward_value_fen),
        ),
    ]
}

/// How much of the outstanding quota the dividend pool paid (after arrivals stop), or can.
fn quota_line(r: &SimResult, last: &DayRow) -> String {
    match r
        .scenario
        .stop_day
        .filter(|&d| d > 0 && (d as usize) < r.days.len())
    {
        Some(stop) => {
            let outstanding = r.days[stop as usize - 1].outstanding_quota_fen;
            let paid: u64 = r.days[stop as usize..].iter().map(|d| d.dividends_paid_fen).sum();
            format!(
                "Arrivals stop on day {stop}: from then on the dividend pool paid {}% of the {} yuan of quota outstanding that day. A quota is a cap, paid only from the dividend pool, not a promise.",
                pct(paid, outstanding),
                yuan(outstanding),
            )
        }
        None => format!(
            "At the end, {} yuan of quota is outstanding and the dividend pool holds {} yuan, {}% of it. A quota is a cap, paid only from the dividend pool, not a promise.",
            yuan(last.outstanding_quota_fen),
            yuan(last.dividend_pool_fen),
            pct(last.dividend_pool_fen, last.outstanding_quota_fen),
        ),
    }
}

/// One run on the reserve: who sold, what was paid, and what the price did.
fn shock_line(sh: &ShockResult) -> String {
    let paid_by_reserve = sh.reserve_before_fen - sh.reserve_after_fen;
    let all = if sh.refused == 0 {
        "every one was paid from the reserve"
    } else {
        "some were refused"
    };
    format!(
        "On day {}, {} holders sold at once: {all} ({} yuan paid out; the reserve went from {} to {} yuan, down {} yuan, the fees staying in it), and the price moved from {} to {} yuan per point.",
        sh.day,
        sh.sellers,
        yuan(sh.paid_fen),
        yuan(sh.reserve_before_fen),
        yuan(sh.reserve_after_fen),
        yuan(paid_by_reserve),
        sh.price_before,
        sh.price_after,
    )
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
        "cohorts": cohorts,
        "headlines": headlines(r),
    });
    let mut text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    text.push('\n');
    text
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

/// A self-contained page: works offline, the chart library and data inlined.
pub fn report_html(r: &SimResult) -> String {
    let s = &r.scenario;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>jifen simulation: {}</title>\n<style>{UPLOT_CSS}\n{REPORT_CSS}</style>\n</head>\n<body>\n",
        escape(&s.name)
    );
    let _ = writeln!(
        html,
        "<header><h1>{}</h1><p class=\"meta\">{} days from {}, seed {}. Simulated with the jifen engine itself: every fen and point below went through its exact rules.</p></header>",
        escape(&s.name),
        s.days,
        format_day(s.start_day),
        r.seed
    );
    html.push_str("<section id=\"headlines\"><h2>Who gained and who did not</h2><ul>\n");
    for line in headlines(r) {
        let _ = writeln!(html, "<li>{}</li>", escape(&line));
    }
    html.push_str("</ul></section>\n");
    html.push_str("<section id=\"charts\">\n");
    for (id, title) in [
        ("chart-price", "Price (yuan per point) and reserve (yuan)"),
        (
            "chart-money",
            "Money set aside against money paid out (yuan, cumulative)",
        ),
        (
            "chart-quota",
            "Dividends paid (cumulative) against outstanding quota (yuan)",
        ),
        ("chart-exits", "Exits per day"),
        ("chart-cost", "Programme cost, % of sales (cumulative)"),
        (
            "chart-cohorts",
            "Outcomes by cohort: spent against received (yuan), by week of first purchase",
        ),
    ] {
        let _ = writeln!(html, "<figure><figcaption>{title}</figcaption><div class=\"chart\" id=\"{id}\"></div></figure>");
    }
    html.push_str("</section>\n");
    html.push_str("<section id=\"cohorts\"><h2>Outcomes by cohort</h2><table><thead><tr><th>week</th><th>consumers</th><th>spent (yuan)</th><th>dividends</th><th>sale proceeds</th><th>value still held</th><th>received / spent</th><th>received / reward value</th></tr></thead><tbody>\n");
    for c in cohorts(r) {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}×</td></tr>",
            c.week,
            c.consumers,
            yuan(c.spent_fen),
            yuan(c.dividends_fen),
            yuan(c.proceeds_fen),
            yuan(c.held_value_fen),
            pct(c.received_fen, c.spent_fen),
            times(c.received_fen, c.reward_value_fen)
        );
    }
    html.push_str("</tbody></table></section>\n");
    let _ = write!(
        html,
        "<footer><p>Points are a loyalty reward backed by the reserve, not an investment. A quota is a cap on dividends, paid only from the dividend pool, never a promise.</p></footer>\n<script>{UPLOT_JS}</script>\n<script>const DATA = {};\n{REPORT_JS}</script>\n</body>\n</html>\n",
        chart_data(r)
    );
    html
}
