//! Which journal entries concern which account: the index behind an account's full history in
//! the console and a consumer's entries in the wallet.
//!
//! An entry concerns the accounts it names (`account`, `consumer`, `merchant`, `referrer`,
//! `to`) and,
//! for `confirm_order` and `refund_order`, the order's consumer and merchant. Settlements name
//! no one and are listed from the settlements table instead. Collectibles are indexed the same
//! way, by the `collectible` field. The index is built from the
//! journal the first time an economy's history is asked for, and then brought up to the head
//! at each request, reading only the entries since; it is derived data, held in memory (about
//! 8 bytes per account an entry names, plus each name and order once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jifen_journal::time::rfc3339_ms;
use jifen_journal::{Entry, JournalError, Store, StoreError};

use crate::store::StoreHandle;
use serde_json::{json, Value};

/// Entries read from the store per scan.
const SCAN_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct ActivityIndex {
    /// Every entry up to here is indexed.
    upto: u64,
    by_account: HashMap<Box<str>, Vec<u64>>,
    /// The same for collectibles (SPEC §13), by the `collectible` field.
    by_collectible: HashMap<Box<str>, Vec<u64>>,
    /// An order's consumer and merchant, from its `pay_order`.
    orders: HashMap<Box<str>, (Box<str>, Box<str>)>,
}

impl ActivityIndex {
    fn note(&mut self, name: &str, seq: u64) {
        note_in(&mut self.by_account, name, seq);
    }

    fn add(&mut self, seq: u64, command: &str) {
        let Ok(Value::Object(c)) = serde_json::from_str::<Value>(command) else {
            return;
        };
        if let Some(name) = c.get("collectible").and_then(Value::as_str) {
            note_in(&mut self.by_collectible, name, seq);
        }
        self.add_accounts(seq, &c);
    }

    fn add_accounts(&mut self, seq: u64, c: &serde_json::Map<String, Value>) {
        let field = |k: &str| c.get(k).and_then(Value::as_str);
        for key in ["account", "consumer", "merchant", "referrer", "to"] {
            if let Some(name) = field(key) {
                self.note(name, seq);
            }
        }
        match (field("type"), field("order")) {
            (Some("pay_order"), Some(order)) => {
                if let (Some(consumer), Some(merchant)) = (field("consumer"), field("merchant")) {
                    self.orders
                        .entry(order.into())
                        .or_insert_with(|| (consumer.into(), merchant.into()));
                }
            }
            (Some("confirm_order" | "refund_order" | "review_order"), Some(order)) => {
                if let Some((consumer, merchant)) = self.orders.get(order).cloned() {
                    self.note(&consumer, seq);
                    self.note(&merchant, seq);
                }
            }
            _ => {}
        }
    }

    /// Reads the entries after `upto` up to `head`.
    fn catch_up(
        &mut self,
        store: &mut dyn Store,
        economy: &str,
        head: u64,
    ) -> Result<(), JournalError> {
        while self.upto < head {
            let mut last = self.upto;
            let mut seen = Vec::new();
            store.scan(economy, self.upto, SCAN_ENTRIES, &mut |e| {
                seen.push((e.seq, e.command.to_string()));
                last = e.seq;
                Ok(())
            })?;
            if last == self.upto {
                break;
            }
            for (seq, command) in seen {
                self.add(seq, &command);
            }
            self.upto = last;
        }
        Ok(())
    }
}

fn note_in(map: &mut HashMap<Box<str>, Vec<u64>>, name: &str, seq: u64) {
    let seqs = match map.get_mut(name) {
        Some(seqs) => seqs,
        None => map.entry(name.into()).or_default(),
    };
    // A command naming an account twice is one entry of its history.
    if seqs.last() != Some(&seq) {
        seqs.push(seq);
    }
}

/// Which part of a subject's entries, newest first: up to `limit` before `before` (from the
/// newest when `None`).
#[derive(Clone, Copy)]
pub struct Page {
    pub before: Option<u64>,
    pub limit: usize,
}

/// What an index lookup is for.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    Account(&'a str),
    Collectible(&'a str),
}

/// Every economy's index.
#[derive(Default)]
pub struct Activity {
    economies: Mutex<HashMap<String, ActivityIndex>>,
}

impl Activity {
    /// The seqs of `page` of the entries concerning `subject`, newest first, and how many
    /// there are in all.
    pub fn of(
        &self,
        store: &mut dyn Store,
        economy: &str,
        subject: Subject<'_>,
        page: Page,
    ) -> Result<(Vec<u64>, usize), JournalError> {
        let head = store.head(economy)?.map_or(0, |e| e.seq);
        let mut all = self.economies.lock().map_err(|_| {
            JournalError::Unavailable("the activity index lock was poisoned".into())
        })?;
        let index = all.entry(economy.to_string()).or_default();
        index.catch_up(store, economy, head)?;
        let found = match subject {
            Subject::Account(name) => index.by_account.get(name),
            Subject::Collectible(name) => index.by_collectible.get(name),
        };
        let Some(seqs) = found else {
            return Ok((Vec::new(), 0));
        };
        let end = page
            .before
            .map_or(seqs.len(), |b| seqs.partition_point(|s| *s < b));
        let start = end.saturating_sub(page.limit);
        Ok((seqs[start..end].iter().rev().copied().collect(), seqs.len()))
    }
}

/// A subject of the index, owned, for work sent to another thread.
pub enum Named {
    Account(String),
    Collectible(String),
}

impl Named {
    fn subject(&self) -> Subject<'_> {
        match self {
            Named::Account(name) => Subject::Account(name),
            Named::Collectible(name) => Subject::Collectible(name),
        }
    }
}

/// The entries of `seqs`, in their order.
pub fn load(store: &mut dyn Store, economy: &str, seqs: &[u64]) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::with_capacity(seqs.len());
    for seq in seqs {
        if let Some(e) = store.entry(economy, *seq)? {
            out.push(e);
        }
    }
    Ok(out)
}

impl Activity {
    /// The entries of `page` concerning `named`, newest first, and how many there are in all,
    /// read on a blocking thread.
    pub async fn entries(
        self: &Arc<Self>,
        store: &Arc<StoreHandle>,
        economy: String,
        named: Named,
        page: Page,
    ) -> Result<(Vec<Entry>, usize), JournalError> {
        let index = self.clone();
        store
            .run(move |s| {
                let (seqs, total) = index
                    .of(s, &economy, named.subject(), page)
                    .map_err(|e| StoreError::Malformed(e.to_string()))?;
                Ok((load(s, &economy, &seqs)?, total))
            })
            .await
    }
}

/// An entry as the console and the wallet show it.
pub fn entry_view(e: &Entry) -> Value {
    let command: Value = serde_json::from_str(&e.command).unwrap_or(Value::Null);
    json!({
        "seq": e.seq,
        "time": rfc3339_ms(e.ts_ms),
        "type": command["type"],
        "command": command,
        "ok": e.outcome == "ok",
        "outcome": e.outcome,
    })
}
