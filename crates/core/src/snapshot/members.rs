//! The members section (SPEC §16, format 6): the tier table, each account's status, the log of
//! status changes, frozen accounts and awards. A format 5 snapshot has none: it predates them.

use std::collections::BTreeMap;

use super::{DecodeResult, Reader, Writer};
use crate::account::AccountId;
use crate::members::{Award, Basis, Downgrade, Frozen, Members, Text, Tier, TierChange, TierTable};

impl Writer<'_> {
    /// Free text: a varint length and UTF-8 bytes.
    pub(super) fn text(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
}

impl Reader<'_> {
    pub(super) fn text(&mut self) -> DecodeResult<Text> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| "text too long".to_string())?;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| "text is not UTF-8".to_string())?;
        Ok(Text::from(s))
    }
}

pub(super) fn write_members(w: &mut Writer, m: &Members) {
    write_table(w, m.table());
    w.u64(m.status.len() as u64);
    w.0.extend_from_slice(&m.status);
    w.u64(m.log.len() as u64);
    let mut prev = 0;
    for c in &m.log {
        w.varint(c.seq - prev);
        w.varint(c.account as u64);
        w.u8(c.from);
        w.u8(c.to);
        prev = c.seq;
    }
    w.u64(m.frozen.len() as u64);
    for (id, f) in &m.frozen {
        w.varint(*id as u64);
        w.varint(f.seq);
        w.text(&f.reason);
    }
    w.u64(m.awards.len() as u64);
    for a in &m.awards {
        write_award(w, a);
    }
}

fn write_table(w: &mut Writer, t: &TierTable) {
    w.u8(matches!(t.basis, Basis::Spend) as u8);
    w.u8(matches!(t.downgrade, Downgrade::AtSettlement) as u8);
    w.u64(t.partner_min.unwrap_or(0));
    w.u8(t.tiers.len() as u8);
    for tier in &t.tiers {
        w.text(&tier.name_zh);
        w.text(&tier.name_en);
        w.u64(tier.min);
        w.u8(tier.partner as u8);
        w.text(&tier.benefits_zh);
        w.text(&tier.benefits_en);
    }
}

fn write_award(w: &mut Writer, a: &Award) {
    w.name(&a.name);
    w.u64(a.at as u64);
    w.u64(a.seq);
    w.varint(a.prizes.len() as u64);
    for p in &a.prizes {
        w.text(p);
    }
    w.varint(a.ranking.len() as u64);
    for (id, atoms) in &a.ranking {
        w.varint(*id as u64);
        w.varint(*atoms);
    }
}

/// Reads the section, checking every account id against `accounts` and the table's bounds.
pub(super) fn read_members(r: &mut Reader, accounts: usize) -> DecodeResult<Members> {
    let table = read_table(r)?;
    let n = r.count(1)?;
    if n > accounts {
        return Err("more statuses than accounts".into());
    }
    let status = r.take(n)?.to_vec();
    if status
        .iter()
        .any(|s| crate::members::level_of(*s) >= table.tiers.len())
    {
        return Err("a status names no tier".into());
    }
    let account = |v: u64| -> DecodeResult<AccountId> {
        (v < accounts as u64)
            .then_some(v as AccountId)
            .ok_or_else(|| format!("no account {v}"))
    };
    let mut log = Vec::with_capacity(r.count(4)?);
    let mut seq = 0u64;
    for _ in 0..log.capacity() {
        seq = seq.checked_add(r.varint()?).ok_or("log seq overflows")?;
        let account = account(r.varint()?)?;
        let (from, to) = (r.u8()?, r.u8()?);
        log.push(TierChange {
            seq,
            account,
            from,
            to,
        });
    }
    let mut frozen = BTreeMap::new();
    for _ in 0..r.count(3)? {
        let id = account(r.varint()?)?;
        let seq = r.varint()?;
        frozen.insert(
            id,
            Frozen {
                seq,
                reason: r.text()?,
            },
        );
    }
    let mut awards = Vec::new();
    for _ in 0..r.count(20)? {
        awards.push(read_award(r, &account)?);
    }
    Ok(Members {
        table,
        status,
        log,
        frozen,
        awards,
    })
}

fn read_table(r: &mut Reader) -> DecodeResult<TierTable> {
    let basis = if r.bool()? {
        Basis::Spend
    } else {
        Basis::Points
    };
    let downgrade = if r.bool()? {
        Downgrade::AtSettlement
    } else {
        Downgrade::Never
    };
    let partner_min = Some(r.u64()?).filter(|&m| m > 0);
    let mut tiers = Vec::new();
    for _ in 0..r.u8()? {
        tiers.push(Tier {
            name_zh: r.text()?,
            name_en: r.text()?,
            min: r.u64()?,
            partner: r.bool()?,
            benefits_zh: r.text()?,
            benefits_en: r.text()?,
        });
    }
    let table = TierTable {
        basis,
        downgrade,
        partner_min,
        tiers,
    };
    table.check().map_err(|e| format!("tier table: {e}"))?;
    Ok(table)
}

fn read_award(
    r: &mut Reader,
    account: &impl Fn(u64) -> DecodeResult<AccountId>,
) -> DecodeResult<Award> {
    let name = r.name()?;
    let at = r.u64()? as i64;
    let seq = r.u64()?;
    let mut prizes = Vec::new();
    for _ in 0..r.varint()?.min(crate::members::AWARD_TOP_MAX + 1) {
        prizes.push(r.text()?);
    }
    let places = r.varint()?;
    if places > crate::members::AWARD_TOP_MAX {
        return Err("an award ranks too many places".into());
    }
    let mut ranking = Vec::new();
    for _ in 0..places {
        ranking.push((account(r.varint()?)?, r.varint()?));
    }
    Ok(Award {
        name,
        at,
        seq,
        prizes,
        ranking,
    })
}
