//! `jifen-sim`: see the economics before launch.
//!
//! A scenario (arrivals, spending, behaviours, shocks) drives a synthetic population through
//! the same `jifen-core` engine the service runs, in memory. The output is a day-by-day table,
//! per-account results, a summary with outcomes by cohort, and a self-contained HTML report
//! whose first lines say plainly who gained and who did not.

mod decimal;
mod report;
mod rng;
pub mod run;
pub mod scenario;

pub use report::{accounts_csv, cohorts, daily_csv, headlines, report_html, summary_json, Cohort};
pub use run::{simulate, Behaviour, DayRow, Person, SimResult};
pub use scenario::{parse_scenario, Scenario, ScenarioError};
