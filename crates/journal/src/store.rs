//! The storage trait, with two real backends: SQLite (embedded default) and PostgreSQL.

use crate::block::Block;
use crate::entry::{Entry, EntryRef, Hash};
use crate::error::{StoreError, StoreResult};

/// An economy (tenant) as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EconomyMeta {
    pub id: String,
    pub name: String,
    /// The initial rules, as TOML with every key.
    pub rules_toml: String,
    /// An IANA time zone name, `Asia/Shanghai` by default.
    pub timezone: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub genesis: Hash,
}

/// The economy's headline figures after a batch, kept for price charts. Derived data: the
/// journal is the truth, and a sample lost in a crash only makes a chart coarser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sample {
    pub seq: u64,
    pub ts_ms: i64,
    pub reserve_fen: u64,
    pub circulating_atoms: u64,
    pub dividend_pool_fen: u64,
    pub treasury_atoms: u64,
    /// The price as the exact fraction `price_num_fen / price_den_atoms`.
    pub price_num_fen: u64,
    pub price_den_atoms: u64,
    /// Running totals, so that the difference of two samples is what happened between them
    /// ("orders today"). Zero in samples written before these were kept.
    pub contributions_fen: u64,
    pub paid_out_fen: u64,
    pub quota_fen: u64,
    pub orders: u64,
    pub exits: u64,
    /// Whether the sample holds the finance figures below (samples written before them did
    /// not: then they are zero).
    pub finance: bool,
    /// The rest of the economy's figures (SPEC §4, §14), and its running totals of flows
    /// (`jifen_core::Flows`): with these a day's liability report is two samples apart.
    pub escrow_fen: u64,
    pub stable_fen: u64,
    pub owed_fen: u64,
    pub settled_fen: u64,
    pub issued_atoms: u64,
    pub burned_atoms: u64,
    pub flows: jifen_core::Flows,
}

impl Sample {
    /// The figures of `economy` as of entry `seq`, committed at `ts_ms`.
    pub fn of(economy: &jifen_core::Economy, seq: u64, ts_ms: i64) -> Sample {
        let t = economy.totals();
        let price = economy.price();
        Sample {
            seq,
            ts_ms,
            reserve_fen: t.reserve_fen.0,
            circulating_atoms: t.circulating_atoms.0,
            dividend_pool_fen: t.dividend_pool_fen.0,
            treasury_atoms: t.treasury_atoms.0,
            price_num_fen: price.num_fen,
            price_den_atoms: price.den_atoms,
            contributions_fen: t.contributions_fen.0,
            paid_out_fen: t.paid_out_fen.0,
            quota_fen: economy.quota_total_fen(),
            orders: economy.orders().len() as u64,
            exits: economy.exits_total(),
            finance: true,
            escrow_fen: t.escrow_fen.0,
            stable_fen: t.stable_fen.0,
            owed_fen: t.owed_fen.0,
            settled_fen: t.settled_fen.0,
            issued_atoms: t.issued_atoms.0,
            burned_atoms: t.burned_atoms.0,
            flows: economy.flows(),
        }
    }
}

/// One accepted `settle_dividends`, as the engine reported it: kept for the operator's list of
/// settlements. Derived data, written with the entry, in the same transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SettlementRow {
    pub seq: u64,
    /// The day as `YYYYMMDD`.
    pub day: u32,
    /// Holders with free atoms and a quota, among whom the pool was shared.
    pub holders_eligible: u64,
    pub paid_fen: u64,
    pub holders_paid: u64,
    pub holders_capped: u64,
}

/// The pace of background snapshot writes: at most `bytes_per_s` (0: no limit), until
/// `hurry` is set by a writer that waits for the snapshot.
#[derive(Clone, Debug)]
pub struct SnapshotPace {
    pub bytes_per_s: u64,
    pub hurry: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What is written with a batch of entries, in the same transaction.
#[derive(Clone, Debug, Default)]
pub struct AppendExtras {
    /// Seqs of accepted `set_rules` commands in the batch (the rule history).
    pub rule_change_seqs: Vec<u64>,
    pub sample: Option<Sample>,
    pub settlements: Vec<SettlementRow>,
    /// Each settlement's payouts: (its seq, [(account position, fen)]).
    pub payouts: Vec<(u64, Vec<(u32, u64)>)>,
    /// Settings written with the batch, in order (what a shop connector keeps of the
    /// deliveries its commands came from).
    pub kv: Vec<KvWrite>,
    /// Each commit's double-entry lines (see `postings`), covering all its entries.
    pub postings: Vec<crate::postings::PostingsRow>,
}

/// One write to the settings table: a value put, or (`None`) the key deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvWrite {
    pub scope: String,
    pub key: String,
    pub value: Option<String>,
}

impl AppendExtras {
    pub fn is_empty(&self) -> bool {
        self.only_postings() && self.postings.is_empty()
    }

    /// Whether these hold double-entry lines and nothing else. Every field is named, so a field
    /// added later cannot be forgotten here (PostgreSQL's one-statement append writes only the
    /// lines).
    pub fn only_postings(&self) -> bool {
        let AppendExtras {
            rule_change_seqs,
            sample,
            settlements,
            payouts,
            kv,
            postings: _,
        } = self;
        rule_change_seqs.is_empty()
            && sample.is_none()
            && settlements.is_empty()
            && payouts.is_empty()
            && kv.is_empty()
    }

    /// Adds a later batch's extras to these, for one transaction. Every field is named, so a
    /// field added later cannot be forgotten here.
    pub fn absorb(&mut self, later: &mut AppendExtras) {
        let AppendExtras {
            rule_change_seqs,
            sample,
            settlements,
            payouts,
            kv,
            postings,
        } = later;
        self.rule_change_seqs.append(rule_change_seqs);
        if sample.is_some() {
            self.sample = sample.take();
        }
        self.settlements.append(settlements);
        self.payouts.append(payouts);
        self.kv.append(kv);
        self.postings.append(postings);
    }
}

/// What a store's own integrity check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// What was run, for people: "SQLite integrity_check", "PostgreSQL amcheck on 12 indexes".
    pub method: String,
    /// Whether a check ran at all (PostgreSQL without amcheck: no, and `method` says why).
    pub checked: bool,
    /// Empty when nothing is wrong.
    pub problems: Vec<String>,
}

impl IntegrityReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The most problems an integrity check lists.
pub const INTEGRITY_PROBLEMS_MAX: usize = 100;

/// Durable storage for any number of economies. Every method is one transaction, so an
/// `append` is all or nothing. Implementations must make a committed `append` survive a crash
/// of the process or the machine (fsync before returning).
pub trait Store: Send {
    /// A short name of the backend, for reports.
    fn backend(&self) -> &'static str;

    /// How long the last write's sync took, where the backend can tell it apart (SQLite: the
    /// `COMMIT` that fsyncs the WAL; PostgreSQL syncs inside its server, see `pg_stat_wal`).
    fn last_sync(&self) -> Option<std::time::Duration> {
        None
    }

    fn create_economy(&mut self, meta: &EconomyMeta) -> StoreResult<()>;

    fn economies(&mut self) -> StoreResult<Vec<EconomyMeta>>;

    fn economy(&mut self, id: &str) -> StoreResult<Option<EconomyMeta>>;

    /// Appends `blocks` (consecutive seqs following the current head) and `extras` in one
    /// transaction. Fails, writing nothing, unless the first seq follows the stored head.
    fn append_blocks(
        &mut self,
        economy: &str,
        blocks: &[Block],
        extras: &AppendExtras,
    ) -> StoreResult<()>;

    /// [`Store::append_blocks`] for entries.
    fn append_with(
        &mut self,
        economy: &str,
        entries: &[Entry],
        extras: &AppendExtras,
    ) -> StoreResult<()> {
        self.append_blocks(economy, &crate::block::blocks_of(entries), extras)
    }

    /// [`Store::append_with`] without extras.
    fn append(&mut self, economy: &str, entries: &[Entry]) -> StoreResult<()> {
        self.append_with(economy, entries, &AppendExtras::default())
    }

    /// The seqs of accepted `set_rules` commands, oldest first.
    fn rule_change_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>>;

    /// Up to `limit` dividends paid to the account at `account` (its position in the
    /// economy), newest first: (the settlement's seq, fen).
    fn dividends_of(
        &mut self,
        economy: &str,
        account: u32,
        limit: usize,
    ) -> StoreResult<Vec<(u64, u64)>>;

    /// Up to `limit` settlements of the economy, newest first.
    fn settlements(&mut self, economy: &str, limit: usize) -> StoreResult<Vec<SettlementRow>>;

    /// The postings rows that cover entries after `after` up to `upto`, in seq order, each
    /// handed to `each`.
    fn postings(
        &mut self,
        economy: &str,
        after: u64,
        upto: u64,
        each: &mut dyn FnMut(crate::postings::PostingsRow) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// Up to `limit` samples with `from_ms <= ts_ms <= to_ms`, oldest first.
    fn samples(
        &mut self,
        economy: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<Sample>>;

    /// The newest sample with `ts_ms < before_ms`.
    fn sample_before(&mut self, economy: &str, before_ms: i64) -> StoreResult<Option<Sample>>;

    /// Service settings (API keys, economy settings): a small key-value table, by scope.
    fn kv_get(&mut self, scope: &str, key: &str) -> StoreResult<Option<String>>;

    fn kv_put(&mut self, scope: &str, key: &str, value: &str) -> StoreResult<()>;

    /// Every key and value of a scope, by key.
    fn kv_list(&mut self, scope: &str) -> StoreResult<Vec<(String, String)>>;

    /// Removes a key of a scope (nothing when it is not there).
    fn kv_delete(&mut self, scope: &str, key: &str) -> StoreResult<()>;

    /// The backend's own check of its storage: on SQLite `integrity_check`, or the faster
    /// `quick_check` (page structure, not index contents) when `thorough` is false; on
    /// PostgreSQL `amcheck` on every index, where that extension is installed.
    fn integrity_check(&mut self, thorough: bool) -> StoreResult<IntegrityReport>;

    /// Stores content (a collectible's artwork, a certificate document) under its SHA-256 (64
    /// lowercase hex digits), which the caller computed. Storing the same hash again keeps
    /// the first copy.
    fn put_content(&mut self, sha256: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()>;

    /// The content stored under `sha256`: its type and bytes, as stored (the caller checks
    /// them against the hash before serving).
    fn content(&mut self, sha256: &str) -> StoreResult<Option<(String, Vec<u8>)>>;

    /// Up to `limit` entries with `seq > after`, in seq order.
    fn entries(&mut self, economy: &str, after: u64, limit: usize) -> StoreResult<Vec<Entry>> {
        let mut out = Vec::new();
        self.scan(economy, after, limit, &mut |e| {
            out.push(e.to_entry());
            Ok(())
        })?;
        Ok(out)
    }

    /// The entry with the highest seq.
    fn head(&mut self, economy: &str) -> StoreResult<Option<Entry>>;

    /// Stores a snapshot taken at `seq` and drops all but the newest `keep`.
    fn put_snapshot(
        &mut self,
        economy: &str,
        seq: u64,
        data: &[u8],
        keep: usize,
    ) -> StoreResult<()>;

    /// The seqs of stored snapshots, newest first.
    fn snapshot_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>>;

    fn snapshot(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Vec<u8>>>;

    /// Another connection to the same store (for work beside a writer, such as snapshots).
    fn reopen(&self) -> StoreResult<Box<dyn Store>>;

    /// Writes this connection's later snapshots at `pace`. A store that writes a snapshot in
    /// one statement (PostgreSQL) has nothing to pace.
    fn pace_snapshots(&mut self, _pace: SnapshotPace) {}

    /// Calls `f` on up to `limit` entries with `seq > after`, in seq order, lending each one
    /// without copying. Returns how many were visited.
    fn scan(
        &mut self,
        economy: &str,
        after: u64,
        limit: usize,
        f: &mut dyn FnMut(EntryRef<'_>) -> StoreResult<()>,
    ) -> StoreResult<usize>;

    /// The entry at `seq`.
    fn entry(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Entry>> {
        let mut one = self.entries(economy, seq.saturating_sub(1), 1)?;
        Ok(one.pop().filter(|e| e.seq == seq))
    }
}

/// Refuses an append that does not start right after the stored head (a seq already taken, or
/// a gap), before anything is written.
pub(crate) fn check_follows(economy: &str, head: u64, blocks: &[Block]) -> StoreResult<()> {
    let consecutive = blocks
        .windows(2)
        .all(|w| w[1].first_seq == w[0].last_seq + 1)
        && blocks.iter().all(|b| b.first_seq <= b.last_seq);
    match blocks.first() {
        Some(first) if first.first_seq != head + 1 || !consecutive => {
            Err(StoreError::Malformed(format!(
                "economy {economy}: an append of seqs {} to {} does not follow the stored head {head}",
                first.first_seq,
                blocks[blocks.len() - 1].last_seq
            )))
        }
        _ => Ok(()),
    }
}

/// The bytes of a sample's figures, big-endian: six (48 bytes) in the first format, eleven
/// (88 bytes) since the running totals were added, 23 (184 bytes) since the finance figures.
pub(crate) const SAMPLE_BYTES: usize = 184;

pub(crate) fn encode_sample(s: &Sample) -> [u8; SAMPLE_BYTES] {
    let mut out = [0u8; SAMPLE_BYTES];
    let f = &s.flows;
    let figures = [
        s.reserve_fen,
        s.circulating_atoms,
        s.dividend_pool_fen,
        s.treasury_atoms,
        s.price_num_fen,
        s.price_den_atoms,
        s.contributions_fen,
        s.paid_out_fen,
        s.quota_fen,
        s.orders,
        s.exits,
        s.escrow_fen,
        s.stable_fen,
        s.owed_fen,
        s.settled_fen,
        s.issued_atoms,
        s.burned_atoms,
        f.to_reserve_fen,
        f.to_dividend_pool_fen,
        f.to_escrow_fen,
        f.dividends_paid_fen,
        f.fees_kept_fen,
        f.owed_added_fen,
    ];
    for (chunk, v) in out.chunks_exact_mut(8).zip(figures) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

pub(crate) fn decode_sample(seq: u64, ts_ms: i64, bytes: &[u8]) -> StoreResult<Sample> {
    if ![48, 88, SAMPLE_BYTES].contains(&bytes.len()) {
        return Err(StoreError::Malformed(format!(
            "a sample of {} bytes",
            bytes.len()
        )));
    }
    let v = |i: usize| {
        bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_be_bytes)
    };
    Ok(Sample {
        seq,
        ts_ms,
        reserve_fen: v(0),
        circulating_atoms: v(1),
        dividend_pool_fen: v(2),
        treasury_atoms: v(3),
        price_num_fen: v(4),
        price_den_atoms: v(5),
        contributions_fen: v(6),
        paid_out_fen: v(7),
        quota_fen: v(8),
        orders: v(9),
        exits: v(10),
        finance: bytes.len() == SAMPLE_BYTES,
        escrow_fen: v(11),
        stable_fen: v(12),
        owed_fen: v(13),
        settled_fen: v(14),
        issued_atoms: v(15),
        burned_atoms: v(16),
        flows: jifen_core::Flows {
            to_reserve_fen: v(17),
            to_dividend_pool_fen: v(18),
            to_escrow_fen: v(19),
            dividends_paid_fen: v(20),
            fees_kept_fen: v(21),
            owed_added_fen: v(22),
        },
    })
}

/// A settlement's four counts, big-endian, for storage.
pub(crate) fn encode_settlement(s: &SettlementRow) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, v) in out.chunks_exact_mut(8).zip([
        s.holders_eligible,
        s.paid_fen,
        s.holders_paid,
        s.holders_capped,
    ]) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

pub(crate) fn decode_settlement(seq: u64, day: i64, bytes: &[u8]) -> StoreResult<SettlementRow> {
    let v = |i: usize| -> StoreResult<u64> {
        bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StoreError::Malformed(format!("a settlement of {} bytes", bytes.len())))
    };
    Ok(SettlementRow {
        seq,
        day: u32::try_from(day)
            .map_err(|_| StoreError::Malformed(format!("settlement day {day}")))?,
        holders_eligible: v(0)?,
        paid_fen: v(1)?,
        holders_paid: v(2)?,
        holders_capped: v(3)?,
    })
}

pub(crate) fn hash_from(bytes: &[u8]) -> StoreResult<Hash> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Malformed(format!("a hash of {} bytes", bytes.len())))
}
