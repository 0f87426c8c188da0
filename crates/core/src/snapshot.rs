//! A deterministic binary encoding of a whole [`Ledger`], for snapshots.
//!
//! The same state always encodes to the same bytes: accounts, orders and ids are written in the
//! order they were created, never in hash order. Derived state (the exit index, running totals)
//! is not written; decoding rebuilds it and then checks every invariant, so a snapshot that
//! decodes is a state the engine could have reached. Integrity against storage faults is the
//! caller's job (the journal wraps this in a checksum).
//!
//! Layout, little-endian: `b"JFNS"`, format version `u32`, then the sections in the order of
//! [`Ledger::encode`]. Names are a `u8` length and bytes; in the account, order and id lists a
//! name is front-coded against the one before it (the length of the shared prefix, then the
//! rest). List amounts are LEB128 varints, and seqs are zigzag varint deltas from the previous
//! item's, so a list of millions of ids costs about 20 bytes each. Format 2 snapshots (fixed
//! width) are refused, so start-up falls back to replaying the journal and writes a new one.

use std::collections::BTreeSet;

use crate::account::{Account, Kind, NO_REFERRER};
use crate::collectible::{Collectible, CollectibleState, Policy, GIFT_HOLD_DAYS_MAX};
use crate::economy::{Economy, Totals};
use crate::ledger::{IdRecord, Ledger};
use crate::name::{is_valid_name, Name};
use crate::order::{Order, OrderStatus};
use crate::rules::{OrderRates, RuleValue, Rules};
use crate::units::{Atoms, Fen, Price};
use crate::Code;

const MAGIC: &[u8; 4] = b"JFNS";
const FORMAT_VERSION: u32 = 7;
/// Format 6 predates risk controls (SPEC §17): it is read with none, which is what an economy
/// then had.
const FORMAT_VERSION_BEFORE_RISK: u32 = 6;
/// Format 5 predates the members section (SPEC §16): the statuses its commands earned are
/// only in the journal, so it is refused and start-up replays the journal.
const FORMAT_VERSION_BEFORE_MEMBERS: u32 = 5;
/// Formats 3 and 4 (before the stage-3 section) are refused: they hold `paid_out` as one total,
/// and who is owed it can only be recovered by replaying the journal, which start-up then does.
const FORMAT_VERSIONS_BEFORE_PAYOUTS: [u32; 2] = [3, 4];

mod members;
mod risk;

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn name(&mut self, n: &str) {
        debug_assert!(n.len() <= 64);
        self.u8(n.len() as u8);
        self.0.extend_from_slice(n.as_bytes());
    }
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    /// `v - prev` as a zigzag varint.
    fn delta(&mut self, prev: u64, v: u64) {
        let d = v.wrapping_sub(prev) as i64;
        self.varint(((d << 1) ^ (d >> 63)) as u64);
    }
    /// `n` front-coded against `prev`.
    fn name_after(&mut self, prev: &str, n: &str) {
        let shared = prev
            .bytes()
            .zip(n.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        self.u8(shared as u8);
        self.name(&n[shared..]);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type DecodeResult<T> = Result<T, String>;

impl Reader<'_> {
    fn take(&mut self, n: usize) -> DecodeResult<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("snapshot truncated at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> DecodeResult<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> DecodeResult<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bool(&mut self) -> DecodeResult<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("bad boolean {b}")),
        }
    }
    fn varint(&mut self) -> DecodeResult<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(format!("varint too large at byte {}", self.at));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint too long at byte {}", self.at))
    }
    fn varint_u32(&mut self) -> DecodeResult<u32> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| format!("{v} is out of range at byte {}", self.at))
    }
    fn delta(&mut self, prev: u64) -> DecodeResult<u64> {
        let z = self.varint()?;
        let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
        Ok(prev.wrapping_add(d as u64))
    }
    /// A name written with `Writer::name`.
    fn name(&mut self) -> DecodeResult<Name> {
        let len = self.u8()? as usize;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| "name is not UTF-8".to_string())?;
        if !is_valid_name(s) {
            return Err(format!("invalid name {s:?}"));
        }
        Ok(Name::from(s))
    }
    fn name_after(&mut self, prev: &str) -> DecodeResult<Name> {
        let shared = self.u8()? as usize;
        let len = self.u8()? as usize;
        let rest = self.take(len)?;
        let head = prev
            .as_bytes()
            .get(..shared)
            .ok_or_else(|| format!("name shares {shared} bytes with {prev:?}"))?;
        let bytes = [head, rest].concat();
        let s = std::str::from_utf8(&bytes).map_err(|_| "name is not UTF-8".to_string())?;
        if !is_valid_name(s) {
            return Err(format!("invalid name {s:?}"));
        }
        Ok(Name::from(s))
    }
    /// A count of items that each take at least `min_bytes`, bounded by what is left.
    fn count(&mut self, min_bytes: usize) -> DecodeResult<usize> {
        let n = self.u64()?;
        let left = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(format!("count {n} exceeds the snapshot"));
        }
        Ok(n as usize)
    }
}

fn write_rules(w: &mut Writer, r: &Rules) {
    for v in r.values() {
        match v {
            RuleValue::Int(n) => w.u64(n),
            RuleValue::Flag(b) => w.u8(b as u8),
        }
    }
}

/// The rules, written by [`write_rules`]: each value in the order of `RULE_KEYS`, of the kind
/// the rule has.
fn read_rules(r: &mut Reader) -> DecodeResult<Rules> {
    let mut rules = Rules::default();
    for (key, kind) in crate::RULE_KEYS.iter().zip(Rules::default().values()) {
        let value = match kind {
            RuleValue::Int(_) => RuleValue::Int(r.u64()?),
            RuleValue::Flag(_) => RuleValue::Flag(r.bool()?),
        };
        rules.set(key, value);
    }
    Ok(rules)
}

impl Ledger {
    /// The state as deterministic bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out
    }

    /// About how many bytes [`Ledger::encode`] gives, for reserving room.
    pub fn encoded_len_hint(&self) -> usize {
        let e = &self.economy;
        256 + e.accounts.len() * 80 + e.orders.len() * 48 + self.ids.list.len() * 48
    }

    /// Appends [`Ledger::encode`]'s bytes to `out`: each section in turn.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let e = &self.economy;
        let mut w = Writer(out);
        w.0.extend_from_slice(MAGIC);
        w.u32(FORMAT_VERSION);
        write_rules(&mut w, e.rules());
        write_totals(&mut w, &e.totals());
        write_history(&mut w, e.high_water(), e.settled_days());
        write_accounts(&mut w, e);
        write_orders(&mut w, e);
        write_stage2(&mut w, e);
        write_stage3(&mut w, e);
        members::write_members(&mut w, e.members());
        risk::write_risk(&mut w, e.risk());
        w.u64(self.applied);
        w.u64(self.rejected);
        write_ids(&mut w, self);
    }

    /// Rebuilds a ledger from [`Ledger::encode`] bytes, checking every invariant.
    pub fn decode(bytes: &[u8]) -> Result<Ledger, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err("not a jifen snapshot".into());
        }
        let version = r.u32()?;
        if FORMAT_VERSIONS_BEFORE_PAYOUTS.contains(&version) {
            return Err(format!(
                "snapshot format {version} predates payouts owed (SPEC §14); replay the journal"
            ));
        }
        if version == FORMAT_VERSION_BEFORE_MEMBERS {
            return Err(format!(
                "snapshot format {version} predates members (SPEC §16); replay the journal"
            ));
        }
        if version != FORMAT_VERSION && version != FORMAT_VERSION_BEFORE_RISK {
            return Err(format!("snapshot format {version} is not supported"));
        }
        let rules = read_rules(&mut r)?;
        let totals = read_totals(&mut r)?;
        let (high_water, settled_days) = read_history(&mut r)?;
        let mut economy = Economy::restore_start(rules, totals, high_water, settled_days)?;
        read_accounts(&mut r, &mut economy)?;
        read_orders(&mut r, &mut economy)?;
        read_stage2(&mut r, &mut economy)?;
        read_stage3(&mut r, &mut economy)?;
        economy.members = members::read_members(&mut r, economy.accounts.len())?;
        if version == FORMAT_VERSION {
            economy.risk = risk::read_risk(&mut r, economy.accounts.len(), economy.orders.len())?;
        }
        let applied = r.u64()?;
        let rejected = r.u64()?;
        let mut ledger = Ledger {
            economy,
            ids: Default::default(),
            applied,
            rejected,
        };
        read_ids(&mut r, &mut ledger)?;
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        ledger.economy.restore_finish()?;
        Ok(ledger)
    }
}

// ----- the sections, each a write and a read -----

fn write_totals(w: &mut Writer, t: &Totals) {
    for v in [
        t.reserve_fen,
        t.dividend_pool_fen,
        t.escrow_fen,
        t.paid_out_fen,
        t.contributions_fen,
    ] {
        w.u64(v.0);
    }
    for v in [
        t.circulating_atoms,
        t.treasury_atoms,
        t.burned_atoms,
        t.issued_atoms,
    ] {
        w.u64(v.0);
    }
}

fn read_totals(r: &mut Reader) -> DecodeResult<Totals> {
    Ok(Totals {
        reserve_fen: Fen(r.u64()?),
        dividend_pool_fen: Fen(r.u64()?),
        escrow_fen: Fen(r.u64()?),
        paid_out_fen: Fen(r.u64()?),
        contributions_fen: Fen(r.u64()?),
        circulating_atoms: Atoms(r.u64()?),
        treasury_atoms: Atoms(r.u64()?),
        burned_atoms: Atoms(r.u64()?),
        issued_atoms: Atoms(r.u64()?),
        // Stage 3 writes these in its own section; the stable total is recounted.
        ..Totals::default()
    })
}

/// The high-water price and the settled days.
fn write_history(w: &mut Writer, high_water: Option<Price>, days: &BTreeSet<u32>) {
    match high_water {
        None => w.u8(0),
        Some(p) => {
            w.u8(1);
            w.u64(p.num_fen);
            w.u64(p.den_atoms);
        }
    }
    w.u64(days.len() as u64);
    for &d in days {
        w.u32(d);
    }
}

fn read_history(r: &mut Reader) -> DecodeResult<(Option<Price>, BTreeSet<u32>)> {
    let high_water = match r.u8()? {
        0 => None,
        1 => Some(Price {
            num_fen: r.u64()?,
            den_atoms: r.u64()?,
        }),
        b => return Err(format!("bad high-water flag {b}")),
    };
    let mut settled_days = BTreeSet::new();
    for _ in 0..r.count(4)? {
        settled_days.insert(r.u32()?);
    }
    Ok((high_water, settled_days))
}

fn write_accounts(w: &mut Writer, e: &Economy) {
    w.u64(e.accounts.len() as u64);
    let mut prev = "";
    for a in e.accounts.iter() {
        w.name_after(prev, &a.name);
        prev = &a.name;
        w.u8(match a.kind {
            Kind::Consumer => 0,
            Kind::Merchant => 1,
        });
        for v in [
            a.atoms,
            a.quota_fen,
            a.stable_fen,
            a.spent_fen,
            a.dividends_fen,
        ] {
            w.varint(v);
        }
        w.varint(u64::from(a.exits));
        w.varint(u64::from(a.referrer));
    }
}

fn read_accounts(r: &mut Reader, economy: &mut Economy) -> DecodeResult<()> {
    let accounts = r.count(10)?;
    economy.accounts.reserve(accounts);
    let mut prev = Name::default();
    for _ in 0..accounts {
        let name = r.name_after(&prev)?;
        prev = name.clone();
        let kind = match r.u8()? {
            0 => Kind::Consumer,
            1 => Kind::Merchant,
            b => return Err(format!("bad account kind {b}")),
        };
        let mut a = Account::new(name, kind, NO_REFERRER);
        a.atoms = r.varint()?;
        a.quota_fen = r.varint()?;
        a.stable_fen = r.varint()?;
        a.spent_fen = r.varint()?;
        a.dividends_fen = r.varint()?;
        a.exits = r.varint_u32()?;
        a.referrer = r.varint_u32()?;
        economy.restore_account(a)?;
    }
    Ok(())
}

/// The sets of rates orders were paid under, then the orders.
fn write_orders(w: &mut Writer, e: &Economy) {
    let rate_sets = e.orders.rate_sets();
    w.u64(rate_sets.len() as u64);
    for r in rate_sets {
        for v in [r.reserve_bps, r.reward_bps, r.referral_bps, r.dividend_bps] {
            w.u16(v);
        }
        w.u32(r.quota_multiplier_bps);
        w.u8(r.stable_payment_earns as u8);
    }
    w.u64(e.orders.len() as u64);
    let (mut prev, mut prev_seq) = ("", 0);
    for o in e.orders.iter() {
        w.name_after(prev, &o.name);
        prev = &o.name;
        w.varint(u64::from(o.consumer));
        w.varint(u64::from(o.merchant));
        w.varint(o.cash_fen);
        w.varint(o.stable_fen);
        w.varint(u64::from(o.rates));
        w.u8(match o.status {
            OrderStatus::Pending => 0,
            OrderStatus::Confirmed => 1,
            OrderStatus::Refunded => 2,
        });
        w.delta(prev_seq, o.paid_seq);
        prev_seq = o.paid_seq;
    }
}

fn read_orders(r: &mut Reader, economy: &mut Economy) -> DecodeResult<()> {
    let mut rate_sets = Vec::new();
    for _ in 0..r.count(13)? {
        rate_sets.push(OrderRates {
            reserve_bps: r.u16()?,
            reward_bps: r.u16()?,
            referral_bps: r.u16()?,
            dividend_bps: r.u16()?,
            quota_multiplier_bps: r.u32()?,
            stable_payment_earns: r.bool()?,
        });
    }
    economy.orders.restore_rate_sets(rate_sets);
    let orders = r.count(9)?;
    economy.orders.reserve(orders);
    let (mut prev, mut prev_seq) = (Name::default(), 0);
    for _ in 0..orders {
        let name = r.name_after(&prev)?;
        prev = name.clone();
        let (consumer, merchant) = (r.varint_u32()?, r.varint_u32()?);
        let (cash_fen, stable_fen) = (r.varint()?, r.varint()?);
        let rates = r.varint_u32()?;
        let status = match r.u8()? {
            0 => OrderStatus::Pending,
            1 => OrderStatus::Confirmed,
            2 => OrderStatus::Refunded,
            b => return Err(format!("bad order status {b}")),
        };
        let paid_seq = r.delta(prev_seq)?;
        prev_seq = paid_seq;
        economy.restore_order(Order {
            paid_seq,
            name,
            consumer,
            merchant,
            cash_fen,
            stable_fen,
            rates,
            status,
        })?;
    }
    Ok(())
}

/// Stage 2 (SPEC §13): the clock, the policy, and the collectibles in creation order.
fn write_stage2(w: &mut Writer, e: &Economy) {
    w.u64(e.clock() as u64);
    let p = e.policy();
    w.u8(p.gifting_enabled as u8);
    w.u32(p.gift_hold_days);
    w.u8(p.exchange_enabled as u8);
    w.u64(e.collectibles().len() as u64);
    let mut prev = "";
    for c in e.collectibles().iter() {
        w.name_after(prev, &c.name);
        prev = &c.name;
        w.name(&c.series);
        w.varint(u64::from(c.owner));
        w.varint(c.atoms);
        w.0.extend_from_slice(&c.content_sha256);
        w.u8(match c.state {
            CollectibleState::Held => 0,
            CollectibleState::Exported => 1,
            CollectibleState::Dissolved => 2,
        });
        match &c.venue {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                w.name(v);
            }
        }
        w.u64(c.acquired as u64);
    }
}

fn read_stage2(r: &mut Reader, economy: &mut Economy) -> DecodeResult<()> {
    let clock = r.u64()? as i64;
    let policy = Policy {
        gifting_enabled: r.bool()?,
        gift_hold_days: r.u32()?,
        exchange_enabled: r.bool()?,
    };
    if policy.gift_hold_days > GIFT_HOLD_DAYS_MAX || clock < 0 {
        return Err("bad collectible policy or clock".into());
    }
    economy.restore_clock(clock, policy);
    let collectibles = r.count(44)?;
    let mut prev = Name::default();
    for _ in 0..collectibles {
        let name = r.name_after(&prev)?;
        prev = name.clone();
        economy.restore_collectible(read_collectible(r, name)?)?;
    }
    Ok(())
}

/// Stage 3 (SPEC §14): the settled total, the running totals of flows, then each account owed money, as a varint delta of
/// its id from the previous one's, the amount, and since when. Most accounts are owed nothing.
fn write_stage3(w: &mut Writer, e: &Economy) {
    w.u64(e.settled_fen);
    let f = e.flows();
    for v in [
        f.to_reserve_fen,
        f.to_dividend_pool_fen,
        f.to_escrow_fen,
        f.dividends_paid_fen,
        f.fees_kept_fen,
        f.owed_added_fen,
    ] {
        w.u64(v);
    }
    let mut owing = e.accounts.with_extras();
    owing.retain(|(_, x)| x.owed_fen > 0);
    w.u64(owing.len() as u64);
    let mut prev = 0u64;
    for (id, x) in owing {
        w.varint(id as u64 - prev);
        w.varint(x.owed_fen);
        w.u64(x.owed_since as u64);
        prev = id as u64;
    }
}

fn read_stage3(r: &mut Reader, economy: &mut Economy) -> DecodeResult<()> {
    let settled = r.u64()?;
    economy.flows = crate::economy::Flows {
        to_reserve_fen: r.u64()?,
        to_dividend_pool_fen: r.u64()?,
        to_escrow_fen: r.u64()?,
        dividends_paid_fen: r.u64()?,
        fees_kept_fen: r.u64()?,
        owed_added_fen: r.u64()?,
    };
    let owed = r.count(10)?;
    let mut id = 0u64;
    for n in 0..owed {
        let step = r.varint()?;
        if n > 0 && step == 0 {
            return Err("owed accounts out of order".into());
        }
        id = id.checked_add(step).ok_or("owed account id overflows")?;
        let fen = r.varint()?;
        let since = r.u64()? as i64;
        economy.restore_owed(id, fen, since)?;
    }
    economy.restore_settled(settled);
    Ok(())
}

/// One collectible after its name.
fn read_collectible(r: &mut Reader, name: Name) -> DecodeResult<Collectible> {
    let series = r.name()?;
    let owner = r.varint_u32()?;
    let atoms = r.varint()?;
    let content_sha256: [u8; 32] = r
        .take(32)?
        .try_into()
        .map_err(|_| "truncated collectible hash".to_string())?;
    let state = match r.u8()? {
        0 => CollectibleState::Held,
        1 => CollectibleState::Exported,
        2 => CollectibleState::Dissolved,
        b => return Err(format!("bad collectible state {b}")),
    };
    let venue = match r.u8()? {
        0 => None,
        1 => Some(r.name()?),
        b => return Err(format!("bad venue flag {b}")),
    };
    Ok(Collectible {
        name,
        series,
        owner,
        atoms,
        content_sha256,
        state,
        venue,
        acquired: r.u64()? as i64,
    })
}

/// The id table, in the order the ids were first used.
fn write_ids(w: &mut Writer, ledger: &Ledger) {
    w.u64(ledger.ids.list.len() as u64);
    let (mut prev, mut prev_seq) = ("", 0);
    for r in ledger.ids.list.iter() {
        w.name_after(prev, &r.id);
        prev = &r.id;
        w.u64(r.fingerprint[0]);
        w.u64(r.fingerprint[1]);
        w.u8(r.code);
        w.delta(prev_seq, r.seq);
        prev_seq = r.seq;
    }
}

fn read_ids(r: &mut Reader, ledger: &mut Ledger) -> DecodeResult<()> {
    let ids = r.count(20)?;
    ledger.ids.reserve(ids);
    let history = ledger.applied + ledger.rejected;
    let (mut prev, mut prev_seq) = (Name::default(), 0);
    for _ in 0..ids {
        let record = IdRecord {
            id: r.name_after(&prev)?,
            fingerprint: [r.u64()?, r.u64()?],
            code: r.u8()?,
            seq: r.delta(prev_seq)?,
        };
        prev = record.id.clone();
        prev_seq = record.seq;
        if record.code != 0 && Code::from_u8(record.code).is_none() {
            return Err(format!("bad outcome code {}", record.code));
        }
        if record.seq == 0 || record.seq > history {
            return Err(format!(
                "id {} has seq {} outside history",
                record.id, record.seq
            ));
        }
        if ledger.ids.find(&record.id).is_some() {
            return Err(format!("id {} appears twice", record.id));
        }
        ledger.ids.push(record);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;

    /// A ledger where a sale left money owed, part of it paid.
    fn owing() -> Ledger {
        let mut l = Ledger::new(Rules::default());
        let commands = [
            Command::RegisterMerchant {
                account: "shop".into(),
            },
            Command::RegisterConsumer {
                account: "alice".into(),
                referrer: None,
            },
            Command::PayOrder {
                order: "o1".into(),
                consumer: "alice".into(),
                merchant: "shop".into(),
                cash_fen: Some(10_000),
                stable_fen: Some(0),
                signals: None,
            },
            Command::ConfirmOrder { order: "o1".into() },
            Command::Sell {
                account: "alice".into(),
                atoms: Some(1_000_000_000),
            },
            Command::RecordPayout {
                account: "alice".into(),
                amount_fen: Some(100),
                reference: "wx-1".into(),
            },
        ];
        for (i, c) in commands.iter().enumerate() {
            let id = format!("c{i}");
            let out = l.submit(Some(&id), crate::Fingerprint(i as u128), Ok(c));
            assert_eq!(out.result, Ok(()), "{c:?}");
        }
        l
    }

    #[test]
    fn owed_and_settled_survive_a_round_trip() {
        let l = owing();
        let owed = |e: &crate::Economy| e.accounts().extras(e.accounts().find("alice").unwrap());
        let a = owed(l.economy()).owed_fen;
        assert!(a > 0);
        let back = Ledger::decode(&l.encode()).unwrap();
        assert_eq!(owed(back.economy()).owed_fen, a);
        assert_eq!(back.economy().totals().settled_fen.0, 100);
        assert_eq!(back.encode(), l.encode());
    }

    #[test]
    fn a_snapshot_from_before_payouts_is_refused_so_the_journal_is_replayed() {
        let mut bytes = owing().encode();
        bytes[4..8].copy_from_slice(&4u32.to_le_bytes());
        let why = Ledger::decode(&bytes).err().unwrap();
        assert!(why.contains("replay the journal"), "{why}");
    }
}
