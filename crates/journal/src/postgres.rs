//! PostgreSQL, for production: stock server, no extensions, so it works with a managed or
//! replicated PostgreSQL. Commits are durable with the server's default `synchronous_commit`.

use postgres::{Client, NoTls};

use crate::entry::Entry;
use crate::store::{
    decode_sample, encode_sample, hash_from, AppendExtras, EconomyMeta, Sample, Store, StoreError,
    StoreResult,
};

pub struct PgStore {
    client: Client,
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
CREATE TABLE IF NOT EXISTS journal (
    economy TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    command TEXT NOT NULL,
    outcome TEXT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (economy, seq)
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
CREATE TABLE IF NOT EXISTS settings (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
";

/// Serialises schema creation between processes starting at once.
const SCHEMA_LOCK_KEY: i64 = 0x6a6966656e;

impl PgStore {
    pub fn connect(url: &str) -> StoreResult<PgStore> {
        let mut client = Client::connect(url, NoTls)?;
        client.execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK_KEY])?;
        let created = client.batch_execute(SCHEMA);
        client.execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK_KEY])?;
        created?;
        Ok(PgStore { client })
    }
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

fn entry_from_row(row: &postgres::Row) -> StoreResult<Entry> {
    Ok(Entry {
        seq: row.get::<_, i64>(0) as u64,
        ts_ms: row.get(1),
        command: row.get(2),
        outcome: row.get(3),
        hash: hash_from(row.get::<_, &[u8]>(4))?,
    })
}

/// One statement, one round trip: the rows travel as arrays.
fn insert_entries(
    client: &mut impl postgres::GenericClient,
    economy: &str,
    entries: &[Entry],
) -> StoreResult<()> {
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq as i64).collect();
    let ts: Vec<i64> = entries.iter().map(|e| e.ts_ms).collect();
    let commands: Vec<&str> = entries.iter().map(|e| e.command.as_str()).collect();
    let outcomes: Vec<&str> = entries.iter().map(|e| e.outcome.as_str()).collect();
    let hashes: Vec<&[u8]> = entries.iter().map(|e| &e.hash[..]).collect();
    client.execute(
        "INSERT INTO journal (economy, seq, ts_ms, command, outcome, hash) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])",
        &[&economy, &seqs, &ts, &commands, &outcomes, &hashes],
    )?;
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

    fn append_with(
        &mut self,
        economy: &str,
        entries: &[Entry],
        extras: &AppendExtras,
    ) -> StoreResult<()> {
        let plain = extras.rule_change_seqs.is_empty() && extras.sample.is_none();
        if plain {
            return insert_entries(&mut self.client, economy, entries);
        }
        let mut tx = self.client.transaction()?;
        insert_entries(&mut tx, economy, entries)?;
        for seq in &extras.rule_change_seqs {
            tx.execute(
                "INSERT INTO rule_changes (economy, seq) VALUES ($1, $2)",
                &[&economy, &(*seq as i64)],
            )?;
        }
        if let Some(sample) = &extras.sample {
            tx.execute(
                "INSERT INTO samples (economy, seq, ts_ms, figures) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (economy, seq) DO UPDATE SET ts_ms = EXCLUDED.ts_ms, figures = EXCLUDED.figures",
                &[&economy, &(sample.seq as i64), &sample.ts_ms, &&encode_sample(sample)[..]],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn rule_change_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>> {
        let rows = self.client.query(
            "SELECT seq FROM rule_changes WHERE economy = $1 ORDER BY seq",
            &[&economy],
        )?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
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

    fn kv_list(&mut self, scope: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = self.client.query(
            "SELECT key, value FROM settings WHERE scope = $1 ORDER BY key",
            &[&scope],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn entries(&mut self, economy: &str, after: u64, limit: usize) -> StoreResult<Vec<Entry>> {
        let rows = self.client.query(
            "SELECT seq, ts_ms, command, outcome, hash FROM journal WHERE economy = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&economy, &(after as i64), &(limit as i64)],
        )?;
        rows.iter().map(entry_from_row).collect()
    }

    fn head(&mut self, economy: &str) -> StoreResult<Option<Entry>> {
        let row = self.client.query_opt(
            "SELECT seq, ts_ms, command, outcome, hash FROM journal WHERE economy = $1 ORDER BY seq DESC LIMIT 1",
            &[&economy],
        )?;
        row.as_ref().map(entry_from_row).transpose()
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
}
