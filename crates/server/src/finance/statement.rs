//! A consumer's monthly statement (对账单, docs/FINANCE.md): what one calendar month of the
//! economy's time zone did to one account, worked out by replaying the month's entries
//! (`jifen_journal::walk`) and comparing the account before and after each one. So its figures
//! are the engine's own, and its closing position is its opening position plus its lines,
//! exactly.

use jifen_core::{AccountId, Command, Economy, ExitEffect, Ledger, Price, Sale};
use jifen_journal::{JournalError, Step, Store};
use serde::Serialize;

use super::files::{Cell, Table};
use super::report::Days;
use super::Range;

/// Where an account stands at a moment: its balances, and its points' value at the price then.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Position {
    pub atoms: u64,
    pub locked_atoms: u64,
    pub stable_fen: u64,
    pub owed_fen: u64,
    /// The account's quota: a cap on what the dividend pool may still pay it, not a promise.
    pub quota_fen: u64,
    pub value_fen: u64,
    pub price_yuan_per_point: String,
}

/// An account's balances, compared before and after each entry of the month (cheap to copy;
/// the price is put into words only for the opening and closing positions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Balances {
    atoms: u64,
    locked_atoms: u64,
    stable_fen: u64,
    owed_fen: u64,
    quota_fen: u64,
}

impl Balances {
    fn of(e: &Economy, id: Option<AccountId>) -> Balances {
        id.map_or_else(Balances::default, |id| {
            let a = e.accounts().get(id);
            let x = e.accounts().extras(id);
            Balances {
                atoms: a.atoms,
                locked_atoms: x.locked_atoms,
                stable_fen: a.stable_fen,
                owed_fen: x.owed_fen,
                quota_fen: a.quota_fen,
            }
        })
    }

    fn position(self, price: Price) -> Position {
        Position {
            atoms: self.atoms,
            locked_atoms: self.locked_atoms,
            stable_fen: self.stable_fen,
            owed_fen: self.owed_fen,
            quota_fen: self.quota_fen,
            value_fen: price.value_fen(self.atoms),
            price_yuan_per_point: price.yuan_per_point(4),
        }
    }

    fn moved(&self, other: &Balances) -> bool {
        (
            self.atoms,
            self.locked_atoms,
            self.stable_fen,
            self.owed_fen,
        ) != (
            other.atoms,
            other.locked_atoms,
            other.stable_fen,
            other.owed_fen,
        )
    }
}

/// What moved the points, locked points and stable points, in and out: one line's, or the
/// month's sums of them.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Moves {
    pub atoms_in: u64,
    pub atoms_out: u64,
    pub locked_in: u64,
    pub locked_out: u64,
    pub stable_in_fen: u64,
    pub stable_out_fen: u64,
}

impl Moves {
    fn between(was: &Balances, now: &Balances) -> Moves {
        let (atoms_in, atoms_out) = delta(was.atoms, now.atoms);
        let (locked_in, locked_out) = delta(was.locked_atoms, now.locked_atoms);
        let (stable_in_fen, stable_out_fen) = delta(was.stable_fen, now.stable_fen);
        Moves {
            atoms_in,
            atoms_out,
            locked_in,
            locked_out,
            stable_in_fen,
            stable_out_fen,
        }
    }

    fn add(&mut self, m: &Moves) {
        self.atoms_in += m.atoms_in;
        self.atoms_out += m.atoms_out;
        self.locked_in += m.locked_in;
        self.locked_out += m.locked_out;
        self.stable_in_fen += m.stable_in_fen;
        self.stable_out_fen += m.stable_out_fen;
    }
}

/// The month's figures, by what caused them. Every amount is a sum over the month.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Sums {
    /// Points granted for the account's own orders, and their count.
    pub order_atoms: u64,
    pub orders: u64,
    /// Points granted for orders of the consumers it referred.
    pub referral_atoms: u64,
    pub referrals: u64,
    /// Points sold back (buyback): their value, the fee kept in the reserve, and the cash owed.
    pub sold_atoms: u64,
    pub sold_gross_fen: u64,
    pub sold_fee_fen: u64,
    pub sales: u64,
    /// Points converted to stable points: their value, the fee, and the stable points given.
    pub converted_atoms: u64,
    pub converted_gross_fen: u64,
    pub converted_fee_fen: u64,
    pub conversions: u64,
    /// Forced exits at the quota: the points sold, their value, the fee, and their count.
    pub exit_atoms: u64,
    pub exit_gross_fen: u64,
    pub exit_fee_fen: u64,
    pub exits: u64,
    /// Dividends paid (as stable points) and on how many days.
    pub dividends_fen: u64,
    pub dividend_days: u64,
    /// Cash the brand came to owe the account (sales and exits, net of fees), and what it paid.
    pub owed_added_fen: u64,
    pub payouts_settled_fen: u64,
    pub payouts: u64,
    /// Every movement, in and out, of each balance (the lines' sums).
    #[serde(flatten)]
    pub moves: Moves,
}

/// One entry of the month that changed the account.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct StatementLine {
    pub seq: u64,
    pub ts_ms: i64,
    pub day: String,
    /// What happened, for people: order, referral, sell, convert, exit, dividend, payout,
    /// stable_payment, refund, collectible, or the command's type.
    pub kind: &'static str,
    #[serde(flatten)]
    pub moves: Moves,
    pub owed_in_fen: u64,
    pub owed_out_fen: u64,
    /// For a sale, conversion or exit: the points' value at the price then, and the fee.
    pub gross_fen: u64,
    pub fee_fen: u64,
}

/// The most lines one statement lists (its sums always cover the whole month).
pub const LINES_MAX: usize = 5_000;

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Statement {
    pub account: String,
    pub month: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub opening: Position,
    pub closing: Position,
    pub sums: Sums,
    pub lines: Vec<StatementLine>,
    /// Whether lines were left out past [`LINES_MAX`].
    pub lines_truncated: bool,
}

/// The month that contains `day`, as a range of days.
pub fn month_of(day: jiff::civil::Date) -> Range {
    let from = day.first_of_month();
    Range {
        from,
        to: day.last_of_month(),
    }
}

/// What the walk carries from entry to entry.
#[derive(Default)]
struct Walked {
    id: Option<AccountId>,
    was: Balances,
    price: Option<Price>,
    s: Statement,
}

/// The statement of `account` for the month `range` (blocking).
pub fn statement(
    store: &mut dyn Store,
    eco: &str,
    tz: jiff::tz::TimeZone,
    account: &str,
    range: Range,
) -> Result<Statement, JournalError> {
    let days = Days::new(tz);
    let (after, upto) = super::seqs_of(store, eco, &days, range)?;
    let s = Statement {
        account: account.to_string(),
        month: range.from.strftime("%Y-%m").to_string(),
        first_seq: after + 1,
        last_seq: upto,
        ..Statement::default()
    };
    let state = std::cell::RefCell::new(Walked {
        s,
        ..Walked::default()
    });
    jifen_journal::walk(
        store,
        eco,
        (after, upto),
        &|| true,
        &mut |l: &Ledger| {
            let w = &mut *state.borrow_mut();
            let e = l.economy();
            w.id = e.accounts().find(account);
            w.was = Balances::of(e, w.id);
            w.price = Some(e.price());
            w.s.opening = w.was.position(e.price());
        },
        &mut |step: &Step, l: &Ledger| state.borrow_mut().step(step, l.economy(), account, &days),
    )?;
    let w = state.into_inner();
    let mut s = w.s;
    // The walk always shows the start, so the price is known.
    s.closing = match w.price {
        Some(price) => w.was.position(price),
        None => s.opening.clone(),
    };
    Ok(s)
}

impl Walked {
    fn step(&mut self, step: &Step, e: &Economy, account: &str, days: &Days) {
        self.price = Some(e.price());
        self.id = self.id.or_else(|| e.accounts().find(account));
        let Some(me) = self.id.filter(|_| step.accepted) else {
            return;
        };
        let now = Balances::of(e, Some(me));
        if self.was.moved(&now) {
            let facts = Facts::of(step, e, me);
            let line = line_of(step, &facts, &self.was, &now, days);
            tally(&mut self.s.sums, step, &facts, e, me, &line);
            if self.s.lines.len() < LINES_MAX {
                self.s.lines.push(line);
            } else {
                self.s.lines_truncated = true;
            }
        }
        self.was = now;
    }
}

/// In and out of one balance.
fn delta(before: u64, after: u64) -> (u64, u64) {
    (after.saturating_sub(before), before.saturating_sub(after))
}

/// What an entry's effects say of the account, worked out once for its line and its sums.
struct Facts {
    exit: Option<ExitEffect>,
    /// The account's own sale or conversion.
    sale: Option<Sale>,
    /// Whether it is the buyer of the order a `confirm_order` confirms (not its referrer).
    buyer: bool,
    granted: u64,
}

impl Facts {
    fn of(step: &Step, e: &Economy, id: AccountId) -> Facts {
        let fx = e.effects();
        let name = e.accounts().get(id).name.as_str();
        let own = matches!(step.command,
            Some(Command::Sell { account, .. } | Command::ConvertToStable { account, .. })
                if account.as_str() == name);
        let buyer = match step.command {
            Some(Command::ConfirmOrder { order }) => {
                e.orders().find(order).is_some_and(|o| o.consumer == id)
            }
            _ => false,
        };
        Facts {
            exit: fx.exits.iter().find(|x| x.account == id).copied(),
            sale: fx.sale.filter(|_| own),
            buyer,
            granted: (fx.grants.iter().filter(|g| g.account == id))
                .map(|g| g.atoms.0)
                .sum(),
        }
    }
}

fn line_of(step: &Step, f: &Facts, was: &Balances, now: &Balances, days: &Days) -> StatementLine {
    let (owed_in_fen, owed_out_fen) = delta(was.owed_fen, now.owed_fen);
    let (gross_fen, fee_fen) = match (f.exit, f.sale) {
        (Some(x), _) => (x.gross.0, x.fee.0),
        (None, Some(s)) => (s.gross.0, s.fee.0),
        _ => (0, 0),
    };
    let moves = Moves::between(was, now);
    StatementLine {
        seq: step.seq,
        ts_ms: step.ts_ms,
        day: days.day_of(step.ts_ms).to_string(),
        kind: kind_of(step.command, f.exit.is_some(), moves.atoms_in > 0, f.buyer),
        moves,
        owed_in_fen,
        owed_out_fen,
        gross_fen,
        fee_fen,
    }
}

fn kind_of(command: Option<&Command>, exit: bool, granted: bool, buyer: bool) -> &'static str {
    if exit {
        return "exit";
    }
    match command {
        Some(Command::ConfirmOrder { .. }) if granted && buyer => "order",
        Some(Command::ConfirmOrder { .. }) if granted => "referral",
        Some(Command::Sell { .. }) => "sell",
        Some(Command::ConvertToStable { .. }) => "convert",
        Some(Command::SettleDividends { .. }) => "dividend",
        Some(Command::RecordPayout { .. }) => "payout",
        Some(Command::PayOrder { .. }) => "stable_payment",
        Some(Command::RefundOrder { .. }) => "refund",
        Some(
            Command::MintCollectible { .. }
            | Command::IssueCertificate { .. }
            | Command::GiftCollectible { .. }
            | Command::DissolveCollectible { .. }
            | Command::ExportCollectible { .. }
            | Command::ReturnCollectible { .. },
        ) => "collectible",
        Some(c) => c.type_name(),
        None => "other",
    }
}

/// Adds one line, and the facts behind it, to the month's sums.
fn tally(
    sums: &mut Sums,
    step: &Step,
    f: &Facts,
    e: &Economy,
    id: AccountId,
    line: &StatementLine,
) {
    let fx = e.effects();
    if f.granted > 0 && matches!(step.command, Some(Command::ConfirmOrder { .. })) {
        if f.buyer {
            (sums.order_atoms, sums.orders) = (sums.order_atoms + f.granted, sums.orders + 1);
        } else {
            (sums.referral_atoms, sums.referrals) =
                (sums.referral_atoms + f.granted, sums.referrals + 1);
        }
    }
    if let Some(s) = f.sale {
        if matches!(step.command, Some(Command::Sell { .. })) {
            sums.sold_atoms += s.atoms.0;
            sums.sold_gross_fen += s.gross.0;
            sums.sold_fee_fen += s.fee.0;
            sums.sales += 1;
        } else {
            sums.converted_atoms += s.atoms.0;
            sums.converted_gross_fen += s.gross.0;
            sums.converted_fee_fen += s.fee.0;
            sums.conversions += 1;
        }
    }
    if let Some(x) = f.exit {
        sums.exit_atoms += x.atoms.0;
        sums.exit_gross_fen += x.gross.0;
        sums.exit_fee_fen += x.fee.0;
        sums.exits += 1;
    }
    if matches!(step.command, Some(Command::SettleDividends { .. })) {
        let paid: u64 = (fx.payouts.iter().filter(|p| p.account == id))
            .map(|p| p.paid.0)
            .sum();
        sums.dividends_fen += paid;
        sums.dividend_days += u64::from(paid > 0);
    }
    if let Some(p) = fx.recorded_payout.filter(|p| p.account == id) {
        sums.payouts_settled_fen += p.paid.0;
        sums.payouts += 1;
    }
    sums.owed_added_fen += line.owed_in_fen;
    sums.moves.add(&line.moves);
}

impl Statement {
    /// Whether the closing position is the opening one plus the month's movements, for each
    /// balance.
    pub fn ties_out(&self) -> bool {
        let (o, c, s, m) = (&self.opening, &self.closing, &self.sums, &self.sums.moves);
        o.atoms + m.atoms_in == c.atoms + m.atoms_out
            && o.locked_atoms + m.locked_in == c.locked_atoms + m.locked_out
            && o.stable_fen + m.stable_in_fen == c.stable_fen + m.stable_out_fen
            && o.owed_fen + s.owed_added_fen == c.owed_fen + s.payouts_settled_fen
    }

    /// The statement's lines as a table (CSV or XLSX), points as decimal text.
    pub fn table(&self) -> Table {
        let points = |atoms: u64| Cell::Text(crate::views::points(atoms));
        let rows = (self.lines.iter())
            .map(|l| {
                vec![
                    Cell::Text(l.day.clone()),
                    Cell::Int(l.seq),
                    Cell::Text(l.kind.to_string()),
                    points(l.moves.atoms_in),
                    points(l.moves.atoms_out),
                    Cell::Yuan(l.moves.stable_in_fen),
                    Cell::Yuan(l.moves.stable_out_fen),
                    Cell::Yuan(l.owed_in_fen),
                    Cell::Yuan(l.owed_out_fen),
                    Cell::Yuan(l.gross_fen),
                    Cell::Yuan(l.fee_fen),
                ]
            })
            .collect();
        Table {
            sheet: "对账单 Statement",
            columns: STATEMENT_COLUMNS.to_vec(),
            rows,
        }
    }
}

const STATEMENT_COLUMNS: [(&str, &str, &str); 11] = [
    ("date", "日期", "Date"),
    ("seq", "日志序号", "Seq"),
    ("kind", "类型", "Kind"),
    ("points_in", "积分收入", "Points in"),
    ("points_out", "积分支出", "Points out"),
    ("stable_in_yuan", "稳定积分收入(元)", "Stable in (yuan)"),
    ("stable_out_yuan", "稳定积分支出(元)", "Stable out (yuan)"),
    ("owed_in_yuan", "应付现金增加(元)", "Cash owed added (yuan)"),
    ("paid_yuan", "已付款(元)", "Cash paid (yuan)"),
    ("value_yuan", "成交价值(元)", "Value (yuan)"),
    ("fee_yuan", "手续费(元)", "Fee (yuan)"),
];
