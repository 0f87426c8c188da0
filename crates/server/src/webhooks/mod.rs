//! Outgoing deliveries on one engine: operators' webhook subscriptions (the events the journal
//! implies, see `events`) and exchange venues (exports announced to them). **The journal is the
//! outbox**: events are derived from committed entries, and each target keeps a durable cursor.
//! A supervisor thread keeps one delivery thread per configured target (see `engine`), starting,
//! changing and stopping them as subscriptions and venues change and as economies open and
//! close on this node.

pub mod engine;
pub mod events;
pub mod feeds;
pub mod log;
pub mod model;
mod status;

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::economies::{Economies, Economy};
use crate::error::ApiResult;
use crate::store::StoreHandle;
use crate::venues;

use engine::{Settings, Target};
use feeds::{SharedLog, SubscriptionFeed, VenueFeed};
use log::Position;
use model::Subscription;

pub use status::{subscription_json, venue_json};

/// How often the supervisor compares the running targets with the configured ones.
const SYNC_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Subscription,
    Venue,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub economy: String,
    pub kind: Kind,
    pub name: String,
}

struct Running {
    opening: u64,
    target: Arc<Target>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the engine treats targets: private addresses, the retry horizon, the rotation overlap.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub allow_private: bool,
    pub retry_for: Duration,
    pub secret_overlap: Duration,
}

pub struct Webhooks {
    pub store: Arc<StoreHandle>,
    economies: Arc<Economies>,
    pub policy: Policy,
    running: Mutex<HashMap<Key, Running>>,
    shared: Mutex<HashMap<(String, u64), Arc<SharedLog>>>,
    poke: (Mutex<bool>, Condvar),
}

impl Webhooks {
    pub fn new(economies: Arc<Economies>, store: Arc<StoreHandle>, policy: Policy) -> Webhooks {
        Webhooks {
            store,
            economies,
            policy,
            running: Mutex::default(),
            shared: Mutex::default(),
            poke: (Mutex::new(false), Condvar::new()),
        }
    }

    /// The supervisor: syncs the targets every second (or when poked) until `stop`.
    pub fn run(&self, stop: Receiver<()>) {
        loop {
            self.sync();
            let (lock, cv) = &self.poke;
            let poked = lock.lock().unwrap_or_else(|p| p.into_inner());
            let (mut poked, _) = cv
                .wait_timeout_while(poked, SYNC_EVERY, |p| !*p)
                .unwrap_or_else(|p| p.into_inner());
            *poked = false;
            drop(poked);
            match stop.try_recv() {
                Err(TryRecvError::Empty) => {}
                _ => break,
            }
        }
        let all: Vec<Running> = self.lock_running().drain().map(|(_, r)| r).collect();
        for r in &all {
            r.target.stop();
        }
        for mut r in all {
            if let Some(t) = r.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// Makes the supervisor sync now (after the API changed a subscription or a venue).
    pub fn poke(&self) {
        let (lock, cv) = &self.poke;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running target of `key`, if any.
    pub fn target(&self, key: &Key) -> Option<Arc<Target>> {
        self.lock_running().get(key).map(|r| r.target.clone())
    }

    fn shared_log(&self, economy: &Arc<Economy>) -> Arc<SharedLog> {
        let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shared.retain(|(id, opening), _| {
            self.economies
                .get(id)
                .is_some_and(|e| e.opening == *opening)
        });
        shared
            .entry((economy.id().to_string(), economy.opening))
            .or_insert_with(|| SharedLog::new(economy.clone(), self.store.clone()))
            .clone()
    }

    /// The settings of a subscription as the engine uses them.
    pub fn settings_of(&self, sub: &Subscription) -> Settings {
        Settings {
            url: sub.url.clone(),
            secrets: sub
                .secrets
                .iter()
                .map(|s| (s.secret.clone(), s.until_ms))
                .collect(),
            events: sub.events.clone(),
            batch: sub.batch,
            paused: sub.paused.clone(),
            retry_for: Some(self.policy.retry_for),
            allow_private: self.policy.allow_private,
        }
    }

    fn venue_settings(&self, venue: &venues::Venue) -> Settings {
        Settings {
            url: venue.url.clone(),
            secrets: vec![(venue.secret.clone(), None)],
            events: Vec::new(),
            batch: 1,
            paused: None,
            retry_for: None,
            allow_private: self.policy.allow_private,
        }
    }

    /// What should run: every subscription and venue of every economy open here.
    fn wanted(&self) -> HashMap<Key, (Arc<Economy>, Settings)> {
        let mut out = HashMap::new();
        for economy in self.economies.all() {
            let id = economy.id().to_string();
            let key = |kind, name: &str| Key {
                economy: id.clone(),
                kind,
                name: name.to_string(),
            };
            match model::list(&self.store, &id) {
                Ok(subs) => out.extend(subs.iter().map(|s| {
                    (
                        key(Kind::Subscription, &s.id),
                        (economy.clone(), self.settings_of(s)),
                    )
                })),
                Err(e) => tracing::warn!(economy = %id, "webhooks: {}", e.message),
            }
            match venues::list(&self.store, &id) {
                Ok(vs) => out.extend(vs.iter().map(|(name, v)| {
                    (
                        key(Kind::Venue, name),
                        (economy.clone(), self.venue_settings(v)),
                    )
                })),
                Err(e) => tracing::warn!(economy = %id, "webhooks: {}", e.message),
            }
        }
        out
    }

    /// Starts, changes and stops targets to match what is configured.
    pub fn sync(&self) {
        let mut wanted = self.wanted();
        let mut running = self.lock_running();
        running.retain(|key, r| {
            let keep = wanted
                .get(key)
                .is_some_and(|(economy, _)| economy.opening == r.opening);
            if !keep {
                r.target.stop();
            }
            keep
        });
        for (key, r) in running.iter() {
            if let Some((_, settings)) = wanted.remove(key) {
                let changed = {
                    let s = r.target.lock();
                    !same(&s.settings, &settings)
                };
                if changed {
                    r.target.change(|s| s.settings = settings);
                }
            }
        }
        for (key, (economy, settings)) in wanted {
            match self.start(&key, &economy, settings) {
                Ok(r) => {
                    running.insert(key, r);
                }
                Err(e) => tracing::warn!(target = ?key, "webhooks: cannot start: {e}"),
            }
        }
    }

    fn start(
        &self,
        key: &Key,
        economy: &Arc<Economy>,
        settings: Settings,
    ) -> Result<Running, String> {
        let (feed, next): (Box<dyn engine::Feed>, Position) = match key.kind {
            Kind::Subscription => {
                let next = model::cursor(&self.store, &key.economy, &key.name)
                    .map_err(|e| e.message)?
                    .unwrap_or(Position {
                        seq: economy.journal.committed_seq() + 1,
                        n: 0,
                    });
                let feed = SubscriptionFeed::new(self.shared_log(economy), &key.name);
                (Box::new(feed), next)
            }
            Kind::Venue => {
                let next = VenueFeed::stored(&self.store, &key.economy, &key.name);
                let feed = VenueFeed::new(economy.clone(), self.store.clone(), &key.name);
                (Box::new(feed), next)
            }
        };
        let target = Target::new(settings, next, feed);
        let runner = target.clone();
        let thread = std::thread::Builder::new()
            .name(format!("deliver-{}", key.name))
            .spawn(move || runner.run())
            .map_err(|e| e.to_string())?;
        Ok(Running {
            opening: economy.opening,
            target,
            thread: Some(thread),
        })
    }

    /// Every running subscription's key and target, for metrics.
    pub fn all_subscriptions(&self) -> Vec<(Key, Arc<Target>)> {
        self.all_of(Kind::Subscription)
    }

    /// Every running target of `kind`: subscriptions, or venues' outboxes.
    pub fn all_of(&self, kind: Kind) -> Vec<(Key, Arc<Target>)> {
        self.lock_running()
            .iter()
            .filter(|(k, _)| k.kind == kind)
            .map(|(k, r)| (k.clone(), r.target.clone()))
            .collect()
    }

    /// Sets a subscription's cursor (a redelivery), running or not.
    pub fn redeliver(&self, economy: &str, id: &str, from_seq: u64) -> ApiResult<()> {
        let at = Position {
            seq: from_seq.max(1),
            n: 0,
        };
        model::put_cursor(&self.store, economy, id, at)?;
        let key = Key {
            economy: economy.to_string(),
            kind: Kind::Subscription,
            name: id.to_string(),
        };
        if let Some(t) = self.target(&key) {
            t.set_next(at);
        }
        Ok(())
    }
}

fn same(a: &Settings, b: &Settings) -> bool {
    a.url == b.url
        && a.secrets == b.secrets
        && a.events == b.events
        && a.batch == b.batch
        && a.paused == b.paused
        && a.retry_for == b.retry_for
        && a.allow_private == b.allow_private
}
