//! PostgreSQL, for production: stock server, no extensions, so it works with a managed or
//! replicated PostgreSQL. Commits are durable with the server's default `synchronous_commit`.

use crate::postings::PostingsRow;
use postgres::{Client, NoTls};

use crate::block::{decode_block, for_each_in_block, Block};
use crate::entry::Entry;
use crate::entry::EntryRef;
use crate::error::{StoreError, StoreResult};
use crate::store::{
    check_follows, decode_sample, decode_settlement, encode_sample, encode_settlement, hash_from,
    AppendExtras, EconomyMeta, IntegrityReport, Sample, SettlementRow, Store,
    INTEGRITY_PROBLEMS_MAX,
};

pub struct PgStore {
    client: Client,
    /// The usual append's statement (`pg_append.rs`), prepared once.
    append: crate::pg_append::Prepared,
    url: String,
    /// With several nodes: the lease this writer holds (node, epoch). Every append checks it in
    /// its own transaction, so a writer that lost its lease cannot commit (see `cluster.rs`).
    fence: Option<(String, i64)>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS economies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rules TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_at TEXT NOT NULL,
    genesis BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_blocks (
    economy TEXT NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (economy, last_seq),
    UNIQUE (economy, first_seq)
);
CREATE TABLE IF NOT EXISTS snapshots (
    economy TEXT NOT NULL,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (economy, seq)
);
CREATE TABLE IF NOT EXISTS rule_changes (
    economy TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (economy, seq)
);
CREATE TABLE IF NOT EXISTS samples (
    economy TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    figures BYTEA NOT NULL,
    PRIMARY KEY (economy, seq)
);
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (economy, ts_ms);
CREATE TABLE IF NOT EXISTS postings (economy TEXT NOT NULL, first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL, ts_ms BIGINT NOT NULL, data BYTEA NOT NULL,
    PRIMARY KEY (economy, first_seq));
CREATE TABLE IF NOT EXISTS settlements (
    economy TEXT NOT NULL,
    seq BIGINT NOT NULL,
    day BIGINT NOT NULL,
    figures BYTEA NOT NULL,
    PRIMARY KEY (economy, seq)
);
CREATE TABLE IF NOT EXISTS content (
    sha256 TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
";

/// The tables of several nodes on one database (see `cluster.rs`).
const CLUSTER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    heartbeat_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    economy TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
";

/// Serialises schema creation between processes starting at once.
const SCHEMA_LOCK_KEY: i64 = 0x6a6966656e;

/// Creates the tables (the journal's and the cluster's) once per database and process: later
/// connections find them there.
pub(crate) fn ensure_schema(client: &mut Client, url: &str) -> StoreResult<()> {
    static READY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if READY.lock().is_ok_and(|r| r.iter().any(|u| u == url)) {
        return Ok(());
    }
    with_schema_lock(client, |c| {
        c.batch_execute(SCHEMA)?;
        c.batch_execute(CLUSTER_SCHEMA)?;
        c.batch_execute(crate::dividends::postgres::SCHEMA)?;
        crate::dividends::postgres::migrate(c)
    })?;
    if let Ok(mut r) = READY.lock() {
        r.push(url.to_string());
    }
    Ok(())
}

/// Runs `f` holding the schema lock (two processes creating the same table at once would
/// otherwise collide, even with `IF NOT EXISTS`).
pub(crate) fn with_schema_lock(
    client: &mut Client,
    f: impl FnOnce(&mut Client) -> StoreResult<()>,
) -> StoreResult<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK_KEY])?;
    let done = f(client);
    client.execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK_KEY])?;
    done
}

impl PgStore {
    pub fn connect(url: &str) -> StoreResult<PgStore> {
        let mut client = Client::connect(url, NoTls)
            .map_err(|e| StoreError::Open(format!("PostgreSQL at {}: {e}", redacted(url))))?;
        ensure_schema(&mut client, url)?;
        Ok(PgStore {
            client,
            append: Default::default(),
            url: url.to_string(),
            fence: None,
        })
    }

    /// Fences every later append: it commits only while `node` holds the economy's lease at
    /// `epoch`, and fails with [`StoreError::Fenced`] otherwise.
    pub fn set_fence(&mut self, node: &str, epoch: i64) -> StoreResult<()> {
        // A writer frozen inside an append would hold the lease row and stall a takeover:
        // PostgreSQL ends such a session (rolling the append back) after half a second.
        self.client
            .batch_execute("SET idle_in_transaction_session_timeout = 500")?;
        self.fence = Some((node.to_string(), epoch));
        Ok(())
    }
}

/// The advisory lock a single-node server holds on its database for as long as it runs.
const WRITER_LOCK_KEY: i64 = 0x6a69_6665_6e00; // "jifen\0"

impl PgStore {
    /// Takes the database for one writer (a server, or `jifen import`) until this connection
    /// closes: a session advisory lock. Refused, naming the holder's address and process, when
    /// another writer has it. Nodes of a cluster share a database and do not take it: their
    /// leases fence each economy instead.
    pub fn lock_writer(&mut self, holder: &str) -> StoreResult<()> {
        let name = format!("{holder} (pid {})", std::process::id());
        self.client
            .execute("SELECT set_config('application_name', $1, false)", &[&name])?;
        let got: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK_KEY])?
            .get(0);
        if got {
            return Ok(());
        }
        let who = self
            .client
            .query_opt(
                "SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.pid \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted \
                   AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 LIMIT 1",
                &[&WRITER_LOCK_KEY],
            )?
            .map(|r| {
                let (app, addr, pid): (String, String, i32) = (r.get(0), r.get(1), r.get(2));
                format!("{app} from {addr} (server process {pid})")
            })
            .unwrap_or_else(|| "another process".into());
        Err(StoreError::InUse(format!(
            "the PostgreSQL database {} is in use by {who}: only one writer may use it at a time (several nodes share one with --node-id). Stop that process first",
            redacted(&self.url)
        )))
    }
}

/// A connection URL without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Checks, inside the append's transaction, that the fence's lease still stands, and holds it
/// (`FOR SHARE`) until the transaction ends, so a takeover waits for this append to finish.
fn check_fence(
    tx: &mut postgres::Transaction<'_>,
    economy: &str,
    fence: &Option<(String, i64)>,
) -> StoreResult<()> {
    let Some((node, epoch)) = fence else {
        return Ok(());
    };
    let held = tx.query_opt(
        "SELECT 1 FROM leases WHERE economy = $1 AND owner = $2 AND epoch = $3 FOR SHARE",
        &[&economy, node, epoch],
    )?;
    if held.is_none() {
        return Err(StoreError::Fenced(format!(
            "economy {economy}: node {node} no longer holds the lease at epoch {epoch}"
        )));
    }
    Ok(())
}

fn meta_from_row(row: &postgres::Row) -> StoreResult<EconomyMeta> {
    Ok(EconomyMeta {
        id: row.get(0),
        name: row.get(1),
        rules_toml: row.get(2),
        timezone: row.get(3),
        created_at: row.get(4),
        genesis: hash_from(row.get::<_, &[u8]>(5))?,
    })
}

/// Inserts the entries' blocks in one statement, only if they follow the stored head (checked
/// in the same statement, so one round trip). Two writers racing for the same seqs cannot both
/// commit: the second finds the head moved, or its `first_seq` or `last_seq` taken.
fn insert_blocks(
    client: &mut impl postgres::GenericClient,
    economy: &str,
    blocks: &[Block],
) -> StoreResult<()> {
    let Some(first) = blocks.first() else {
        return Ok(());
    };
    check_follows(economy, first.first_seq - 1, blocks)?;
    let (firsts, lasts, data) = crate::block::columns(blocks);
    let inserted = client.execute(
        "INSERT INTO journal_blocks (economy, first_seq, last_seq, data) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bytea[]) \
         WHERE (SELECT coalesce(max(last_seq), 0) FROM journal_blocks WHERE economy = $1) = $5",
        &[
            &economy,
            &firsts,
            &lasts,
            &data,
            &(first.first_seq as i64 - 1),
        ],
    )?;
    if inserted as usize != blocks.len() {
        return Err(StoreError::Malformed(format!(
            "economy {economy}: an append from seq {} does not follow the stored head",
            first.first_seq
        )));
    }
    Ok(())
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_economy(&mut self, meta: &EconomyMeta) -> StoreResult<()> {
        let inserted = self.client.execute(
            "INSERT INTO economies (id, name, rules, timezone, created_at, genesis) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[&meta.id, &meta.name, &meta.rules_toml, &meta.timezone, &meta.created_at, &&meta.genesis[..]],
        )?;
        if inserted == 0 {
            return Err(StoreError::EconomyExists(meta.id.clone()));
        }
        Ok(())
    }

    fn economies(&mut self) -> StoreResult<Vec<EconomyMeta>> {
        let rows = self.client.query(
            "SELECT id, name, rules, timezone, created_at, genesis FROM economies ORDER BY id",
            &[],
        )?;
        rows.iter().map(meta_from_row).collect()
    }

    fn economy(&mut self, id: &str) -> StoreResult<Option<EconomyMeta>> {
        let row = self.client.query_opt(
            "SELECT id, name, rules, timezone, created_at, genesis FROM economies WHERE id = $1",
            &[&id],
        )?;
        row.as_ref().map(meta_from_row).transpose()
    }

    fn append_blocks(
        &mut self,
        economy: &str,
        blocks: &[Block],
        extras: &AppendExtras,
    ) -> StoreResult<()> {
        if self.fence.is_none() && !blocks.is_empty() && extras.only_postings() {
            let (client, prepared) = (&mut self.client, &mut self.append);
            return crate::pg_append::append(client, prepared, economy, blocks, &extras.postings);
        }
        let mut tx = self.client.transaction()?;
        check_fence(&mut tx, economy, &self.fence)?;
        insert_blocks(&mut tx, economy, blocks)?;
        for seq in &extras.rule_change_seqs {
            tx.execute(
                "INSERT INTO rule_changes (economy, seq) VALUES ($1, $2)",
                &[&economy, &(*seq as i64)],
            )?;
        }
        for row in &extras.settlements {
            tx.execute(
                "INSERT INTO settlements (economy, seq, day, figures) VALUES ($1, $2, $3, $4)",
                &[
                    &economy,
                    &(row.seq as i64),
                    &(row.day as i64),
                    &&encode_settlement(row)[..],
                ],
            )?;
        }
        for (seq, payouts) in &extras.payouts {
            crate::dividends::postgres::insert(&mut tx, economy, *seq, payouts)?;
        }
        for p in &extras.postings {
            tx.execute(
                "INSERT INTO postings (economy, first_seq, last_seq, ts_ms, data) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (economy, first_seq) DO UPDATE SET last_seq = EXCLUDED.last_seq, ts_ms = EXCLUDED.ts_ms, data = EXCLUDED.data",
                &[&economy, &(p.first_seq as i64), &(p.last_seq as i64), &p.ts_ms, &p.data],
            )?;
        }
        if let Some(sample) = &extras.sample {
            tx.execute(
                "INSERT INTO samples (economy, seq, ts_ms, figures) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (economy, seq) DO UPDATE SET ts_ms = EXCLUDED.ts_ms, figures = EXCLUDED.figures",
                &[&economy, &(sample.seq as i64), &sample.ts_ms, &&encode_sample(sample)[..]],
            )?;
        }
        for w in &extras.kv {
            match &w.value {
                Some(value) => tx.execute(
                    "INSERT INTO settings (scope, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&w.scope, &w.key, value],
                )?,
                None => tx.execute(
                    "DELETE FROM settings WHERE scope = $1 AND key = $2",
                    &[&w.scope, &w.key],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    fn dividends_of(
        &mut self,
        economy: &str,
        account: u32,
        limit: usize,
    ) -> StoreResult<Vec<(u64, u64)>> {
        crate::dividends::postgres::of(&mut self.client, economy, account, limit)
    }

    fn settlements(&mut self, economy: &str, limit: usize) -> StoreResult<Vec<SettlementRow>> {
        let rows = self.client.query(
            "SELECT seq, day, figures FROM settlements WHERE economy = $1 ORDER BY seq DESC LIMIT $2",
            &[&economy, &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| decode_settlement(r.get::<_, i64>(0) as u64, r.get(1), r.get(2)))
            .collect()
    }

    fn rule_change_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>> {
        let rows = self.client.query(
            "SELECT seq FROM rule_changes WHERE economy = $1 ORDER BY seq",
            &[&economy],
        )?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    fn postings(
        &mut self,
        economy: &str,
        after: u64,
        upto: u64,
        each: &mut dyn FnMut(PostingsRow) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut from = after;
        loop {
            let rows = self.client.query(
                "SELECT first_seq, last_seq, ts_ms, data FROM postings WHERE economy = $1 AND first_seq <= $3 AND last_seq > $2 \
                 AND first_seq >= COALESCE((SELECT max(first_seq) FROM postings WHERE economy = $1 AND first_seq <= $2 + 1), 0) \
                 ORDER BY first_seq LIMIT 1000",
                &[&economy, &(from as i64), &(upto as i64)],
            )?;
            for r in &rows {
                from = r.get::<_, i64>(1) as u64;
                let (first, ts_ms, data) = (r.get::<_, i64>(0) as u64, r.get(2), r.get(3));
                each(PostingsRow {
                    first_seq: first,
                    last_seq: from,
                    ts_ms,
                    data,
                })?;
            }
            if rows.len() < 1000 || from >= upto {
                return Ok(());
            }
        }
    }

    fn samples(
        &mut self,
        economy: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<Sample>> {
        let rows = self.client.query(
            "SELECT seq, ts_ms, figures FROM samples WHERE economy = $1 AND ts_ms >= $2 AND ts_ms <= $3 ORDER BY ts_ms, seq LIMIT $4",
            &[&economy, &from_ms, &to_ms, &(limit as i64)],
        )?;
        rows.iter()
            .map(|r| decode_sample(r.get::<_, i64>(0) as u64, r.get(1), r.get::<_, &[u8]>(2)))
            .collect()
    }

    fn sample_before(&mut self, economy: &str, before_ms: i64) -> StoreResult<Option<Sample>> {
        let row = self.client.query_opt(
            "SELECT seq, ts_ms, figures FROM samples WHERE economy = $1 AND ts_ms < $2 ORDER BY ts_ms DESC, seq DESC LIMIT 1",
            &[&economy, &before_ms],
        )?;
        row.map(|r| decode_sample(r.get::<_, i64>(0) as u64, r.get(1), r.get::<_, &[u8]>(2)))
            .transpose()
    }

    fn kv_get(&mut self, scope: &str, key: &str) -> StoreResult<Option<String>> {
        let row = self.client.query_opt(
            "SELECT value FROM settings WHERE scope = $1 AND key = $2",
            &[&scope, &key],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn kv_put(&mut self, scope: &str, key: &str, value: &str) -> StoreResult<()> {
        self.client.execute(
            "INSERT INTO settings (scope, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value",
            &[&scope, &key, &value],
        )?;
        Ok(())
    }

    fn integrity_check(&mut self, thorough: bool) -> StoreResult<IntegrityReport> {
        if !thorough {
            // PostgreSQL checks its pages as it reads them (with data checksums on): nothing
            // quick to add at start-up.
            return Ok(IntegrityReport {
                method: "PostgreSQL: no quick check".into(),
                checked: false,
                problems: Vec::new(),
            });
        }
        let available: bool = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck')",
                &[],
            )?
            .get(0);
        if !available {
            return Ok(IntegrityReport {
                method: "PostgreSQL: amcheck is not installed on this server, so its indexes were not checked (install the contrib package, then CREATE EXTENSION amcheck)".into(),
                checked: false,
                problems: Vec::new(),
            });
        }
        if let Err(e) = self
            .client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        {
            return Ok(IntegrityReport {
                method: format!("PostgreSQL: amcheck is installed but could not be enabled in this database ({e}), so its indexes were not checked"),
                checked: false,
                problems: Vec::new(),
            });
        }
        let indexes: Vec<(u32, String)> = self
            .client
            .query(
                "SELECT c.oid, c.relname FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_am a ON a.oid = c.relam \
                 JOIN pg_class t ON t.oid = i.indrelid \
                 WHERE a.amname = 'btree' AND t.relnamespace = current_schema()::regnamespace \
                 ORDER BY c.relname",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut problems = Vec::new();
        for (oid, name) in &indexes {
            if let Err(e) = self
                .client
                .query_one("SELECT bt_index_check($1::oid, true)", &[oid])
            {
                problems.push(format!("index {name}: {e}"));
            }
        }
        problems.truncate(INTEGRITY_PROBLEMS_MAX);
        Ok(IntegrityReport {
            method: format!(
                "PostgreSQL amcheck (bt_index_check) on {} indexes",
                indexes.len()
            ),
            checked: true,
            problems,
        })
    }

    fn kv_delete(&mut self, scope: &str, key: &str) -> StoreResult<()> {
        self.client.execute(
            "DELETE FROM settings WHERE scope = $1 AND key = $2",
            &[&scope, &key],
        )?;
        Ok(())
    }

    fn put_content(&mut self, sha256: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
        self.client.execute(
            "INSERT INTO content (sha256, content_type, data) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
            &[&sha256, &content_type, &bytes],
        )?;
        Ok(())
    }

    fn content(&mut self, sha256: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        let row = self.client.query_opt(
            "SELECT content_type, data FROM content WHERE sha256 = $1",
            &[&sha256],
        )?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    fn kv_list(&mut self, scope: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = self.client.query(
            "SELECT key, value FROM settings WHERE scope = $1 ORDER BY key",
            &[&scope],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn scan(
        &mut self,
        economy: &str,
        after: u64,
        limit: usize,
        f: &mut dyn FnMut(EntryRef<'_>) -> StoreResult<()>,
    ) -> StoreResult<usize> {
        let mut n = 0;
        let mut from = after;
        // A few blocks a query: a block holds up to a whole commit (thousands of entries), so
        // asking for more would read far past `limit` only to drop it.
        while n < limit {
            let rows = self.client.query(
                "SELECT last_seq, data FROM journal_blocks WHERE economy = $1 AND last_seq > $2 ORDER BY last_seq LIMIT 2",
                &[&economy, &(from as i64)],
            )?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                from = row.get::<_, i64>(0) as u64;
                for_each_in_block(row.get::<_, &[u8]>(1), &mut |e| {
                    if e.seq > after {
                        f(e)?;
                        n += 1;
                    }
                    Ok(n < limit)
                })?;
                if n >= limit {
                    break;
                }
            }
        }
        Ok(n)
    }

    fn head(&mut self, economy: &str) -> StoreResult<Option<Entry>> {
        let row = self.client.query_opt(
            "SELECT data FROM journal_blocks WHERE economy = $1 ORDER BY last_seq DESC LIMIT 1",
            &[&economy],
        )?;
        Ok(match row {
            Some(r) => decode_block(r.get::<_, &[u8]>(0))?.pop(),
            None => None,
        })
    }

    fn entry(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Entry>> {
        let row = self.client.query_opt(
            "SELECT data FROM journal_blocks WHERE economy = $1 AND last_seq >= $2 ORDER BY last_seq LIMIT 1",
            &[&economy, &(seq as i64)],
        )?;
        Ok(match row {
            Some(r) => decode_block(r.get::<_, &[u8]>(0))?
                .into_iter()
                .find(|e| e.seq == seq),
            None => None,
        })
    }

    fn put_snapshot(
        &mut self,
        economy: &str,
        seq: u64,
        data: &[u8],
        keep: usize,
    ) -> StoreResult<()> {
        let mut tx = self.client.transaction()?;
        tx.execute(
            "INSERT INTO snapshots (economy, seq, data) VALUES ($1, $2, $3) ON CONFLICT (economy, seq) DO UPDATE SET data = EXCLUDED.data",
            &[&economy, &(seq as i64), &data],
        )?;
        tx.execute(
            "DELETE FROM snapshots WHERE economy = $1 AND seq NOT IN (SELECT seq FROM snapshots WHERE economy = $1 ORDER BY seq DESC LIMIT $2)",
            &[&economy, &(keep as i64)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn snapshot_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>> {
        let rows = self.client.query(
            "SELECT seq FROM snapshots WHERE economy = $1 ORDER BY seq DESC",
            &[&economy],
        )?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    fn snapshot(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Vec<u8>>> {
        let row = self.client.query_opt(
            "SELECT data FROM snapshots WHERE economy = $1 AND seq = $2",
            &[&economy, &(seq as i64)],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn reopen(&self) -> StoreResult<Box<dyn Store>> {
        let mut store = PgStore::connect(&self.url)?;
        if let Some((node, epoch)) = &self.fence {
            store.set_fence(node, *epoch)?;
        }
        Ok(Box::new(store))
    }
}
