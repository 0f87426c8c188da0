//! The double-entry view of the economy's money (docs/FINANCE.md): each accepted command as
//! lines of (book account, debit, credit), whose debits equal their credits.
//!
//! The chart of accounts follows the money identity of SPEC §10 and §14:
//!
//! ```text
//! cash received − cash paid = reserve + dividend pool + escrow + stable points + payouts payable
//! ```
//!
//! Cash received is what orders contributed (`contributions_fen`), cash paid what was recorded as
//! paid (`settled_fen`). Each liability book's balance (credits − debits) is its figure in the
//! engine, so a ledger built from these lines ties to the state after every command. A sale
//! fee is shown as income and, in the same command, as kept in the reserve (SPEC §7): the fee
//! income book's balance is therefore always zero, and its credits are the fees kept.

use crate::account::AccountId;
use crate::command::Command;
use crate::economy::{Economy, Totals};

/// A book of the chart of accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Book {
    CashReceived,
    CashPaid,
    Reserve,
    DividendPool,
    Escrow,
    StableLiability,
    PayoutsPayable,
    FeeIncome,
}

impl Book {
    pub const ALL: [Book; 8] = [
        Book::CashReceived,
        Book::CashPaid,
        Book::Reserve,
        Book::DividendPool,
        Book::Escrow,
        Book::StableLiability,
        Book::PayoutsPayable,
        Book::FeeIncome,
    ];

    /// The account code, stable: it is what accounting software imports.
    pub fn code(self) -> &'static str {
        match self {
            Book::CashReceived => "1001",
            Book::CashPaid => "1002",
            Book::Reserve => "2101",
            Book::DividendPool => "2102",
            Book::Escrow => "2103",
            Book::StableLiability => "2201",
            Book::PayoutsPayable => "2202",
            Book::FeeIncome => "6001",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Book::CashReceived => "Cash received (contributions)",
            Book::CashPaid => "Cash paid (payouts)",
            Book::Reserve => "Reserve",
            Book::DividendPool => "Dividend pool",
            Book::Escrow => "Escrow (stable points of pending orders)",
            Book::StableLiability => "Stable points liability",
            Book::PayoutsPayable => "Payouts payable",
            Book::FeeIncome => "Fee income (kept in the reserve)",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Book::CashReceived => "现金收入（订单贡献）",
            Book::CashPaid => "现金支付（兑付）",
            Book::Reserve => "储备金",
            Book::DividendPool => "分红池",
            Book::Escrow => "托管（待确认订单的稳定积分）",
            Book::StableLiability => "稳定积分负债",
            Book::PayoutsPayable => "应付兑付款",
            Book::FeeIncome => "手续费收入（留存储备金）",
        }
    }

    /// A stable small code, for compact storage.
    pub fn to_u8(self) -> u8 {
        Book::ALL.iter().position(|b| *b == self).unwrap_or(0) as u8
    }

    pub fn from_u8(code: u8) -> Option<Book> {
        Book::ALL.get(code as usize).copied()
    }

    /// Whether the book's balance is debits − credits (the cash books) rather than credits −
    /// debits (the liabilities and income).
    pub fn is_debit_side(self) -> bool {
        matches!(self, Book::CashReceived)
    }
}

/// Why a line was written: with the command's type and names, the memo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// An order paid partly in stable points: they move into escrow.
    StableIntoEscrow,
    /// A confirmed order's contribution, and its shares in the reserve and the pool.
    Contribution,
    /// A confirmed order's stable part, out of escrow to the merchant.
    StableToMerchant,
    /// A refund's stable part, out of escrow back to the consumer.
    StableRefunded,
    /// Points sold back (or sold at an exit): their value out of the reserve, the net payable.
    Sale,
    /// Points converted: their value out of the reserve, the net as stable points.
    Conversion,
    /// The fee of a sale, exit or conversion, and the same fee kept in the reserve.
    Fee,
    /// A merchant's stable points redeemed into the reserve.
    Redemption,
    /// A day's dividends, from the pool as stable points.
    Dividends,
    /// A payout recorded: payable settled in cash.
    Payout,
}

impl Why {
    pub const ALL: [Why; 10] = [
        Why::StableIntoEscrow,
        Why::Contribution,
        Why::StableToMerchant,
        Why::StableRefunded,
        Why::Sale,
        Why::Conversion,
        Why::Fee,
        Why::Redemption,
        Why::Dividends,
        Why::Payout,
    ];

    /// A stable small code, for compact storage.
    pub fn to_u8(self) -> u8 {
        Why::ALL.iter().position(|w| *w == self).unwrap_or(0) as u8
    }

    pub fn from_u8(code: u8) -> Option<Why> {
        Why::ALL.get(code as usize).copied()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Why::StableIntoEscrow => "stable points into escrow",
            Why::Contribution => "order contribution",
            Why::StableToMerchant => "stable points to the merchant",
            Why::StableRefunded => "stable points refunded",
            Why::Sale => "points sold",
            Why::Conversion => "points converted to stable points",
            Why::Fee => "fee kept in the reserve",
            Why::Redemption => "stable points redeemed",
            Why::Dividends => "dividends paid",
            Why::Payout => "payout recorded",
        }
    }
}

/// One line of a command's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub book: Book,
    pub debit_fen: u64,
    pub credit_fen: u64,
    pub why: Why,
    /// The account the line is about, when there is one (a seller, a merchant).
    pub account: Option<AccountId>,
}

struct Lines<'a>(&'a mut Vec<Line>);

impl Lines<'_> {
    /// `debit` ← `fen` → `credit`, skipped when `fen` is 0.
    fn pair(&mut self, debit: Book, credit: Book, fen: u64, why: Why, account: Option<AccountId>) {
        if fen == 0 {
            return;
        }
        let line = |book, debit_fen, credit_fen| Line {
            book,
            debit_fen,
            credit_fen,
            why,
            account,
        };
        self.0.push(line(debit, fen, 0));
        self.0.push(line(credit, 0, fen));
    }

    /// Points worth `gross` taken out of the reserve: `net` to `to`, the fee shown as income and
    /// kept in the reserve.
    fn sale(&mut self, to: Book, gross: u64, fee: u64, why: Why, account: Option<AccountId>) {
        self.pair(Book::Reserve, to, gross - fee, why, account);
        self.pair(Book::Reserve, Book::FeeIncome, fee, Why::Fee, account);
        self.pair(Book::FeeIncome, Book::Reserve, fee, Why::Fee, account);
    }
}

/// Appends the lines of `command`, just applied (accepted) to `after`, whose totals before it
/// were `before`. Commands that move no money write none.
pub fn postings(command: &Command, before: &Totals, after: &Economy, out: &mut Vec<Line>) {
    let mut lines = Lines(out);
    own_lines(command, before, after, &mut lines);
    let fx = after.effects();
    if let Some(s) = fx.sale {
        let (to, why) = match command {
            Command::ConvertToStable { .. } => (Book::StableLiability, Why::Conversion),
            _ => (Book::PayoutsPayable, Why::Sale),
        };
        let account = match command {
            Command::Sell { account, .. } | Command::ConvertToStable { account, .. } => {
                after.accounts().find(account)
            }
            _ => None,
        };
        lines.sale(to, s.gross.0, s.fee.0, why, account);
    }
    if let Some(s) = fx.settlement {
        let d = Why::Dividends;
        lines.pair(Book::DividendPool, Book::StableLiability, s.paid.0, d, None);
    }
    for x in &fx.exits {
        let a = Some(x.account);
        lines.sale(Book::PayoutsPayable, x.gross.0, x.fee.0, Why::Sale, a);
    }
}

/// The lines of the command's own money movements (orders, redemptions, payouts).
fn own_lines(command: &Command, before: &Totals, after: &Economy, lines: &mut Lines) {
    let t = after.totals();
    let fx = after.effects();
    let escrow_out = before.escrow_fen.0.saturating_sub(t.escrow_fen.0);
    // SPEC §17: an approval confirms its order, a rejection (or a hold running out as the
    // clock moves) refunds it.
    let approved = fx
        .reviewed
        .iter()
        .any(|(_, d)| *d == crate::risk::Decision::Approve);
    match command {
        Command::PayOrder { stable_fen, .. } => {
            let fen = stable_fen.unwrap_or(0);
            lines.pair(
                Book::StableLiability,
                Book::Escrow,
                fen,
                Why::StableIntoEscrow,
                None,
            );
        }
        _ if approved || matches!(command, Command::ConfirmOrder { .. }) => {
            let pool_in = t.dividend_pool_fen.0 - before.dividend_pool_fen.0;
            let contributed = t.contributions_fen.0 - before.contributions_fen.0;
            let c = Why::Contribution;
            lines.pair(
                Book::CashReceived,
                Book::Reserve,
                contributed - pool_in,
                c,
                None,
            );
            lines.pair(Book::CashReceived, Book::DividendPool, pool_in, c, None);
            let s = Why::StableToMerchant;
            lines.pair(Book::Escrow, Book::StableLiability, escrow_out, s, None);
        }
        Command::RefundOrder { .. }
        | Command::ReviewOrder { .. }
        | Command::AdvanceClock { .. } => {
            let s = Why::StableRefunded;
            lines.pair(Book::Escrow, Book::StableLiability, escrow_out, s, None);
        }
        Command::RedeemStable { fen, .. } => {
            let account = fx.grants.first().map(|g| g.account);
            let fen = fen.unwrap_or(0);
            lines.pair(
                Book::StableLiability,
                Book::Reserve,
                fen,
                Why::Redemption,
                account,
            );
        }
        Command::RecordPayout { .. } => {
            if let Some(p) = fx.recorded_payout {
                let a = Some(p.account);
                lines.pair(
                    Book::PayoutsPayable,
                    Book::CashPaid,
                    p.paid.0,
                    Why::Payout,
                    a,
                );
            }
        }
        _ => {}
    }
}

/// Each book's balance from the economy's totals, in the sign of [`Book::is_debit_side`]: what
/// the lines of every command so far add up to. For checks.
pub fn balances(t: &Totals) -> [(Book, u64); 8] {
    [
        (Book::CashReceived, t.contributions_fen.0),
        (Book::CashPaid, t.settled_fen.0),
        (Book::Reserve, t.reserve_fen.0),
        (Book::DividendPool, t.dividend_pool_fen.0),
        (Book::Escrow, t.escrow_fen.0),
        (Book::StableLiability, t.stable_fen.0),
        (Book::PayoutsPayable, t.owed_fen.0),
        (Book::FeeIncome, 0),
    ]
}
