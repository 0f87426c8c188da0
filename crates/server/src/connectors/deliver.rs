//! A delivery's way through a connector: signature, reading, the plan, and one journal
//! transaction holding its commands and its record. The connector's lock is held while the
//! batch is planned and handed to the writer, and not while it commits, so deliveries pipeline;
//! a failed commit makes the connector reload what it knows from the store, which is the truth.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use jifen_connect::{Amount, Headers, Kind, Reading};
use jifen_journal::{KvWrite, PreparedBatch};
use sha2::{Digest, Sha256};

use super::model::{orders_scope, put, records_scope, Config, Connector, Record, State, HELD_MAX};
use super::plan::{self, Decision, Event, Rules, Status};
use super::shop::Shop;
use crate::economies::Economy;
use crate::error::{ApiError, ApiResult};
use crate::store::StoreHandle;

/// The longest platform delivery id kept as a record's key.
const DELIVERY_ID_BYTES_MAX: usize = 128;

/// The answer to a delivery: what the platform expects back, and where the delivery ended.
pub struct Answer {
    pub body: &'static str,
    pub record: Option<Record>,
    pub duplicate: bool,
}

/// What one transaction writes: commands, records, order states, identity rows.
#[derive(Default)]
struct Work {
    commands: Vec<serde_json::Value>,
    kv: Vec<KvWrite>,
}

impl Connector {
    /// Takes one delivery as the platform sent it.
    pub async fn deliver(
        &self,
        shop: &Shop,
        economy: &Economy,
        store: &Arc<StoreHandle>,
        headers: &(dyn Headers + Sync),
        body: &[u8],
        now_ms: i64,
    ) -> ApiResult<Answer> {
        let config = self.config();
        let kind = config.kind();
        if config.disabled_ms.is_some() {
            return Err(ApiError::new(
                StatusCode::GONE,
                "connector_disabled",
                format!("connector {:?} is disabled", config.id),
            ));
        }
        if jifen_connect::is_ping(kind, body) {
            return Ok(answer(kind, None, false));
        }
        jifen_connect::verify(
            kind,
            &config.credentials(),
            headers,
            body,
            now_ms.div_euclid(1000),
        )
        .map_err(|why| ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", why))?;
        let delivery = jifen_connect::read(kind, headers, body);
        let key = delivery_key(delivery.id.as_deref(), body);
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state, store, economy.opening)
            .await?;
        if let Some(r) = state.records().get(&key) {
            return Ok(answer(kind, Some(r.clone()), true));
        }
        let mut work = Work::default();
        let events = match delivery.reading {
            Reading::Ping => return Ok(answer(kind, None, false)),
            Reading::Ignored(why) => Err((Status::Ignored, why)),
            Reading::Refused(why) => Err((Status::Refused, why)),
            Reading::Events(evs) => Ok(evs
                .into_iter()
                .map(|e| to_event(shop, &config, e, &mut work.kv))
                .collect::<Vec<_>>()),
        };
        let mut record = Record {
            key,
            received_ms: now_ms,
            event: delivery.event,
            order: None,
            status: Status::Applied,
            reason: String::new(),
            commands: Vec::new(),
            events: Vec::new(),
        };
        match events {
            Err((status, why)) => (record.status, record.reason) = (status, why),
            Ok(evs) => {
                record.order = evs.first().map(|e| e.order.clone());
                record.events = evs;
                self.plan(&config, &mut state, &mut record, &mut work)?;
            }
        }
        let rx = self.submit(economy, &mut state, &record, work)?;
        drop(state);
        self.committed(rx).await?;
        Ok(answer(kind, Some(record), false))
    }

    /// Processes a held or refused delivery again: with an amount where one was needed.
    pub async fn retry(
        &self,
        economy: &Economy,
        store: &Arc<StoreHandle>,
        key: &str,
        amount_fen: Option<u64>,
    ) -> ApiResult<Record> {
        let config = self.config();
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state, store, economy.opening)
            .await?;
        let Some(mut record) = state.records().get(key).cloned() else {
            return Err(ApiError::not_found(format!(
                "no delivery {key:?} in this inbox"
            )));
        };
        if !matches!(record.status, Status::Held | Status::Refused) || record.events.is_empty() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_retryable",
                format!(
                    "delivery {key:?} is {}; only a held or refused order event is retried",
                    record.status.as_str()
                ),
            ));
        }
        for e in &mut record.events {
            if let (Amount::Needed, Some(f)) = (e.amount, amount_fen) {
                e.amount = Amount::Fen(f);
            }
            if let Some(o) = state.orders.get_mut(&e.order) {
                o.waiting.retain(|k| k != key);
            }
        }
        let mut work = Work::default();
        self.plan(&config, &mut state, &mut record, &mut work)?;
        let rx = self.submit(economy, &mut state, &record, work)?;
        drop(state);
        self.committed(rx).await?;
        Ok(record)
    }

    /// Every record, newest first, of `status` when given, at most `limit`.
    pub async fn inbox(
        &self,
        economy: &Economy,
        store: &Arc<StoreHandle>,
        status: Option<Status>,
        limit: usize,
    ) -> ApiResult<(Vec<Record>, HashMap<&'static str, usize>)> {
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state, store, economy.opening)
            .await?;
        let mut counts = HashMap::new();
        for r in state.records().values() {
            *counts.entry(r.status.as_str()).or_insert(0) += 1;
        }
        let mut rows: Vec<Record> = state
            .records()
            .values()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (b.received_ms, &b.key).cmp(&(a.received_ms, &a.key)));
        rows.truncate(limit);
        Ok((rows, counts))
    }

    async fn ensure_loaded(
        &self,
        state: &mut State,
        store: &Arc<StoreHandle>,
        opening: u64,
    ) -> ApiResult<()> {
        if state.loaded && state.opening == opening {
            return Ok(());
        }
        let orders = orders_scope(&self.economy, &self.config().id);
        let records = records_scope(&self.economy, &self.config().id);
        let (o, r) = store
            .run(move |s| Ok((s.kv_list(&orders)?, s.kv_list(&records)?)))
            .await?;
        state.load(
            o.into_iter().filter_map(parsed).collect(),
            r.into_iter().filter_map(parsed).collect(),
        );
        state.loaded = true;
        state.opening = opening;
        Ok(())
    }
}

impl Connector {
    /// Decides the record's events against the orders' states, releasing what waited for a
    /// payment, and adds the commands and writes to `work`.
    fn plan(
        &self,
        config: &Config,
        state: &mut State,
        record: &mut Record,
        work: &mut Work,
    ) -> ApiResult<()> {
        let rules = Rules {
            connector: &config.id,
            merchant: &config.merchant,
            currency: &config.currency,
            auto_confirm: config.auto_confirm,
        };
        let mut decisions = Vec::new();
        let mut released = Vec::new();
        for e in &record.events {
            let order = state.orders.entry(e.order.clone()).or_default();
            let was_paid = order.paid_by.is_some();
            let d = plan::decide(&rules, order, e);
            if d.status == Status::Held {
                order.waiting.push(record.key.clone());
            }
            if !was_paid && order.paid_by.is_some() {
                released.append(&mut order.waiting);
            }
            decisions.push(d);
        }
        let held = decisions.iter().any(|d| d.status == Status::Held);
        if held && state.held() + 1 > HELD_MAX {
            state.loaded = false;
            return Err(ApiError::unavailable(format!(
                "connector {:?} holds {HELD_MAX} deliveries already: supply their amounts or \
                 send their payments first",
                config.id
            )));
        }
        summarise(record, decisions, work);
        // What waited for a payment follows the payment's own commands.
        for key in released {
            self.release(&rules, state, &key, work);
        }
        for e in &record.events {
            if let Some(o) = state.orders.get(&e.order) {
                work.kv
                    .push(put(orders_scope(&self.economy, &config.id), &e.order, o));
            }
        }
        Ok(())
    }

    /// A delivery that waited for its order's payment, decided again now that it is in.
    fn release(&self, rules: &Rules, state: &mut State, key: &str, work: &mut Work) {
        let Some(mut record) = state.records().get(key).cloned() else {
            return;
        };
        let mut events = record.events.clone();
        events.sort_by_key(|e| e.stage);
        let mut decisions = Vec::new();
        for e in &events {
            let order = state.orders.entry(e.order.clone()).or_default();
            let d = plan::decide(rules, order, e);
            if d.status == Status::Held {
                order.waiting.push(key.to_string());
            }
            decisions.push(d);
        }
        summarise(&mut record, decisions, work);
        work.kv.push(put(
            records_scope(&self.economy, rules.connector),
            key,
            &record,
        ));
        state.put(record);
    }

    /// Hands the batch to the writer (under the connector's lock, so batches reach the journal
    /// in the order they were planned) and records the delivery in the state.
    fn submit(
        &self,
        economy: &Economy,
        state: &mut State,
        record: &Record,
        mut work: Work,
    ) -> ApiResult<tokio::sync::oneshot::Receiver<BatchResult>> {
        let id = self.config().id;
        work.kv
            .push(put(records_scope(&self.economy, &id), &record.key, record));
        let texts: Vec<String> = work.commands.iter().map(|c| c.to_string()).collect();
        let mut batch =
            PreparedBatch::with_capacity(texts.len(), texts.iter().map(String::len).sum());
        for t in &texts {
            batch.push_text(t);
        }
        batch.write_kv(work.kv);
        let (tx, rx) = tokio::sync::oneshot::channel();
        economy.journal.submit_prepared(
            batch,
            Box::new(move |_, r| {
                let _ = tx.send(r.map(|_| ()));
            }),
        );
        state.put(record.clone());
        Ok(rx)
    }

    async fn committed(&self, rx: tokio::sync::oneshot::Receiver<BatchResult>) -> ApiResult<()> {
        let result = rx
            .await
            .map_err(|_| ApiError::unavailable("the economy's writer stopped"));
        if !matches!(result, Ok(Ok(()))) {
            // What was planned may not be in the store: read it again before the next delivery.
            self.state.lock().await.loaded = false;
        }
        Ok(result??)
    }
}

type BatchResult = Result<(), jifen_journal::JournalError>;

/// The record's status and reason from its events' decisions, and their commands into `work`.
fn summarise(record: &mut Record, decisions: Vec<Decision>, work: &mut Work) {
    let status = [
        Status::Held,
        Status::Applied,
        Status::Refused,
        Status::Ignored,
    ]
    .into_iter()
    .find(|s| decisions.iter().any(|d| d.status == *s))
    .unwrap_or(Status::Ignored);
    record.status = status;
    record.reason = decisions
        .iter()
        .map(|d| d.reason.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    for d in decisions {
        for c in d.commands {
            if let Some(id) = c["id"].as_str() {
                record.commands.push(id.to_string());
            }
            work.commands.push(c);
        }
    }
}

/// An order event with its buyer and referrer as account names (identities hashed), and its
/// risk signals as keyed hashes.
fn to_event(
    shop: &Shop,
    config: &Config,
    e: jifen_connect::OrderEvent,
    kv: &mut Vec<KvWrite>,
) -> Event {
    let mut account_of = |i: &jifen_connect::Identity| {
        let (account, write) = shop.account_of(i);
        kv.extend(write);
        account
    };
    let account = e.buyer.as_ref().map(&mut account_of);
    let referrer = match config.referrals {
        true => e.referrer.as_ref().map(&mut account_of),
        false => None,
    };
    // Only a payment's `pay_order` carries signals, so only a payment's are hashed and kept.
    let signals = match e.stage {
        jifen_connect::Stage::Paid => (e.signals.iter())
            .map(|(kind, value)| (kind.to_string(), shop.signal_hash(kind, value)))
            .collect(),
        _ => Default::default(),
    };
    Event {
        order: e.order,
        stage: e.stage,
        amount: e.amount,
        currency: e.currency,
        account,
        referrer,
        refund: e.refund,
        version: e.version,
        signals,
    }
}

fn parsed<T: serde::de::DeserializeOwned>((k, v): (String, String)) -> Option<(String, T)> {
    serde_json::from_str(&v).ok().map(|x| (k, x))
}

/// The key of a delivery's record: the platform's id, or a digest of the body.
fn delivery_key(id: Option<&str>, body: &[u8]) -> String {
    match id.filter(|i| !i.is_empty() && i.len() <= DELIVERY_ID_BYTES_MAX) {
        Some(i) => i.to_string(),
        None => format!("sha256:{}", &hex::encode(Sha256::digest(body))[..32]),
    }
}

fn answer(kind: Kind, record: Option<Record>, duplicate: bool) -> Answer {
    Answer {
        body: kind.reply(),
        record,
        duplicate,
    }
}
