//! The delivery engine: one thread per target (an operator's subscription or an exchange
//! venue), so a slow or failing receiver never delays another. Each thread asks its feed for the
//! events after its position, POSTs them in order (one per request, or a batch) over a
//! keep-alive connection, signed by the Standard Webhooks scheme with every live secret, and
//! moves its position only on a 2xx. The position is stored at most every `SAVE_EVERY` and
//! when the thread goes idle, so a crash repeats at most the events since the last save: at
//! least once, never lost, and the receiver drops repeats by `webhook-id`. Failures retry with
//! exponential backoff and jitter; a target with a retry horizon is paused once it has failed
//! for that long.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::log::Position;

/// How long one request may take.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle target looks for new events.
const IDLE: Duration = Duration::from_millis(20);
/// How often a moving target stores its position.
const SAVE_EVERY: Duration = Duration::from_millis(250);
const BACKOFF_FIRST_MS: u64 = 500;
const BACKOFF_MAX_MS: u64 = 300_000;
/// Attempts kept for the status.
const RECENT: usize = 20;
/// Bytes of a receiver's answer kept for the status.
const ANSWER_BYTES: usize = 200;

/// One event ready to send.
pub struct Item {
    pub id: String,
    pub at: Position,
    pub ts_ms: i64,
    pub body: String,
    /// A word for the status (the event type, or the collectible exported).
    pub label: String,
}

/// What a feed gives: items in order from the position asked for, and where the position goes
/// when they are all delivered (past entries without events for the target).
pub struct Fetched {
    pub items: Vec<Item>,
    pub next: Position,
}

/// Where a target's events come from, and where its position and pauses are kept.
pub trait Feed: Send + Sync {
    fn fetch(&self, at: Position, max: usize, wanted: &[String]) -> Result<Fetched, String>;
    /// Events still to deliver from `at` (as far as the feed can tell cheaply) and the time of
    /// the oldest.
    fn lag(&self, at: Position, wanted: &[String]) -> (u64, Option<i64>);
    fn save(&self, at: Position) -> Result<(), String>;
    fn paused(&self, reason: Option<&str>) -> Result<(), String>;
    /// Entries committed at or after `at`: how far behind the head the target is.
    fn behind(&self, at: Position) -> u64;
}

/// A target's settings, as the API last set them.
#[derive(Clone, Default)]
pub struct Settings {
    pub url: String,
    /// Secrets with the instant (ms) they stop being valid, if any; newest first.
    pub secrets: Vec<(String, Option<i64>)>,
    pub events: Vec<String>,
    pub batch: usize,
    pub paused: Option<String>,
    /// Failing for longer than this pauses the target; `None` retries forever.
    pub retry_for: Option<Duration>,
    pub allow_private: bool,
}

/// One attempt, for the status.
#[derive(Clone)]
pub struct Attempt {
    pub at_ms: i64,
    pub first: String,
    pub events: usize,
    pub status: Option<u16>,
    pub answer: String,
    pub took_ms: u64,
}

/// The event a failing target waits to send again.
#[derive(Clone)]
pub struct Failing {
    pub since: Instant,
    pub attempts: u32,
    pub error: String,
    pub next: Instant,
    pub at: Position,
    pub label: String,
}

/// A target's state, shared between its thread and the API.
pub struct State {
    pub settings: Settings,
    pub next: Position,
    pub delivered: u64,
    pub failed: u64,
    pub failing: Option<Failing>,
    pub recent: VecDeque<Attempt>,
    /// Bumped by every change from outside, so an attempt in flight does not undo it.
    generation: u64,
    stop: bool,
}

pub struct Target {
    state: Mutex<State>,
    wake: Condvar,
    feed: Box<dyn Feed>,
}

fn backoff(attempts: u32) -> Duration {
    let full = (BACKOFF_FIRST_MS << attempts.min(20)).min(BACKOFF_MAX_MS);
    // Full jitter over the upper half, so many failing targets do not retry in step.
    let mut r = [0u8; 8];
    let _ = getrandom::fill(&mut r);
    let half = full / 2;
    Duration::from_millis(half + u64::from_le_bytes(r) % (half + 1))
}

impl Target {
    pub fn new(settings: Settings, next: Position, feed: Box<dyn Feed>) -> Arc<Target> {
        Arc::new(Target {
            state: Mutex::new(State {
                settings,
                next,
                delivered: 0,
                failed: 0,
                failing: None,
                recent: VecDeque::new(),
                generation: 0,
                stop: false,
            }),
            wake: Condvar::new(),
            feed,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the target from outside (new settings, a redelivery, a stop) and wakes it.
    pub fn change(&self, f: impl FnOnce(&mut State)) {
        let mut s = self.lock();
        f(&mut s);
        s.generation += 1;
        self.wake.notify_all();
    }

    pub fn stop(&self) {
        self.change(|s| s.stop = true);
    }

    /// Sets the position (a redelivery) and forgets the failure it may be waiting on.
    pub fn set_next(&self, at: Position) {
        self.change(|s| {
            s.next = at;
            s.failing = None;
        });
        let _ = self.feed.save(at);
    }

    pub fn lag(&self) -> (u64, Option<i64>) {
        let (next, events) = {
            let s = self.lock();
            (s.next, s.settings.events.clone())
        };
        self.feed.lag(next, &events)
    }

    /// The thread's loop: runs until stopped.
    pub fn run(self: Arc<Self>) {
        let mut agent: Option<(String, bool, ureq::Agent)> = None;
        let mut saved = self.lock().next;
        let mut last_save = Instant::now();
        let mut priority = crate::priority::Priority::default();
        while let Some((settings, next, generation)) = self.ready() {
            priority.update(self.feed.behind(next));
            let fetched = match self
                .feed
                .fetch(next, settings.batch.max(1), &settings.events)
            {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!("webhooks: reading events: {e}");
                    self.idle(Duration::from_secs(1));
                    continue;
                }
            };
            if fetched.items.is_empty() {
                self.advance(generation, fetched.next);
                self.save_if_moved(&mut saved, &mut last_save, Duration::ZERO);
                if fetched.next <= next {
                    self.idle(IDLE); // at the head: wait for more
                }
                continue;
            }
            let agent = agent_for(&mut agent, &settings);
            let attempt = post(agent, &settings, &fetched.items);
            self.record(generation, &settings, &fetched, attempt);
            self.save_if_moved(&mut saved, &mut last_save, SAVE_EVERY);
        }
        self.save_if_moved(&mut saved, &mut last_save, Duration::ZERO);
    }

    /// Waits while paused or backing off; the settings, position and generation when it is
    /// time to try, `None` when stopped.
    fn ready(&self) -> Option<(Settings, Position, u64)> {
        let mut s = self.lock();
        loop {
            if s.stop {
                return None;
            }
            let wait = if s.settings.paused.is_some() {
                Some(Duration::from_secs(1))
            } else {
                s.failing
                    .as_ref()
                    .map(|f| f.next.saturating_duration_since(Instant::now()))
                    .filter(|d| !d.is_zero())
            };
            match wait {
                Some(d) => s = self.wake.wait_timeout(s, d).map(|r| r.0).ok()?,
                None => return Some((s.settings.clone(), s.next, s.generation)),
            }
        }
    }

    fn idle(&self, d: Duration) {
        let s = self.lock();
        if !s.stop {
            let _ = self.wake.wait_timeout(s, d);
        }
    }

    fn advance(&self, generation: u64, to: Position) {
        let mut s = self.lock();
        if s.generation == generation && to > s.next {
            s.next = to;
        }
    }

    fn save_if_moved(&self, saved: &mut Position, last: &mut Instant, every: Duration) {
        let next = self.lock().next;
        if next != *saved && last.elapsed() >= every {
            match self.feed.save(next) {
                Ok(()) => *saved = next,
                Err(e) => tracing::warn!("webhooks: storing a position: {e}"),
            }
            *last = Instant::now();
        }
    }

    fn record(&self, generation: u64, settings: &Settings, fetched: &Fetched, attempt: Attempt) {
        let ok = attempt.status.is_some_and(|c| (200..300).contains(&c));
        let mut s = self.lock();
        s.recent.push_back(attempt.clone());
        if s.recent.len() > RECENT {
            s.recent.pop_front();
        }
        if s.generation != generation {
            return;
        }
        let n = fetched.items.len();
        if ok {
            s.delivered += n as u64;
            s.failing = None;
            let last = fetched.items[n - 1].at;
            let after = Position {
                seq: last.seq,
                n: last.n + 1,
            };
            s.next = after.max(fetched.next);
            return;
        }
        s.failed += 1;
        let first = &fetched.items[0];
        let (since, attempts) = match &s.failing {
            Some(f) if f.at == first.at => (f.since, f.attempts + 1),
            _ => (Instant::now(), 1),
        };
        let error = match attempt.status {
            Some(code) => format!("the receiver answered {code}: {}", attempt.answer),
            None => attempt.answer,
        };
        if settings.retry_for.is_some_and(|r| since.elapsed() >= r) {
            let reason = format!("gave up after failing for {:?}: {error}", since.elapsed());
            s.settings.paused = Some(reason.clone());
            s.failing = None;
            drop(s);
            tracing::warn!("webhooks: a target is paused: {reason}");
            let _ = self.feed.paused(Some(&reason));
            return;
        }
        s.failing = Some(Failing {
            since,
            attempts,
            error,
            next: Instant::now() + backoff(attempts - 1),
            at: first.at,
            label: first.label.clone(),
        });
    }
}

fn agent_for<'a>(
    cached: &'a mut Option<(String, bool, ureq::Agent)>,
    settings: &Settings,
) -> &'a ureq::Agent {
    let fresh =
        !matches!(cached, Some((u, p, _)) if *u == settings.url && *p == settings.allow_private);
    if fresh {
        let agent = crate::outgoing::agent(DELIVERY_TIMEOUT, settings.allow_private);
        *cached = Some((settings.url.clone(), settings.allow_private, agent));
    }
    &cached.as_ref().expect("just set").2
}

/// The body of a request: the one event, or `{"events": [...]}` for a batch.
fn request_body(items: &[Item], batch: usize) -> String {
    if batch <= 1 {
        return items[0].body.clone();
    }
    let mut out = String::with_capacity(items.iter().map(|i| i.body.len() + 1).sum::<usize>() + 16);
    out.push_str("{\"events\":[");
    for (k, i) in items.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&i.body);
    }
    out.push_str("]}");
    out
}

/// The `webhook-id` of a request: the event's id, or for a batch the first id and the count.
fn request_id(items: &[Item], batch: usize) -> String {
    if batch <= 1 {
        items[0].id.clone()
    } else {
        format!("{}+{}", items[0].id, items.len())
    }
}

/// Sends `items` as one request; the attempt as the status shows it.
pub fn post(agent: &ureq::Agent, settings: &Settings, items: &[Item]) -> Attempt {
    let started = Instant::now();
    let now_ms = jifen_journal::time::now_ms();
    let body = request_body(items, settings.batch);
    let id = request_id(items, settings.batch);
    let secrets: Vec<&str> = settings
        .secrets
        .iter()
        .filter(|(_, until)| until.is_none_or(|u| now_ms < u))
        .map(|(s, _)| s.as_str())
        .collect();
    let mut request = agent
        .post(&settings.url)
        .set("content-type", "application/json")
        .set("user-agent", "jifen-webhooks");
    for (name, value) in jifen_connect::standard_webhooks::headers(
        &secrets,
        &id,
        now_ms.div_euclid(1000),
        body.as_bytes(),
    ) {
        request = request.set(name, &value);
    }
    let (status, answer) = match request.send_string(&body) {
        Ok(r) => (Some(r.status()), answer_of(r)),
        Err(ureq::Error::Status(code, r)) => (Some(code), answer_of(r)),
        Err(e) => (None, e.to_string()),
    };
    Attempt {
        at_ms: now_ms,
        first: items[0].id.clone(),
        events: items.len(),
        status,
        answer,
        took_ms: started.elapsed().as_millis() as u64,
    }
}

/// The start of an answer's body (all of it is read, so the connection can be used again).
fn answer_of(r: ureq::Response) -> String {
    let mut text = r.into_string().unwrap_or_default();
    if text.len() > ANSWER_BYTES {
        let mut cut = ANSWER_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}
