//! `jifen-journal`: the durable journal of jifen.
//!
//! Per economy, an append-only journal of every command received (except retries of a seen id,
//! which change nothing) with its outcome, in a SHA-256 hash chain; snapshots of the engine
//! state; a single writer with group commit; recovery; and verification from empty. Two real
//! backends implement [`Store`]: SQLite (the embedded default) and PostgreSQL.

pub mod backup;
mod batch;
pub mod block;
pub mod cluster;
mod committer;
pub mod datadir;
mod dividends;
mod entry;
mod error;
mod frame;
pub mod heads;
pub mod ids;
mod journal;
mod limits;
mod logical;
pub mod merkle;
mod open;
mod pg_append;
pub mod postgres;
pub mod postings;
mod private;
mod queue;
mod recover;
mod replayer;
mod snapshot_file;
mod snapshotter;
pub mod sqlite;
mod sqlite_check;
mod sqlite_checkpoint;
mod sqlite_postings;
mod store;
pub mod time;
pub mod until;
mod verify;
mod view;
mod writer;

pub use batch::{Acked, BatchReply, Guard, PreparedBatch, Reply, Submitted};
pub use ed25519_dalek;
pub use entry::{chain_hash, genesis_hash, outcome_text, parse_outcome, Entry, EntryRef, Hash};
pub use error::{JournalError, StoreError, StoreResult};
pub use frame::unframe;
pub use journal::{Journal, OpenInfo};
pub use limits::{BATCH_COMMANDS_MAX, QUEUE_REQUESTS_MAX, READ_CHUNK_ENTRIES};
pub use open::open_store;
pub use recover::{first_seq_at, ledger_at, recover, walk, Recovered, StartupCheck, Step};
pub use store::{
    AppendExtras, EconomyMeta, IntegrityReport, KvWrite, Sample, SettlementRow, Store,
    INTEGRITY_PROBLEMS_MAX,
};
pub use verify::{check_signed_heads, verify_economy, VerifyReport};
pub use view::{Committed, Head, View};
pub use writer::{CommitObserver, JournalConfig, SNAPSHOT_WRITE_BYTES_PER_S};

use jifen_core::{is_valid_name, Rules};

/// The longest display name of an economy, in bytes.
pub const ECONOMY_NAME_BYTES_MAX: usize = 200;
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// The initial rules of an economy.
pub fn rules_of(meta: &EconomyMeta) -> Result<Rules, JournalError> {
    jifen_wire::rules_from_toml(&meta.rules_toml).map_err(|why| JournalError::Corrupt {
        economy: meta.id.clone(),
        seq: 0,
        what: format!("stored rules are invalid: {why}"),
    })
}

pub fn genesis_of(meta: &EconomyMeta) -> Hash {
    genesis_hash(&meta.id, &meta.created_at, &meta.rules_toml, &meta.timezone)
}

/// Whether `tz` looks like an IANA time zone name (`Area/Location`, `UTC`, `Etc/GMT+8`).
pub fn is_valid_timezone(tz: &str) -> bool {
    !tz.is_empty()
        && tz.len() <= 64
        && tz
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && !tz.starts_with('/')
        && !tz.contains("//")
}

/// Creates an economy with its genesis hash.
pub fn create_economy(
    store: &mut dyn Store,
    id: &str,
    name: &str,
    rules: &Rules,
    timezone: &str,
    now_ms: i64,
) -> Result<EconomyMeta, JournalError> {
    if !is_valid_name(id) {
        return Err(JournalError::Invalid(format!(
            "economy id {id:?} must match [A-Za-z0-9_.:@-]{{1,64}}"
        )));
    }
    if name.is_empty() || name.len() > ECONOMY_NAME_BYTES_MAX || name.chars().any(char::is_control)
    {
        return Err(JournalError::Invalid(format!(
            "economy name must be 1 to {ECONOMY_NAME_BYTES_MAX} bytes without control characters"
        )));
    }
    if !is_valid_timezone(timezone) {
        return Err(JournalError::Invalid(format!(
            "{timezone:?} is not a time zone name"
        )));
    }
    rules
        .check(0)
        .map_err(|why| JournalError::Invalid(format!("invalid rules: {why}")))?;
    let mut meta = EconomyMeta {
        id: id.to_string(),
        name: name.to_string(),
        rules_toml: jifen_wire::rules_to_toml(rules),
        timezone: timezone.to_string(),
        created_at: time::rfc3339_ms(now_ms),
        genesis: [0; 32],
    };
    meta.genesis = genesis_of(&meta);
    store.create_economy(&meta)?;
    Ok(meta)
}

/// Writes the journal as replay-format JSONL (one command per line). `jifen replay` of the
/// output, under the economy's initial rules, gives the same state.
pub fn export(
    store: &mut dyn Store,
    economy: &str,
    out: &mut dyn std::io::Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, JournalError> {
    if store.economy(economy)?.is_none() {
        return Err(JournalError::NoSuchEconomy(economy.to_string()));
    }
    let total = store.head(economy)?.map_or(0, |e| e.seq);
    let mut seq = 0;
    loop {
        let chunk = store.entries(economy, seq, READ_CHUNK_ENTRIES)?;
        if chunk.is_empty() {
            break;
        }
        for e in &chunk {
            out.write_all(e.command.as_bytes())?;
            out.write_all(b"\n")?;
            seq = e.seq;
        }
        progress(seq, total);
    }
    Ok(seq)
}
