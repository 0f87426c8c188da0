//! The demo's 60 days (issue 23): a wine shop's programme as it would have run up to now on the
//! server's clock, written through a journal of its own whose clock walks the days, so every
//! entry, price sample and settlement carries its own day. New consumers join each day (a third
//! by referral), buy a few times, and a few whales buy more; orders are confirmed the next day;
//! some points are sold or converted; each day is settled, so the pool pays and caps bind; and
//! exits happen. A tier table by points with a partner level, an award, collectibles, a
//! certificate, a gift and a frozen account complete it. Everything is deterministic.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use jifen_journal::{Journal, JournalError, Submitted};
use serde_json::{json, Value};

use crate::bounds::DAY_MS;
use crate::economies::Economies;
use crate::store::StoreHandle;

/// Days of history before now.
pub const DAYS: i64 = 60;
const HOUR_MS: i64 = 3_600_000;

/// A small deterministic generator (an LCG), so the demo is the same on every machine.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What one day adds, as (hour of the day, commands).
struct Day {
    n: i64,
    batches: Vec<(i64, Vec<Value>)>,
}

fn tiers() -> Value {
    let level = |zh: &str, en: &str, points: u64, partner: bool, bzh: &str, ben: &str| {
        json!({"name_zh": zh, "name_en": en, "min": points * 100_000_000, "partner": partner,
            "benefits_zh": bzh, "benefits_en": ben})
    };
    json!({"basis": "points", "downgrade": "at_settlement", "levels": [
        level("会员", "Member", 0, false, "生日礼券", "A birthday voucher"),
        level("银卡", "Silver", 20, false, "免费品鉴会", "Free tastings"),
        level("金卡", "Gold", 60, false, "新酒优先购买", "First choice of new vintages"),
        level("钻石", "Diamond", 150, true, "酒庄年度晚宴", "The winery's annual dinner")]})
}

/// The commands of day `n` (0 is 60 days ago), with `seal` the artwork's hash.
fn day(n: i64, dice: &mut Dice, seal: &str, joined: &mut u64) -> Day {
    let mut morning = Vec::new();
    if n == 0 {
        morning.push(json!({"type": "register_merchant", "id": "demo-m", "account": "wine-shop"}));
        morning.push(json!({"type": "set_tiers", "id": "demo-tiers", "tiers": tiers()}));
        morning.push(
            json!({"type": "set_collectible_policy", "id": "demo-policy", "policy":
            {"gifting_enabled": true, "gift_hold_days": 7, "exchange_enabled": false}}),
        );
    }
    // Yesterday's orders are received today.
    if n > 0 {
        for o in orders_of(n - 1) {
            morning.push(json!({"type": "confirm_order", "id": format!("demo-k-{o}"), "order": o}));
        }
    }
    let mut noon = Vec::new();
    for _ in 0..3 + dice.below(3) {
        *joined += 1;
        let name = format!("c{:03}", *joined);
        let mut r = json!({"type": "register_consumer", "id": format!("demo-r{}", *joined), "account": name});
        if *joined > 3 && joined.is_multiple_of(3) {
            r["referrer"] = json!(format!("c{:03}", dice.below(*joined - 1) + 1));
        }
        noon.push(r);
    }
    for (i, o) in orders_of(n).into_iter().enumerate() {
        let buyer = if i == 0 && n % 5 == 0 {
            1 + dice.below(5)
        } else {
            1 + dice.below(*joined)
        };
        let fen = if buyer <= 5 {
            50_000 + dice.below(5) * 10_000
        } else {
            5_000 + dice.below(30) * 1_000
        };
        noon.push(json!({"type": "pay_order", "id": format!("demo-p-{o}"), "order": o,
            "consumer": format!("c{buyer:03}"), "merchant": "wine-shop", "cash_fen": fen, "stable_fen": 0}));
    }
    let mut evening = Vec::new();
    if n > 2 && n % 3 == 0 {
        let c = format!("c{:03}", 1 + dice.below((*joined).min(40)));
        evening.push(json!({"type": "sell", "id": format!("demo-s{n}"), "account": c, "atoms": 100_000_000u64}));
    }
    if n > 2 && n % 4 == 1 {
        let c = format!("c{:03}", 1 + dice.below((*joined).min(40)));
        evening.push(json!({"type": "convert_to_stable", "id": format!("demo-x{n}"), "account": c, "atoms": 100_000_000u64}));
    }
    evening.extend(specials(n, seal));
    Day {
        n,
        batches: vec![(9, morning), (12, noon), (20, evening)],
    }
}

/// The orders paid on day `n`: eight to twelve, named by day.
fn orders_of(n: i64) -> Vec<String> {
    let count = 8 + (n * 7 % 5);
    (0..count).map(|i| format!("d{n:02}-{i:02}")).collect()
}

/// The collectibles, the certificate, the gift, the freeze and the award, on their days.
fn specials(n: i64, seal: &str) -> Vec<Value> {
    match n {
        5 => vec![
            json!({"type": "issue_certificate", "id": "demo-cert1", "collectible": "cert-d00-00", "order": "d00-00", "series": "vintage-2026", "content_sha256": seal}),
        ],
        10 => vec![
            json!({"type": "mint_collectible", "id": "demo-mint1", "collectible": "vintage-2026-001", "account": "c002", "series": "vintage-2026", "atoms": 300_000_000u64, "content_sha256": seal}),
        ],
        12 => vec![
            json!({"type": "mint_collectible", "id": "demo-mint2", "collectible": "vintage-2026-002", "account": "c003", "series": "vintage-2026", "atoms": 200_000_000u64, "content_sha256": seal}),
        ],
        25 => vec![
            json!({"type": "gift_collectible", "id": "demo-gift1", "collectible": "vintage-2026-001", "to": "c010"}),
        ],
        40 => vec![
            json!({"type": "freeze_account", "id": "demo-freeze1", "account": "c020", "reason": "核查异常订单 reviewing unusual orders"}),
        ],
        55 => vec![
            json!({"type": "record_award", "id": "demo-award1", "award": "top10-demo", "top": 10, "prizes": ["年度珍藏一箱", "珍藏两瓶", "珍藏一瓶", "酒庄纪念品"]}),
        ],
        _ => Vec::new(),
    }
}

/// Writes the 60 days into the new demo economy, through a journal whose clock walks them,
/// then closes it; the caller opens the economy as usual.
pub fn write_history(
    economies: &Economies,
    store: &StoreHandle,
    meta: &jifen_journal::EconomyMeta,
    start_ms: i64,
    seal: &str,
) -> Result<(), JournalError> {
    let clock = Arc::new(AtomicI64::new(start_ms));
    let mut config = economies.journal_config();
    let walk = clock.clone();
    config.clock = Arc::new(move || walk.load(Ordering::Relaxed));
    config.advance_clock = true;
    config.on_commit = None;
    let (journal, _) = Journal::open(store.open_own()?, &meta.id, config)?;
    let tz =
        crate::times::time_zone(&meta.timezone).map_err(|e| JournalError::Invalid(e.message))?;
    let (mut dice, mut joined) = (Dice(2026), 0);
    for n in 0..DAYS {
        let base = start_ms + n * DAY_MS;
        if n > 0 {
            // Yesterday's pool, settled just after midnight.
            clock.store(base + HOUR_MS, Ordering::Relaxed);
            let (_, yesterday) = crate::times::day_start(&tz, base - 1)
                .map_err(|e| JournalError::Invalid(e.message))?;
            let day = yesterday.to_string();
            let settle = json!({"type": "settle_dividends", "id": crate::scheduler::auto_settle_id(&day), "day": day});
            journal.submit_wait(vec![Submitted::Value(settle)])?;
        }
        let d = day(n, &mut dice, seal, &mut joined);
        for (hour, commands) in d.batches {
            if commands.is_empty() {
                continue;
            }
            clock.store(base + hour * HOUR_MS + d.n * 1000, Ordering::Relaxed);
            journal.submit_wait(commands.into_iter().map(Submitted::Value).collect())?;
        }
    }
    journal.shutdown()
}
