//! The daily dividend settlement (SPEC §8): exact water-filling over the holders in trigger order.

use super::Economy;

use crate::account::prefetch;
use crate::account::{Account, AccountId};
use crate::code::Code;
use crate::day::parse_day;
use crate::effects::{Payout, Settlement};
use crate::index::{Entry, Resorter};
use crate::prefetch::PREFETCH_AHEAD;
use crate::units::Fen;
use crate::units::{div_wide, to_u64};

/// `floor(pool × atoms / weight)`, the pro-rata share of SPEC §8, with `atoms ≤ weight`. The
/// product and the weight usually fit in 64 bits, where division is several times cheaper
/// than in 128; the result is the same either way.
#[inline]
fn share_of(pool_fen: u64, atoms: u64, weight: u128) -> u64 {
    let product = pool_fen as u128 * atoms as u128;
    // With `atoms ≤ weight` the share is at most the pool, so it fits in 64 bits whenever the
    // weight does.
    u64::try_from(weight)
        .ok()
        .and_then(|w| div_wide(product, w))
        .unwrap_or_else(|| to_u64(product / weight))
}

/// Holders paid per chunk handed to `credit`.
const PAYOUT_CHUNK: usize = 4096;

/// From this many eligible holders on, settlement credits accounts on a second thread.
const THREADED_SETTLEMENT_FROM: usize = 1 << 15;

/// Credits one chunk of a settlement's payments to the holders' accounts, and records them.
fn credit(accounts: &mut [Account], payouts: &mut Vec<Payout>, chunk: Vec<(AccountId, u64)>) {
    for (i, &(id, pay_fen)) in chunk.iter().enumerate() {
        // Holders come in trigger order, not account order: fetch ahead to hide the misses.
        if let Some(&(ahead, _)) = chunk.get(i + PREFETCH_AHEAD) {
            prefetch(accounts, ahead);
        }
        let holder = &mut accounts[id as usize];
        holder.quota_fen -= pay_fen;
        holder.stable_fen += pay_fen;
        holder.dividends_fen += pay_fen;
    }
    payouts.extend(chunk.iter().map(|&(account, paid_fen)| Payout {
        account,
        paid: Fen(paid_fen),
    }));
}

/// The payments of one settlement, worked out from the holders' index entries alone (each
/// holds its account's quota and atoms), in trigger order: exact water-filling.
struct Payer {
    pool_left_fen: u64,
    weight_left: u128,
    settlement: Settlement,
    resorted: Resorter,
}

impl Payer {
    /// Pays each eligible holder in turn, sending the payments in chunks to `send`, and puts
    /// each entry back in order with its new quota.
    fn run(&mut self, eligible: &[Entry], send: &mut dyn FnMut(Vec<(AccountId, u64)>)) {
        let mut chunk = Vec::with_capacity(PAYOUT_CHUNK);
        for &entry in eligible {
            let mut e = entry;
            let share_fen = share_of(self.pool_left_fen, e.atoms, self.weight_left);
            let pay_fen = share_fen.min(e.quota_fen);
            self.weight_left -= e.atoms as u128;
            if pay_fen > 0 {
                self.pool_left_fen -= pay_fen;
                // The entry is the account's only one (settlement consolidated the index)
                // and changes with it, so no version bump is needed.
                e.quota_fen -= pay_fen;
                chunk.push((e.account, pay_fen));
                self.settlement.paid.0 += pay_fen;
                self.settlement.holders_paid += 1;
                self.settlement.holders_capped += u64::from(e.quota_fen == 0);
                if chunk.len() == PAYOUT_CHUNK {
                    send(std::mem::replace(
                        &mut chunk,
                        Vec::with_capacity(PAYOUT_CHUNK),
                    ));
                }
            }
            self.resorted.push_by_trigger(e);
        }
        send(chunk);
    }
}

/// Runs `pay`, crediting what it sends to the accounts: on a second, scoped thread when there
/// are many holders, since crediting visits the accounts in trigger order and waits on memory
/// for each. The result is the same either way.
fn pay_and_credit(
    accounts: &mut [Account],
    payouts: &mut Vec<Payout>,
    holders: usize,
    pay: impl FnOnce(&mut dyn FnMut(Vec<(AccountId, u64)>)),
) {
    if holders < THREADED_SETTLEMENT_FROM {
        pay(&mut |chunk| credit(accounts, payouts, chunk));
        return;
    }
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(AccountId, u64)>>(16);
        let crediting = scope.spawn(move || {
            for chunk in rx {
                credit(accounts, payouts, chunk);
            }
        });
        pay(&mut |chunk| {
            // The receiver only stops when this side is done.
            let _ = tx.send(chunk);
        });
        drop(tx);
        if let Err(panic) = crediting.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

impl Economy {
    // ----- daily dividends (SPEC §8) -----

    pub(super) fn settle_dividends(&mut self, day: &str) -> Result<(), Code> {
        let day = parse_day(day).ok_or(Code::InvalidDay)?;
        if self.settled_days.contains(&day) {
            return Err(Code::AlreadySettled);
        }
        self.settled_days.insert(day);

        // Every holder in ascending trigger price; those without a quota (trigger 0) come first
        // and are not eligible. Names break ties, so the order is total.
        let entries = self.index.take_sorted(self.accounts.as_slice());
        let split = entries.partition_point(|e| e.quota_fen == 0);
        // Paying only lowers triggers: the last holder's bounds them all.
        let mut resorted = self.index.resorter(entries.len(), entries.last());
        for e in &entries[..split] {
            resorted.push_unpaid(*e);
        }
        let mut payer = Payer {
            pool_left_fen: self.dividend_pool_fen,
            weight_left: entries[split..].iter().map(|e| e.atoms as u128).sum(),
            settlement: Settlement {
                day,
                holders_eligible: (entries.len() - split) as u64,
                ..Settlement::default()
            },
            resorted,
        };
        // Re-sorting compares fractions only, so it needs no account; the few exact ties are
        // put in name order at the end. (`execute` cleared the effects, payouts included.)
        let eligible = &entries[split..];
        pay_and_credit(
            self.accounts.as_mut_slice(),
            &mut self.effects.payouts,
            eligible.len(),
            |send| payer.run(eligible, send),
        );
        let paid_fen = payer.settlement.paid.0;
        self.stable_total_fen += paid_fen;
        self.quota_total_fen -= paid_fen;
        self.flows.dividends_paid_fen += paid_fen;
        self.dividend_pool_fen = payer.pool_left_fen;
        self.index
            .put_back(entries, payer.resorted, self.accounts.as_slice());
        self.effects.settlement = Some(payer.settlement);
        Ok(())
    }
}
