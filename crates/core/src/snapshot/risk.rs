//! The risk section (SPEC §17, format 7): the rules, trust lists, every hold with its reasons
//! and reviews, and what the rules remember. Maps are written in key order, so the same state
//! always encodes to the same bytes. A format 6 snapshot has none: it predates them, and an
//! economy then had no risk state at all.

use std::collections::VecDeque;

use super::{DecodeResult, Reader, Writer};
use crate::account::AccountId;
use crate::risk::{
    Decision, Hold, Reason, RecentOrder, Review, Risk, RiskRule, RiskRules, SignalKind, Trust,
    RECENT_ORDERS,
};

pub(super) fn write_risk(w: &mut Writer, risk: &Risk) {
    write_rules(w, &risk.rules);
    let trusted = risk.trusted();
    w.u64(trusted.len() as u64);
    for (id, t) in trusted {
        w.varint(id as u64);
        w.u8(t as u8);
    }
    w.u64(risk.holds.len() as u64);
    for h in &risk.holds {
        write_hold(w, h);
    }
    write_tracking(w, risk);
}

fn write_rules(w: &mut Writer, r: &RiskRules) {
    w.u8(r.enabled as u8);
    w.u32(r.velocity_orders);
    w.u64(r.velocity_fen);
    w.u64(r.large_order_fen);
    w.u32(r.large_order_median_times);
    w.u8(r.self_dealing as u8);
    w.u32(r.ring_referees);
    w.u32(r.ring_hours);
    w.u8(r.ring_shared_signals as u8);
    w.u32(r.refund_rate_pct);
    w.u32(r.new_account_hours);
    w.u64(r.new_account_fen);
    w.u32(r.hold_days);
}

fn read_rules(r: &mut Reader) -> DecodeResult<RiskRules> {
    let rules = RiskRules {
        enabled: r.bool()?,
        velocity_orders: r.u32()?,
        velocity_fen: r.u64()?,
        large_order_fen: r.u64()?,
        large_order_median_times: r.u32()?,
        self_dealing: r.bool()?,
        ring_referees: r.u32()?,
        ring_hours: r.u32()?,
        ring_shared_signals: r.bool()?,
        refund_rate_pct: r.u32()?,
        new_account_hours: r.u32()?,
        new_account_fen: r.u64()?,
        hold_days: r.u32()?,
    };
    rules
        .is_valid()
        .then_some(rules)
        .ok_or_else(|| "risk rules out of bounds".to_string())
}

fn write_hold(w: &mut Writer, h: &Hold) {
    w.varint(h.order as u64);
    w.u64(h.seq);
    w.u64(h.at as u64);
    w.u64(h.expires_at as u64);
    w.u64(h.reasons.len() as u64);
    for r in &h.reasons {
        w.u8(r.rule as u8);
        w.u64(r.figure);
        w.u64(r.threshold);
        w.u8(r.signal.map_or(u8::MAX, |s| s as u8));
    }
    w.u64(h.reviews.len() as u64);
    for v in &h.reviews {
        w.u64(v.seq);
        w.u64(v.at as u64);
        w.u8(v.decision as u8);
        w.text(&v.reviewer);
        w.text(&v.note);
    }
}

fn read_hold(r: &mut Reader, orders: usize) -> DecodeResult<Hold> {
    let order = r.varint()?;
    if order >= orders as u64 {
        return Err(format!("a hold of order {order}, which does not exist"));
    }
    let (seq, at, expires_at) = (r.u64()?, r.u64()? as i64, r.u64()? as i64);
    let mut reasons = Vec::new();
    for _ in 0..r.count(18)? {
        let rule = RiskRule::from_u8(r.u8()?).ok_or("bad risk rule")?;
        let (figure, threshold) = (r.u64()?, r.u64()?);
        let signal = match r.u8()? {
            u8::MAX => None,
            b => Some(SignalKind::from_u8(b).ok_or("bad signal kind")?),
        };
        reasons.push(Reason {
            rule,
            figure,
            threshold,
            signal,
        });
    }
    let mut reviews = Vec::new();
    for _ in 0..r.count(19)? {
        reviews.push(Review {
            seq: r.u64()?,
            at: r.u64()? as i64,
            decision: Decision::from_u8(r.u8()?).ok_or("bad decision")?,
            reviewer: r.text()?,
            note: r.text()?,
        });
    }
    Ok(Hold {
        order: order as u32,
        reasons,
        seq,
        at,
        expires_at,
        reviews,
    })
}

fn write_tracking(w: &mut Writer, risk: &Risk) {
    let t = &risk.tracking;
    w.u64(t.recent.len() as u64);
    for (id, orders) in t.recent.iter() {
        w.varint(id as u64);
        w.u64(orders.len() as u64);
        for o in orders.iter() {
            w.varint(o.order as u64);
            w.u64(o.at as u64);
            w.varint(o.fen);
            w.u8(o.refunded as u8);
        }
    }
    let signals = t.signals.sorted();
    w.u64(signals.len() as u64);
    for ((kind, hash), ids) in signals {
        w.u8(kind as u8);
        w.u64(hash);
        w.u64(ids.len() as u64);
        ids.iter().for_each(|id| w.varint(id as u64));
    }
    w.u64(t.registered.len() as u64);
    for (id, at) in &t.registered {
        w.varint(*id as u64);
        w.u64(*at as u64);
    }
    let mut referees: Vec<_> = t.referees.iter().collect();
    referees.sort_unstable_by_key(|(id, _)| **id);
    w.u64(referees.len() as u64);
    for (id, times) in referees {
        w.varint(*id as u64);
        w.u64(times.len() as u64);
        times.iter().for_each(|at| w.u64(*at as u64));
    }
}

/// Reads the section, checking account and order ids and rebuilding the open-hold indexes.
pub(super) fn read_risk(r: &mut Reader, accounts: usize, orders: usize) -> DecodeResult<Risk> {
    let account = |v: u64| -> DecodeResult<AccountId> {
        (v < accounts as u64)
            .then_some(v as AccountId)
            .ok_or_else(|| format!("no account {v}"))
    };
    let mut risk = Risk {
        rules: read_rules(r)?,
        ..Risk::default()
    };
    for _ in 0..r.count(2)? {
        let id = account(r.varint()?)?;
        let t = match r.u8()? {
            1 => Trust::Allow,
            2 => Trust::Deny,
            b => return Err(format!("bad trust {b}")),
        };
        risk.trust.insert(id, t);
    }
    for _ in 0..r.count(27)? {
        let hold = read_hold(r, orders)?;
        let i = risk.holds.len() as u32;
        if risk.by_order.insert(hold.order, i).is_some() {
            return Err(format!("order {} held twice", hold.order));
        }
        if hold.is_open() {
            risk.open.insert((hold.expires_at, hold.order));
        }
        risk.holds.push(hold);
    }
    read_tracking(r, &mut risk, &account, orders)?;
    Ok(risk)
}

fn read_tracking(
    r: &mut Reader,
    risk: &mut Risk,
    account: &dyn Fn(u64) -> DecodeResult<AccountId>,
    orders: usize,
) -> DecodeResult<()> {
    let t = &mut risk.tracking;
    for _ in 0..r.count(2)? {
        let id = account(r.varint()?)?;
        if t.recent.get(id).is_some() {
            return Err(format!("account {id}'s recent orders twice"));
        }
        let n = r.count(11)?;
        if n == 0 || n > RECENT_ORDERS {
            return Err(format!("a list of {n} recent orders"));
        }
        let ring = t.recent.list(id);
        for _ in 0..n {
            let order = r.varint()?;
            if order >= orders as u64 {
                return Err(format!("a recent order {order}, which does not exist"));
            }
            let o = RecentOrder {
                order: order as u32,
                at: r.u64()? as i64,
                fen: r.varint()?,
                refunded: r.bool()?,
            };
            if ring.iter().last().is_some_and(|last| last.at > o.at) {
                return Err("recent orders out of clock order".into());
            }
            ring.push(o);
        }
    }
    for _ in 0..r.count(10)? {
        let kind = SignalKind::from_u8(r.u8()?).ok_or("bad signal kind")?;
        let hash = r.u64()?;
        let n = r.count(1)?;
        if n == 0 || n > crate::risk::SIGNAL_ACCOUNTS_MAX {
            return Err(format!("a signal with {n} accounts"));
        }
        let first = account(r.varint()?)?;
        let more = (1..n)
            .map(|_| account(r.varint()?))
            .collect::<DecodeResult<_>>()?;
        t.signals.insert(kind, hash, first, more)?;
    }
    for _ in 0..r.count(9)? {
        let id = account(r.varint()?)?;
        t.registered.push_back((id, r.u64()? as i64));
    }
    for _ in 0..r.count(2)? {
        let id = account(r.varint()?)?;
        let mut times = VecDeque::new();
        for _ in 0..r.count(8)? {
            times.push_back(r.u64()? as i64);
        }
        t.referees.insert(id, times);
    }
    Ok(())
}
