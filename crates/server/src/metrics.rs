//! The server's metrics, kept with `prometheus-client` and answered in the OpenMetrics text
//! format. Process-wide series live in one registry; each economy's series are written per
//! answer for the economies its caller may see (see `routes::service`).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The request latency histogram's bucket bounds, in seconds.
pub const LATENCY_BUCKETS_S: [f64; 10] =
    [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Bounds of the commit-time buckets, in seconds (an fsync on a disk takes 0.1 to 10 ms).
const COMMIT_BUCKETS_S: [f64; 10] = [
    0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];
/// Bounds of the entries-per-commit buckets (a commit holds at most 8,190).
const COMMIT_ENTRIES: [f64; 7] = [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 8190.0];

/// A request's route and class of answer, the labels of its latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    route: Route,
    status: &'static str,
}

/// A route's template (`/v1/economies/{eco}/commands`), cheap to clone as a family key.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Route(Arc<str>);

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&&*self.0, encoder)
    }
}

/// The content type of a metrics answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub struct Metrics {
    registry: Registry,
    pub requests: Counter,
    pub responses_2xx: Counter,
    pub responses_4xx: Counter,
    pub responses_5xx: Counter,
    pub commands_applied: Counter,
    pub commands_rejected: Counter,
    pub commands_retried: Counter,
    pub rate_limited: Counter,
    /// Shop deliveries taken (any status).
    pub connector_deliveries: Counter,
    pub scheduler_commands: Counter,
    /// The scheduler's own commands refused, or its passes failed.
    pub scheduler_failures: Counter,
    scheduler_failing: Gauge,
    store_damaged: Gauge,
    /// Scheduled backups made, and failed.
    pub backups: Counter,
    pub backup_failures: Counter,
    /// When the last scheduled backup succeeded (seconds since the epoch; 0 before any).
    pub backup_last_success_s: Gauge,
    /// How long the last successful scheduled backup took, copy and check (seconds).
    pub backup_last_duration_s: Gauge<f64, std::sync::atomic::AtomicU64>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// Each durable commit: how long its append took (write and sync), and its entries.
    commit_seconds: Histogram,
    commit_sync_seconds: Histogram,
    commit_entries: Histogram,
}

/// What the caller of `/metrics` sees of each economy: its id, committed head, writer queue,
/// and the figures that would page someone (amounts in fen, points in atoms).
#[derive(Default)]
pub struct EconomySeries {
    pub economy: String,
    pub head_seq: u64,
    pub writer_queue: u64,
    pub reserve_fen: u64,
    pub dividend_pool_fen: u64,
    pub quota_outstanding_fen: u64,
    pub escrow_fen: u64,
    pub circulating_atoms: u64,
    pub accounts: u64,
    pub pending_orders: u64,
    /// Cash owed to consumers for sales and exits, not yet paid out.
    pub payouts_owed_fen: u64,
    /// The price in millionths of a yuan per point, rounded down.
    pub price_microyuan: u64,
    /// Consumers holding growth points.
    pub holders: u64,
    /// The last settled day, written YYYYMMDD (0: none yet).
    pub last_settled_day: u64,
}

/// One webhook subscription's deliveries, for `/metrics`.
#[derive(Default)]
pub struct WebhookSeries {
    pub economy: String,
    pub subscription: String,
    /// Events delivered and requests failed since the server started.
    pub delivered: u64,
    pub failed: u64,
    /// Events waiting, and how long the oldest has waited.
    pub lag_events: u64,
    pub lag_seconds: f64,
    pub paused: bool,
    /// An exchange venue's outbox (its collectible exports), not a subscription: only its lag
    /// is shown, as `jifen_outbox_lag_*{economy,venue}`.
    pub venue: bool,
}

/// One per-economy gauge: its name, its help, and how to read it from a series.
type EconomyGauge = (&'static str, &'static str, fn(&EconomySeries) -> u64);

/// The per-economy gauges.
const ECONOMY_GAUGES: [EconomyGauge; 13] = [
    (
        "jifen_economy_head_seq",
        "The committed journal head of each economy.",
        |e| e.head_seq,
    ),
    (
        "jifen_economy_writer_queue",
        "Commands waiting for the economy's writer.",
        |e| e.writer_queue,
    ),
    ("jifen_economy_reserve_fen", "The reserve, in fen.", |e| {
        e.reserve_fen
    }),
    (
        "jifen_economy_dividend_pool_fen",
        "The dividend pool, in fen.",
        |e| e.dividend_pool_fen,
    ),
    (
        "jifen_economy_quota_outstanding_fen",
        "Quota not yet paid, in fen (a cap paid only from the pool, not a debt).",
        |e| e.quota_outstanding_fen,
    ),
    (
        "jifen_economy_escrow_fen",
        "Stable points held in escrow for pending orders, in fen.",
        |e| e.escrow_fen,
    ),
    (
        "jifen_economy_circulating_atoms",
        "Growth points in circulation, in atoms (10^-8 point).",
        |e| e.circulating_atoms,
    ),
    (
        "jifen_economy_accounts",
        "Accounts (consumers and merchants).",
        |e| e.accounts,
    ),
    (
        "jifen_economy_pending_orders",
        "Orders paid and not yet confirmed or refunded.",
        |e| e.pending_orders,
    ),
    (
        "jifen_economy_payouts_owed_fen",
        "Cash owed to consumers for sales and exits and not yet paid out, in fen.",
        |e| e.payouts_owed_fen,
    ),
    (
        "jifen_economy_price_microyuan_per_point",
        "The price of a growth point, in millionths of a yuan, rounded down.",
        |e| e.price_microyuan,
    ),
    (
        "jifen_economy_holders",
        "Consumers holding growth points.",
        |e| e.holders,
    ),
    (
        "jifen_economy_last_settled_day",
        "The last settled day, written YYYYMMDD (0: none yet).",
        |e| e.last_settled_day,
    ),
];

/// Process-wide figures read when the metrics are answered.
pub struct Now {
    /// Items the scheduler is retrying with backoff.
    pub scheduler_failing: usize,
    pub store_damaged: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::default(),
            requests: Counter::default(),
            responses_2xx: Counter::default(),
            responses_4xx: Counter::default(),
            responses_5xx: Counter::default(),
            commands_applied: Counter::default(),
            commands_rejected: Counter::default(),
            commands_retried: Counter::default(),
            rate_limited: Counter::default(),
            connector_deliveries: Counter::default(),
            scheduler_commands: Counter::default(),
            scheduler_failures: Counter::default(),
            scheduler_failing: Gauge::default(),
            store_damaged: Gauge::default(),
            backups: Counter::default(),
            backup_failures: Counter::default(),
            backup_last_success_s: Gauge::default(),
            backup_last_duration_s: Gauge::default(),
            latency: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS_S)),
            commit_seconds: Histogram::new(COMMIT_BUCKETS_S),
            commit_sync_seconds: Histogram::new(COMMIT_BUCKETS_S),
            commit_entries: Histogram::new(COMMIT_ENTRIES),
        };
        m.register();
        m
    }

    fn register(&mut self) {
        let r = &mut self.registry;
        let counters = [
            ("jifen_http_requests", "HTTP requests received.", &self.requests),
            ("jifen_http_responses_2xx", "Answers 2xx.", &self.responses_2xx),
            ("jifen_http_responses_4xx", "Answers 4xx.", &self.responses_4xx),
            ("jifen_http_responses_5xx", "Answers 5xx.", &self.responses_5xx),
            ("jifen_commands_applied", "Commands accepted and committed.", &self.commands_applied),
            ("jifen_commands_rejected", "Commands rejected (an outcome, committed).", &self.commands_rejected),
            ("jifen_commands_retried", "Retries of a seen id (nothing changed).", &self.commands_retried),
            ("jifen_rate_limited", "Requests answered 429.", &self.rate_limited),
            ("jifen_connector_deliveries", "Shop deliveries taken by connectors.", &self.connector_deliveries),
            ("jifen_scheduler_commands", "Commands issued by the scheduler.", &self.scheduler_commands),
            ("jifen_scheduler_failures", "The scheduler's own commands refused, or its passes failed (each is logged as an ERROR).", &self.scheduler_failures),
            ("jifen_backups", "Scheduled backups made and verified.", &self.backups),
            ("jifen_backup_failures", "Scheduled backups that failed (each is logged as an ERROR).", &self.backup_failures),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        r.register(
            "jifen_scheduler_failing",
            "Items the scheduler is retrying with backoff now.",
            self.scheduler_failing.clone(),
        );
        r.register(
            "jifen_backup_last_success_timestamp_seconds",
            "When the last scheduled backup succeeded, in seconds since the epoch (0: none yet).",
            self.backup_last_success_s.clone(),
        );
        r.register(
            "jifen_backup_last_duration_seconds",
            "How long the last successful scheduled backup took, copying and checking.",
            self.backup_last_duration_s.clone(),
        );
        r.register(
            "jifen_store_damaged",
            "1 when the last thorough check of the store found damage.",
            self.store_damaged.clone(),
        );
        r.register(
            "jifen_commit_duration_seconds",
            "Each durable commit's append to the store, writing and syncing (every economy).",
            self.commit_seconds.clone(),
        );
        r.register(
            "jifen_commit_sync_seconds",
            "The sync of each durable commit, where the store tells it apart (SQLite: the COMMIT that fsyncs the WAL).",
            self.commit_sync_seconds.clone(),
        );
        r.register(
            "jifen_commit_entries",
            "Journal entries per durable commit (group commit takes many requests in one).",
            self.commit_entries.clone(),
        );
        r.register(
            "jifen_http_request_duration_seconds",
            "Request latency, by route (the matched path's template) and class of answer.",
            self.latency.clone(),
        );
    }

    /// Records one durable commit (the journal's `CommitObserver`).
    pub fn observe_commit(&self, took: Duration, sync: Option<Duration>, entries: u64) {
        self.commit_seconds.observe(took.as_secs_f64());
        if let Some(sync) = sync {
            self.commit_sync_seconds.observe(sync.as_secs_f64());
        }
        self.commit_entries.observe(entries as f64);
    }

    /// Counts one answer and its latency under its route (`None`: no route matched).
    pub fn observe(&self, route: Option<&Arc<str>>, status: u16, elapsed: Duration) {
        let (counter, class) = match status {
            200..=299 => (&self.responses_2xx, "2xx"),
            300..=399 => (&self.responses_2xx, "3xx"),
            400..=499 => (&self.responses_4xx, "4xx"),
            _ => (&self.responses_5xx, "5xx"),
        };
        counter.inc();
        let labels = RouteLabels {
            route: Route(route.cloned().unwrap_or_else(|| Arc::from("unmatched"))),
            status: class,
        };
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The text of every process-wide series, then each of `economies`' series.
    pub fn render(&self, now: Now, economies: &[EconomySeries], hooks: &[WebhookSeries]) -> String {
        self.scheduler_failing.set(now.scheduler_failing as i64);
        self.store_damaged.set(i64::from(now.store_damaged));
        let mut per_economy = Registry::default();
        for (name, help, read) in ECONOMY_GAUGES {
            let family = Family::<Vec<(String, String)>, Gauge>::default();
            for e in economies {
                family
                    .get_or_create(&vec![("economy".to_string(), e.economy.clone())])
                    .set(read(e).min(i64::MAX as u64) as i64);
            }
            per_economy.register(name, help, family);
        }
        let (venues, subscriptions): (Vec<_>, Vec<_>) = hooks.iter().partition(|h| h.venue);
        register_webhooks(&mut per_economy, &subscriptions);
        register_outboxes(&mut per_economy, &venues);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &per_economy);
        let _ = encode_eof(&mut out);
        out
    }
}

type HookLabels = Vec<(&'static str, String)>;

/// The lag of each venue's outbox into `registry`.
fn register_outboxes(registry: &mut Registry, venues: &[&WebhookSeries]) {
    let lag = Family::<HookLabels, Gauge>::default();
    let lag_s = Family::<HookLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for v in venues {
        let l = vec![
            ("economy", v.economy.clone()),
            ("venue", v.subscription.clone()),
        ];
        lag.get_or_create(&l)
            .set(v.lag_events.min(i64::MAX as u64) as i64);
        lag_s.get_or_create(&l).set(v.lag_seconds);
    }
    registry.register(
        "jifen_outbox_lag_events",
        "Journal entries each exchange venue's outbox has still to pass (any export waiting is among them).",
        lag,
    );
    registry.register(
        "jifen_outbox_lag_seconds",
        "How long the oldest entry each venue's outbox has not passed has waited.",
        lag_s,
    );
}

/// The per-subscription series of `hooks` into `registry`.
fn register_webhooks(registry: &mut Registry, hooks: &[&WebhookSeries]) {
    let labels = |h: &&WebhookSeries| -> HookLabels {
        vec![
            ("economy", h.economy.clone()),
            ("subscription", h.subscription.clone()),
        ]
    };
    let delivered = Family::<HookLabels, Counter>::default();
    let failed = Family::<HookLabels, Counter>::default();
    let lag = Family::<HookLabels, Gauge>::default();
    let lag_s = Family::<HookLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let paused = Family::<HookLabels, Gauge>::default();
    for h in hooks {
        let l = labels(h);
        delivered.get_or_create(&l).inc_by(h.delivered);
        failed.get_or_create(&l).inc_by(h.failed);
        lag.get_or_create(&l)
            .set(h.lag_events.min(i64::MAX as u64) as i64);
        lag_s.get_or_create(&l).set(h.lag_seconds);
        paused.get_or_create(&l).set(i64::from(h.paused));
    }
    registry.register(
        "jifen_webhook_delivered",
        "Events each webhook subscription delivered since the server started.",
        delivered,
    );
    registry.register(
        "jifen_webhook_failed",
        "Failed delivery requests of each subscription since the server started.",
        failed,
    );
    registry.register(
        "jifen_webhook_lag_events",
        "Events each subscription has still to deliver.",
        lag,
    );
    registry.register(
        "jifen_webhook_lag_seconds",
        "How long the oldest undelivered event of each subscription has waited.",
        lag_s,
    );
    registry.register("jifen_webhook_paused", "1 while a subscription is paused (by the operator, or after failing for the retry horizon).", paused);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_series_and_only_the_economies_given() {
        let m = Metrics::new();
        m.requests.inc();
        let route: Arc<str> = Arc::from("/v1/economies/{eco}");
        m.observe(Some(&route), 200, Duration::from_millis(3));
        m.observe(None, 503, Duration::from_millis(300));
        let text = m.render(
            Now {
                scheduler_failing: 2,
                store_damaged: true,
            },
            &[EconomySeries {
                economy: "shop".into(),
                head_seq: 42,
                reserve_fen: 7,
                ..EconomySeries::default()
            }],
            &[
                WebhookSeries {
                    economy: "shop".into(),
                    subscription: "crm".into(),
                    delivered: 5,
                    lag_seconds: 0.5,
                    ..WebhookSeries::default()
                },
                WebhookSeries {
                    economy: "shop".into(),
                    subscription: "xchg".into(),
                    lag_events: 3,
                    venue: true,
                    ..WebhookSeries::default()
                },
            ],
        );
        for line in [
            "jifen_http_requests_total 1",
            "jifen_http_responses_2xx_total 1",
            "jifen_http_responses_5xx_total 1",
            "jifen_scheduler_failing 2",
            "jifen_store_damaged 1",
            "jifen_http_request_duration_seconds_count{route=\"/v1/economies/{eco}\",status=\"2xx\"} 1",
            "jifen_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/v1/economies/{eco}\",status=\"2xx\"} 1",
            "jifen_http_request_duration_seconds_count{route=\"unmatched\",status=\"5xx\"} 1",
            "jifen_economy_head_seq{economy=\"shop\"} 42",
            "jifen_economy_reserve_fen{economy=\"shop\"} 7",
            "jifen_webhook_delivered_total{economy=\"shop\",subscription=\"crm\"} 5",
            "jifen_webhook_lag_seconds{economy=\"shop\",subscription=\"crm\"} 0.5",
            "jifen_outbox_lag_events{economy=\"shop\",venue=\"xchg\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        assert!(
            !text.contains("subscription=\"xchg\""),
            "a venue is not a subscription"
        );
        let none = m.render(
            Now {
                scheduler_failing: 0,
                store_damaged: false,
            },
            &[],
            &[],
        );
        assert!(!none.contains("economy=\""), "{none}");
    }
}
