//! The simulation: synthetic consumers, driven through the real `jifen-core` engine, one
//! command at a time. The behaviour model uses floats (arrival curves, log-normal spending);
//! every amount of money and points goes through the engine's exact arithmetic.

use jifen_core::{cmp_fraction, AccountId, Command, Economy, Price, Soon};

mod fraud;
pub use crate::decimal::points;
pub use fraud::FraudTally;
use fraud::{Actors as _, Host};

use crate::decimal::name;
use crate::rng::Rng;
use crate::scenario::{Scenario, Spend};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Never sells.
    Holder,
    /// Sells everything once the points are worth a multiple of their reward value.
    Taker,
    /// Converts points to stable points and spends them at merchants.
    Spender,
}

impl Behaviour {
    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::Holder => "holder",
            Behaviour::Taker => "taker",
            Behaviour::Spender => "spender",
        }
    }
}

/// One simulated consumer, beside its engine account.
#[derive(Clone, Debug)]
pub struct Person {
    pub behaviour: Behaviour,
    /// The day of the first purchase (the day they arrived).
    pub first_day: u32,
    /// The value of every point granted to them, at the price of the day it was granted.
    pub reward_value_fen: u64,
    /// What selling, converting and exits paid them (net of fees).
    pub proceeds_fen: u64,
    /// Purchases attempted so far.
    pub purchases: u32,
}

/// One simulated day, after its settlement.
#[derive(Clone, Debug, Default)]
pub struct DayRow {
    pub day: u64,
    /// `YYYYMMDD`.
    pub date: u32,
    pub price_num_fen: u64,
    pub price_den_atoms: u64,
    /// The price after the day's orders and sales, before its dividends settle (settling can
    /// cause exits, whose fees raise the price further).
    pub price_before_settlement: String,
    pub reserve_fen: u64,
    pub circulating_atoms: u64,
    pub treasury_atoms: u64,
    pub dividend_pool_fen: u64,
    pub consumers: u64,
    pub new_consumers: u64,
    pub orders: u64,
    pub refunds: u64,
    pub sales_fen: u64,
    /// Money set aside today: the reserve and dividend pool shares of confirmed sales.
    pub money_in_fen: u64,
    /// Cash paid to sellers today (sales and exits).
    pub paid_out_fen: u64,
    pub dividends_paid_fen: u64,
    pub holders_paid: u64,
    pub holders_capped: u64,
    pub exits: u64,
    pub outstanding_quota_fen: u64,
    pub sales_total_fen: u64,
    pub money_in_total_fen: u64,
}

impl DayRow {
    pub fn price(&self) -> Price {
        Price {
            num_fen: self.price_num_fen,
            den_atoms: self.price_den_atoms,
        }
    }
}

/// A run on the reserve (a shock): who sold and whether each was paid.
#[derive(Clone, Debug, Default)]
pub struct ShockResult {
    pub day: u64,
    pub sellers: u64,
    /// Sales the engine refused (none, when every seller is paid).
    pub refused: u64,
    pub paid_fen: u64,
    pub reserve_before_fen: u64,
    pub reserve_after_fen: u64,
    pub price_before: String,
    pub price_after: String,
}

pub struct SimResult {
    pub scenario: Scenario,
    pub seed: u64,
    pub days: Vec<DayRow>,
    pub people: Vec<Person>,
    pub economy: Economy,
    pub shocks: Vec<ShockResult>,
    /// Rejections by code (refunds of small orders, redemptions past the cap, …).
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    /// Every command run, with its day (`YYYYMMDD`), when the run was asked to keep them.
    pub commands: Vec<(u32, Command)>,
    /// With fraud actors: the orders the controls held, and what fraud drew.
    pub tally: FraudTally,
    /// The same run's tally with the controls off, when the caller ran it (`jifen simulate`
    /// does for a scenario with fraud actors).
    pub without_controls: Option<FraudTally>,
}

/// A taker's target: it sells everything once `price.value_fen(atoms) × 1000 ≥ multiple ×
/// reward`, that is once the price reaches `fen / atoms` with `fen = ⌈multiple × reward /
/// 1000⌉`. Ordered by that price, then by person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    fen: u64,
    atoms: u64,
    reward_fen: u64,
    person: u32,
}

impl Ord for Target {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_fraction(self.fen, self.atoms, other.fen, other.atoms)
            .then(self.person.cmp(&other.person))
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The takers' targets, lowest first. A taker's target moves only when it is granted points
/// (which changes both its points and their reward value), and then a new target is pushed;
/// the old one is recognised by its stale figures when it comes up. So a day costs the takers
/// who sell or were granted points, not a pass over every taker.
#[derive(Default)]
struct Takers {
    targets: std::collections::BinaryHeap<std::cmp::Reverse<Target>>,
}

impl Takers {
    fn watch(&mut self, person: usize, atoms: u64, p: &Person, multiple_milli: u64) {
        if atoms == 0 {
            return;
        }
        let fen = (multiple_milli as u128 * p.reward_value_fen as u128).div_ceil(1000);
        self.targets.push(std::cmp::Reverse(Target {
            fen: u64::try_from(fen).unwrap_or(u64::MAX),
            atoms,
            reward_fen: p.reward_value_fen,
            person: person as u32,
        }));
    }

    /// The lowest target at or below `price`, taken out.
    fn next_reached(&mut self, price: Price) -> Option<Target> {
        let top = self.targets.peek()?.0;
        let reached = cmp_fraction(price.num_fen, price.den_atoms, top.fen, top.atoms).is_ge();
        reached.then(|| self.targets.pop().map(|t| t.0)).flatten()
    }
}

/// New consumers on each day, whole: the day's expected arrivals plus the fraction carried
/// from the days before, rounded down.
fn arrivals_by_day(s: &Scenario) -> Vec<u64> {
    let mut carry = 0f64;
    (0..s.days)
        .map(|day| {
            carry += s.arrivals_on(day);
            let arrivals = carry.floor();
            carry -= arrivals;
            arrivals as u64
        })
        .collect()
}

/// The date `days` after `start` (both `YYYYMMDD`).
pub fn add_days(start: u32, days: u64) -> u32 {
    let (y, m, d) = (start / 10_000, start / 100 % 100, start % 100);
    let epoch_days = jifen_core::days_from_civil(y as i64, m, d) + days as i64;
    let (y, m, d) = jifen_core::civil_from_days(epoch_days);
    (y as u32) * 10_000 + m * 100 + d
}

/// How many purchases ahead the engine is told which table slots will be needed.
const HINT_SLOTS_AHEAD: usize = 16;
/// How many purchases ahead it is told which accounts (their slots were hinted before).
const HINT_ACCOUNTS_AHEAD: usize = 4;

struct Sim<'a> {
    s: &'a Scenario,
    e: Economy,
    rng: Rng,
    people: Vec<Person>,
    takers: Takers,
    /// Repeat purchases due, by day.
    due: Vec<Vec<u32>>,
    orders: u64,
    today: DayRow,
    rejected: std::collections::BTreeMap<&'static str, u64>,
    /// `absorb`'s list of (account, reward value, sale proceeds), kept for reuse.
    credits: Vec<(AccountId, u64, u64)>,
    /// Every command run, with its day, when asked for.
    log: Option<Vec<(u32, Command)>>,
    tally: FraudTally,
    /// How many fraud accounts follow the merchants (people's accounts come after them).
    fraud_accounts: u64,
}

impl Sim<'_> {
    fn merchants(&self) -> u64 {
        self.s.merchants
    }

    fn person_of(&self, account: AccountId) -> Option<usize> {
        (account as u64)
            .checked_sub(self.merchants() + self.fraud_accounts)
            .map(|i| i as usize)
    }

    fn account_of(&self, person: usize) -> AccountId {
        (self.merchants() + self.fraud_accounts + person as u64) as AccountId
    }

    /// Runs a command; an expected rejection is counted, anything else returns false.
    fn run(&mut self, command: &Command) -> bool {
        if let Some(log) = self.log.as_mut() {
            log.push((self.today.date, command.clone()));
        }
        match self.e.execute(command) {
            Ok(()) => {
                self.absorb();
                self.tally_fraud();
                true
            }
            Err(code) => {
                *self.rejected.entry(code.as_str()).or_insert(0) += 1;
                false
            }
        }
    }

    /// Credits what the last command did to the people it touched.
    fn absorb(&mut self) {
        let fx = self.e.effects();
        let price = fx.price_before;
        let mut credits = std::mem::take(&mut self.credits);
        credits.clear();
        for g in &fx.grants {
            credits.push((g.account, price.value_fen(g.atoms.0), 0));
        }
        for x in &fx.exits {
            credits.push((x.account, 0, (x.gross - x.fee).0));
        }
        self.today.exits += fx.exits.len() as u64;
        for &(account, reward, proceeds) in &credits {
            if let Some(p) = self.person_of(account) {
                self.people[p].reward_value_fen += reward;
                self.people[p].proceeds_fen += proceeds;
                if reward > 0 && self.people[p].behaviour == Behaviour::Taker {
                    let atoms = self.e.accounts().get(account).atoms;
                    self.takers
                        .watch(p, atoms, &self.people[p], self.s.taker_multiple_milli);
                }
            }
        }
        self.credits = credits;
    }

    /// Sells or converts everything `person` holds; returns what it paid them.
    fn sell_all(&mut self, person: usize, convert: bool) -> Option<u64> {
        let account = self.account_of(person);
        let atoms = self.e.accounts().get(account).atoms;
        if atoms == 0 {
            return None;
        }
        let account = name("u", person as u64);
        let command = if convert {
            Command::ConvertToStable {
                account,
                atoms: Some(atoms),
            }
        } else {
            Command::Sell {
                account,
                atoms: Some(atoms),
            }
        };
        if !self.run(&command) {
            return None;
        }
        let net_fen = self.e.effects().sale.unwrap_or_default().net().0;
        self.people[person].proceeds_fen += net_fen;
        Some(net_fen)
    }

    fn spend_fen(&mut self) -> u64 {
        let amount = match self.s.spend {
            Spend::Fixed { fen } => fen,
            Spend::LogNormal {
                median_fen,
                sigma_milli,
            } => {
                let z = self.rng.normal();
                (median_fen as f64 * (sigma_milli as f64 / 1000.0 * z).exp()).round() as u64
            }
        };
        amount.clamp(1, self.s.rules.order_max_fen)
    }

    fn purchase(&mut self, person: usize) {
        let amount = self.spend_fen();
        let mut stable = 0;
        if self.people[person].behaviour == Behaviour::Spender {
            self.sell_all(person, true);
            stable = self
                .e
                .accounts()
                .get(self.account_of(person))
                .stable_fen
                .min(amount);
        }
        let order = name("o", self.orders);
        self.orders += 1;
        let merchant = self.rng.below(self.merchants());
        let paid = self.run(&Command::PayOrder {
            order: order.clone(),
            consumer: name("u", person as u64),
            merchant: name("m", merchant),
            cash_fen: Some(amount - stable),
            stable_fen: Some(stable),
            signals: self
                .s
                .fraud
                .as_ref()
                .map(|_| fraud::honest_signals(person as u64)),
        });
        if !paid {
            return;
        }
        let held = self.e.effects().held.is_some();
        if self.s.fraud.is_some() {
            self.tally.honest_orders += 1;
            self.tally.honest_held += held as u64;
        }
        if self.rng.below(10_000) < self.s.refund_bps {
            self.run(&Command::RefundOrder {
                order,
                cash_fen: None,
                stable_fen: None,
            });
            self.today.refunds += 1;
            return;
        }
        let before = self.e.totals().contributions_fen;
        // A held honest order: the reviewer approves it, which confirms it.
        let confirmed = if held {
            self.review(order, "approve")
        } else {
            self.run(&Command::ConfirmOrder { order })
        };
        if confirmed {
            self.today.orders += 1;
            self.today.sales_fen += amount;
            self.today.money_in_fen += (self.e.totals().contributions_fen - before).0;
        }
    }

    /// Prefetch hints for the purchases ahead: the slot of the order `HINT_SLOTS_AHEAD`
    /// purchases on (every purchase names the next order), the slot of person `slot_of`'s name
    /// (a shopper that far ahead, or a consumer arriving then), and the account of person
    /// `account_of`, whose slot was hinted earlier.
    fn hint(&self, slot_of: Option<u64>, account_of: Option<u64>) {
        self.e
            .prefetch_new_order(&name("o", self.orders + HINT_SLOTS_AHEAD as u64));
        if let Some(p) = slot_of {
            self.e.prefetch_account(&name("u", p), Soon::Later);
        }
        if let Some(p) = account_of {
            self.e.prefetch_account(&name("u", p), Soon::Next);
        }
    }

    /// One purchase, then the next one booked if the person has repeats left.
    fn shop(&mut self, person: usize, day: u64) {
        self.purchase(person);
        self.people[person].purchases += 1;
        let next = day + self.s.repeat_every_days;
        if (self.people[person].purchases as u64) <= self.s.repeat_purchases
            && (next as usize) < self.due.len()
        {
            self.due[next as usize].push(person as u32);
        }
    }

    fn arrive(&mut self, day: u64) -> usize {
        let person = self.people.len();
        let referrer = if !self.people.is_empty() && self.rng.below(10_000) < self.s.referral_bps {
            Some(name("u", self.rng.below(self.people.len() as u64)))
        } else {
            None
        };
        let account = name("u", person as u64);
        let registered = self.run(&Command::RegisterConsumer { account, referrer });
        assert!(registered, "registering a simulated consumer failed");
        let roll = self.rng.below(10_000);
        let behaviour = if roll < self.s.holders_bps {
            Behaviour::Holder
        } else if roll < self.s.holders_bps + self.s.takers_bps {
            Behaviour::Taker
        } else {
            Behaviour::Spender
        };
        self.people.push(Person {
            behaviour,
            first_day: day as u32,
            reward_value_fen: 0,
            proceeds_fen: 0,
            purchases: 0,
        });
        person
    }

    /// Every taker whose points are now worth their multiple sells them all: the ones whose
    /// target price the day's price has reached, lowest target first.
    fn takers_sell(&mut self) {
        let price = self.e.price();
        while let Some(t) = self.takers.next_reached(price) {
            let person = t.person as usize;
            let atoms = self.e.accounts().get(self.account_of(person)).atoms;
            if atoms != t.atoms || self.people[person].reward_value_fen != t.reward_fen {
                // Superseded by a later watch, or sold already.
                continue;
            }
            self.sell_all(person, false);
        }
    }

    fn merchants_redeem(&mut self) {
        for m in 0..self.merchants() {
            let stable = self.e.accounts().get(m as AccountId).stable_fen;
            if stable > 0 {
                self.run(&Command::RedeemStable {
                    account: name("m", m),
                    fen: Some(stable),
                });
            }
        }
    }

    fn shock(&mut self, day: u64, share_bps: u64) -> ShockResult {
        let mut r = ShockResult {
            day,
            reserve_before_fen: self.e.totals().reserve_fen.0,
            price_before: self.e.price().yuan_per_point(4),
            ..ShockResult::default()
        };
        let paid_out_before = self.e.totals().paid_out_fen;
        for person in 0..self.people.len() {
            let holds = self.e.accounts().get(self.account_of(person)).atoms > 0;
            if holds && self.rng.below(10_000) < share_bps {
                r.sellers += 1;
                if self.sell_all(person, false).is_none() {
                    r.refused += 1;
                }
            }
        }
        r.paid_fen = (self.e.totals().paid_out_fen - paid_out_before).0;
        r.reserve_after_fen = self.e.totals().reserve_fen.0;
        r.price_after = self.e.price().yuan_per_point(4);
        r
    }
}

impl Host for Sim<'_> {
    fn scenario(&self) -> &Scenario {
        self.s
    }
    fn economy(&self) -> &Economy {
        &self.e
    }
    fn run(&mut self, command: &Command) -> bool {
        Sim::run(self, command)
    }
    fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
    fn next_order(&mut self) -> jifen_core::Text {
        self.orders += 1;
        name("o", self.orders - 1)
    }
    fn tally(&mut self) -> &mut FraudTally {
        &mut self.tally
    }
    fn fraud_accounts(&self) -> u64 {
        self.fraud_accounts
    }
    fn date_of(&self, day: u64) -> u32 {
        add_days(self.s.start_day, day)
    }
}

impl fraud::Actors for Sim<'_> {}

/// Runs a scenario. With `check`, every invariant of SPEC §10 is recounted after every day and
/// the price is checked never to fall; a broken one is an error. With `log`, the result keeps
/// every command run (`SimResult::commands`).
pub fn simulate(
    s: &Scenario,
    seed: u64,
    (check, log): (bool, bool),
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SimResult, String> {
    let arrivals = arrivals_by_day(s);
    let mut sim = Sim::start(s, seed, &arrivals, log);
    let mut days = Vec::with_capacity(s.days as usize);
    let mut shocks = Vec::new();
    let mut price_floor: Option<Price> = None;
    let mut totals = (0u64, 0u64);
    for day in 0..s.days {
        let before = sim.e.totals();
        shocks.extend(sim.run_day(day, arrivals[day as usize])?);
        let row = sim.day_row(before, &mut totals);
        if check {
            sim.check_day(day, &mut price_floor)?;
        }
        days.push(row);
        progress(day + 1, s.days);
    }
    Ok(SimResult {
        scenario: s.clone(),
        seed,
        days,
        people: sim.people,
        economy: sim.e,
        shocks,
        rejected: sim.rejected,
        commands: sim.log.unwrap_or_default(),
        tally: sim.tally,
        without_controls: None,
    })
}

impl<'a> Sim<'a> {
    /// The economy with its merchants, and room for everyone who will arrive: the engine's
    /// large tables are then allocated once, never copied as they grow.
    fn start(s: &'a Scenario, seed: u64, arrivals: &[u64], log: bool) -> Sim<'a> {
        let mut sim = Sim {
            s,
            e: Economy::new(s.rules),
            rng: Rng::new(seed),
            people: Vec::new(),
            takers: Takers::default(),
            due: vec![Vec::new(); s.days as usize],
            orders: 0,
            today: DayRow::default(),
            rejected: Default::default(),
            credits: Vec::new(),
            log: log.then(Vec::new),
            tally: FraudTally::default(),
            fraud_accounts: 0,
        };
        sim.today.date = s.start_day;
        let people: u64 = arrivals.iter().sum();
        // The orders they will attempt, at most.
        let orders = people.saturating_mul(s.repeat_purchases + 1);
        sim.e
            .reserve_capacity((s.merchants + people) as usize, orders as usize);
        sim.people.reserve(people as usize);
        for m in 0..s.merchants {
            let ok = sim.run(&Command::RegisterMerchant {
                account: name("m", m),
            });
            assert!(ok, "registering a simulated merchant failed");
        }
        if let Some(f) = &s.fraud {
            sim.fraud_accounts = f.accounts();
        }
        sim.start_fraud();
        sim
    }

    /// One day: the new and the returning shoppers, the takers, the merchants, any shock, and
    /// the settlement. Returns the shocks' results.
    fn run_day(&mut self, day: u64, arrivals: u64) -> Result<Vec<ShockResult>, String> {
        let date = add_days(self.s.start_day, day);
        self.today = DayRow {
            day,
            date,
            ..DayRow::default()
        };
        if day > 0 && self.s.fraud.is_some() {
            self.advance_to_day(day);
        }
        // The day's shoppers are known in advance, so the engine is told a few purchases
        // ahead which table slots and accounts they will need (hints only: the results are
        // the same without them).
        for _ in 0..arrivals {
            self.hint(Some((self.people.len() + HINT_SLOTS_AHEAD) as u64), None);
            let person = self.arrive(day);
            self.today.new_consumers += 1;
            self.shop(person, day);
        }
        let due = std::mem::take(&mut self.due[day as usize]);
        let person_at = |j: usize| due.get(j).map(|&p| u64::from(p));
        for (i, &person) in due.iter().enumerate() {
            self.hint(
                person_at(i + HINT_SLOTS_AHEAD),
                person_at(i + HINT_ACCOUNTS_AHEAD),
            );
            self.shop(person as usize, day);
        }
        self.fraud_day(day);
        self.takers_sell();
        if (day + 1).is_multiple_of(self.s.redeem_every_days) {
            self.merchants_redeem();
        }
        let s = self.s;
        let shocks = s
            .shocks
            .iter()
            .filter(|sh| sh.day == day)
            .map(|shock| self.shock(day, shock.sell_share_bps))
            .collect();
        self.today.price_before_settlement = self.e.price().yuan_per_point(4);
        let settle = Command::SettleDividends {
            day: jifen_core::format_day(date).into(),
        };
        if !self.run(&settle) {
            return Err(format!("day {day}: settlement was refused"));
        }
        Ok(shocks)
    }

    /// The day's row, from the totals before it and after; `totals` carries the running sales
    /// and money in.
    fn day_row(&self, before: jifen_core::Totals, totals: &mut (u64, u64)) -> DayRow {
        let settlement = self.e.effects().settlement.unwrap_or_default();
        let t = self.e.totals();
        let price = self.e.price();
        totals.0 += self.today.sales_fen;
        totals.1 += self.today.money_in_fen;
        DayRow {
            price_num_fen: price.num_fen,
            price_den_atoms: price.den_atoms,
            reserve_fen: t.reserve_fen.0,
            circulating_atoms: t.circulating_atoms.0,
            treasury_atoms: t.treasury_atoms.0,
            dividend_pool_fen: t.dividend_pool_fen.0,
            consumers: self.people.len() as u64,
            paid_out_fen: (t.paid_out_fen - before.paid_out_fen).0,
            dividends_paid_fen: settlement.paid.0,
            holders_paid: settlement.holders_paid,
            holders_capped: settlement.holders_capped,
            outstanding_quota_fen: self.e.quota_total_fen(),
            sales_total_fen: totals.0,
            money_in_total_fen: totals.1,
            ..self.today.clone()
        }
    }

    /// With `--check`: every invariant by full recount, and the price not below `floor`.
    fn check_day(&self, day: u64, floor: &mut Option<Price>) -> Result<(), String> {
        self.e
            .check_full()
            .map_err(|broken| format!("day {day}: invariant broken: {broken}"))?;
        if self.e.totals().issued_atoms.0 > 0 {
            let price = self.e.price();
            if let Some(f) = floor.filter(|f| price < *f) {
                return Err(format!("day {day}: the price fell from {f} to {price}"));
            }
            *floor = Some(price);
        }
        Ok(())
    }
}
