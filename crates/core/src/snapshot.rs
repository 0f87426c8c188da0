//! A deterministic binary encoding of a whole [`Ledger`], for snapshots.
//!
//! The same state always encodes to the same bytes: accounts, orders and ids are written in the
//! order they were created, never in hash order. Derived state (the exit index, running totals)
//! is not written; decoding rebuilds it and then checks every invariant, so a snapshot that
//! decodes is a state the engine could have reached. Integrity against storage faults is the
//! caller's job (the journal wraps this in a checksum).
//!
//! Layout, little-endian: `b"JFNS"`, format version `u32`, then the sections in the order of
//! [`Ledger::encode`]. Names are a `u8` length and bytes.

use std::collections::BTreeSet;

use crate::account::{Account, Kind, NO_REFERRER};
use crate::economy::Economy;
use crate::ledger::{IdRecord, Ledger};
use crate::name::{is_valid_name, Name};
use crate::order::{Order, OrderStatus};
use crate::rules::{OrderRates, Rules};
use crate::units::Price;
use crate::Code;

const MAGIC: &[u8; 4] = b"JFNS";
const FORMAT_VERSION: u32 = 2;

struct Writer(Vec<u8>);

impl Writer {
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
    fn name(&mut self) -> DecodeResult<Name> {
        let len = self.u8()? as usize;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| "name is not UTF-8".to_string())?;
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
    for v in [
        r.initial_price_fen,
        r.reserve_bps,
        r.reward_bps,
        r.referral_bps,
        r.dividend_bps,
        r.quota_multiplier_bps,
        r.sell_fee_bps,
        r.convert_fee_bps,
        r.issuance_cap_points,
    ] {
        w.u64(v);
    }
    w.u8(r.exit_enabled as u8);
    w.u8(r.stable_payment_earns as u8);
    w.u64(r.order_max_fen);
}

fn read_rules(r: &mut Reader) -> DecodeResult<Rules> {
    Ok(Rules {
        initial_price_fen: r.u64()?,
        reserve_bps: r.u64()?,
        reward_bps: r.u64()?,
        referral_bps: r.u64()?,
        dividend_bps: r.u64()?,
        quota_multiplier_bps: r.u64()?,
        sell_fee_bps: r.u64()?,
        convert_fee_bps: r.u64()?,
        issuance_cap_points: r.u64()?,
        exit_enabled: r.bool()?,
        stable_payment_earns: r.bool()?,
        order_max_fen: r.u64()?,
    })
}

impl Ledger {
    /// The state as deterministic bytes.
    pub fn encode(&self) -> Vec<u8> {
        let e = &self.economy;
        let mut w = Writer(Vec::with_capacity(
            256 + e.accounts.len() * 80 + e.orders.len() * 48 + self.ids.list.len() * 48,
        ));
        w.0.extend_from_slice(MAGIC);
        w.u32(FORMAT_VERSION);
        write_rules(&mut w, e.rules());
        let t = e.totals();
        for v in [
            t.reserve_fen,
            t.dividend_pool_fen,
            t.escrow_fen,
            t.paid_out_fen,
            t.contributions_fen,
            t.circulating_atoms,
            t.treasury_atoms,
            t.burned_atoms,
            t.issued_atoms,
        ] {
            w.u64(v);
        }
        match e.high_water() {
            None => w.u8(0),
            Some(p) => {
                w.u8(1);
                w.u64(p.num_fen);
                w.u64(p.den_atoms);
            }
        }
        w.u64(e.settled_days().len() as u64);
        for &d in e.settled_days() {
            w.u32(d);
        }
        w.u64(e.accounts.len() as u64);
        for a in e.accounts.iter() {
            w.name(&a.name);
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
                w.u64(v);
            }
            w.u32(a.exits);
            w.u32(a.referrer);
        }
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
        for o in e.orders.iter() {
            w.name(&o.name);
            w.u32(o.consumer);
            w.u32(o.merchant);
            w.u64(o.cash_fen);
            w.u64(o.stable_fen);
            w.u32(o.rates);
            w.u8(match o.status {
                OrderStatus::Pending => 0,
                OrderStatus::Confirmed => 1,
                OrderStatus::Refunded => 2,
            });
            w.u64(o.paid_seq);
        }
        w.u64(self.applied);
        w.u64(self.rejected);
        w.u64(self.ids.list.len() as u64);
        for r in &self.ids.list {
            w.name(&r.id);
            w.u64(r.fingerprint[0]);
            w.u64(r.fingerprint[1]);
            w.u8(r.code);
            w.u64(r.seq);
        }
        w.0
    }

    /// Rebuilds a ledger from [`Ledger::encode`] bytes, checking every invariant.
    pub fn decode(bytes: &[u8]) -> Result<Ledger, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err("not a jifen snapshot".into());
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(format!("snapshot format {version} is not supported"));
        }
        let rules = read_rules(&mut r)?;
        let mut totals = [0u64; 9];
        for t in &mut totals {
            *t = r.u64()?;
        }
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
        let mut economy = Economy::restore_start(rules, totals, high_water, settled_days)?;
        let accounts = r.count(58)?;
        economy.accounts.reserve(accounts);
        for _ in 0..accounts {
            let name = r.name()?;
            let kind = match r.u8()? {
                0 => Kind::Consumer,
                1 => Kind::Merchant,
                b => return Err(format!("bad account kind {b}")),
            };
            let mut a = Account::new(name, kind, NO_REFERRER);
            a.atoms = r.u64()?;
            a.quota_fen = r.u64()?;
            a.stable_fen = r.u64()?;
            a.spent_fen = r.u64()?;
            a.dividends_fen = r.u64()?;
            a.exits = r.u32()?;
            a.referrer = r.u32()?;
            economy.restore_account(a)?;
        }
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
        let orders = r.count(38)?;
        economy.orders.reserve(orders);
        for _ in 0..orders {
            let name = r.name()?;
            let (consumer, merchant) = (r.u32()?, r.u32()?);
            let (cash_fen, stable_fen) = (r.u64()?, r.u64()?);
            let rates = r.u32()?;
            let status = match r.u8()? {
                0 => OrderStatus::Pending,
                1 => OrderStatus::Confirmed,
                2 => OrderStatus::Refunded,
                b => return Err(format!("bad order status {b}")),
            };
            let paid_seq = r.u64()?;
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
        let applied = r.u64()?;
        let rejected = r.u64()?;
        let mut ledger = Ledger {
            economy,
            ids: Default::default(),
            applied,
            rejected,
        };
        let ids = r.count(26)?;
        ledger.ids.reserve(ids);
        for _ in 0..ids {
            let record = IdRecord {
                id: r.name()?,
                fingerprint: [r.u64()?, r.u64()?],
                code: r.u8()?,
                seq: r.u64()?,
            };
            if record.code != 0 && Code::from_u8(record.code).is_none() {
                return Err(format!("bad outcome code {}", record.code));
            }
            if record.seq == 0 || record.seq > applied + rejected {
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
        if r.at != bytes.len() {
            return Err(format!("{} trailing bytes", bytes.len() - r.at));
        }
        ledger.economy.restore_finish()?;
        Ok(ledger)
    }
}
