//! SQLite, the embedded default: one file under the data directory, WAL mode,
//! `synchronous=FULL`, so a committed transaction is on disk before `append` returns.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::block::{decode_block, for_each_in_block, Block};
use crate::entry::Entry;
use crate::store::check_follows;
use crate::store::{
    decode_sample, encode_sample, hash_from, AppendExtras, EconomyMeta, EntryRef, Sample, Store,
    StoreError, StoreResult,
};

pub struct SqliteStore {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS economies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    rules TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_at TEXT NOT NULL,
    genesis BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_blocks (
    economy TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (economy, first_seq),
    UNIQUE (economy, last_seq)
);
CREATE TABLE IF NOT EXISTS snapshots (
    economy TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (economy, seq)
);
CREATE TABLE IF NOT EXISTS rule_changes (
    economy TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (economy, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS samples (
    economy TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    figures BLOB NOT NULL,
    PRIMARY KEY (economy, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS samples_by_time ON samples (economy, ts_ms);
CREATE TABLE IF NOT EXISTS settings (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
";

/// The database file inside a data directory.
pub const SQLITE_FILE: &str = "jifen.sqlite3";

impl SqliteStore {
    pub fn open_dir(dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir)?;
        SqliteStore::open(&dir.join(SQLITE_FILE))
    }

    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Reads (recovery, verify, export) go through the page cache without copies.
        conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore { conn })
    }
}

fn meta_from_row(row: &rusqlite::Row) -> rusqlite::Result<(EconomyMeta, Vec<u8>)> {
    Ok((
        EconomyMeta {
            id: row.get(0)?,
            name: row.get(1)?,
            rules_toml: row.get(2)?,
            timezone: row.get(3)?,
            created_at: row.get(4)?,
            genesis: [0; 32],
        },
        row.get(5)?,
    ))
}

fn with_genesis((mut meta, genesis): (EconomyMeta, Vec<u8>)) -> StoreResult<EconomyMeta> {
    meta.genesis = hash_from(&genesis)?;
    Ok(meta)
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn create_economy(&mut self, meta: &EconomyMeta) -> StoreResult<()> {
        let tx = self.conn.transaction()?;
        let exists: Option<String> = tx
            .query_row("SELECT id FROM economies WHERE id = ?1", [&meta.id], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::EconomyExists(meta.id.clone()));
        }
        tx.execute(
            "INSERT INTO economies (id, name, rules, timezone, created_at, genesis) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![meta.id, meta.name, meta.rules_toml, meta.timezone, meta.created_at, &meta.genesis[..]],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn economies(&mut self) -> StoreResult<Vec<EconomyMeta>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, rules, timezone, created_at, genesis FROM economies ORDER BY id",
        )?;
        let rows = stmt.query_map([], meta_from_row)?;
        rows.map(|r| with_genesis(r?)).collect()
    }

    fn economy(&mut self, id: &str) -> StoreResult<Option<EconomyMeta>> {
        let row = self
            .conn
            .query_row(
                "SELECT id, name, rules, timezone, created_at, genesis FROM economies WHERE id = ?1",
                [id],
                meta_from_row,
            )
            .optional()?;
        row.map(with_genesis).transpose()
    }

    fn append_blocks(
        &mut self,
        economy: &str,
        blocks: &[Block],
        extras: &AppendExtras,
    ) -> StoreResult<()> {
        let tx = self.conn.transaction()?;
        {
            let head: i64 = tx
                .prepare_cached(
                    "SELECT coalesce(max(last_seq), 0) FROM journal_blocks WHERE economy = ?1",
                )?
                .query_row([economy], |r| r.get(0))?;
            check_follows(economy, head as u64, blocks)?;
            let mut stmt = tx.prepare_cached(
                "INSERT INTO journal_blocks (economy, first_seq, last_seq, data) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for b in blocks {
                stmt.execute(params![
                    economy,
                    b.first_seq as i64,
                    b.last_seq as i64,
                    b.data
                ])?;
            }
            for seq in &extras.rule_change_seqs {
                tx.prepare_cached("INSERT INTO rule_changes (economy, seq) VALUES (?1, ?2)")?
                    .execute(params![economy, *seq as i64])?;
            }
            if let Some(sample) = &extras.sample {
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO samples (economy, seq, ts_ms, figures) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    economy,
                    sample.seq as i64,
                    sample.ts_ms,
                    &encode_sample(sample)[..]
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn rule_change_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq FROM rule_changes WHERE economy = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([economy], |r| r.get::<_, i64>(0))?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    fn samples(
        &mut self,
        economy: &str,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<Sample>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, ts_ms, figures FROM samples WHERE economy = ?1 AND ts_ms >= ?2 AND ts_ms <= ?3 ORDER BY ts_ms, seq LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![economy, from_ms, to_ms, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (seq, ts_ms, figures) = r?;
            decode_sample(seq as u64, ts_ms, &figures)
        })
        .collect()
    }

    fn sample_before(&mut self, economy: &str, before_ms: i64) -> StoreResult<Option<Sample>> {
        let row = self
            .conn
            .query_row(
                "SELECT seq, ts_ms, figures FROM samples WHERE economy = ?1 AND ts_ms < ?2 ORDER BY ts_ms DESC, seq DESC LIMIT 1",
                params![economy, before_ms],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)),
            )
            .optional()?;
        row.map(|(seq, ts, f)| decode_sample(seq as u64, ts, &f))
            .transpose()
    }

    fn kv_get(&mut self, scope: &str, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE scope = ?1 AND key = ?2",
                params![scope, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn kv_put(&mut self, scope: &str, key: &str, value: &str) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO settings (scope, key, value) VALUES (?1, ?2, ?3)",
            params![scope, key, value],
        )?;
        Ok(())
    }

    fn kv_list(&mut self, scope: &str) -> StoreResult<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM settings WHERE scope = ?1 ORDER BY key")?;
        let rows = stmt.query_map([scope], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn entries(&mut self, economy: &str, after: u64, limit: usize) -> StoreResult<Vec<Entry>> {
        let mut out = Vec::new();
        self.scan(economy, after, limit, &mut |e| {
            out.push(e.to_entry());
            Ok(())
        })?;
        Ok(out)
    }

    fn scan(
        &mut self,
        economy: &str,
        after: u64,
        limit: usize,
        f: &mut dyn FnMut(EntryRef<'_>) -> StoreResult<()>,
    ) -> StoreResult<usize> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT data FROM journal_blocks WHERE economy = ?1 AND last_seq > ?2 ORDER BY last_seq",
        )?;
        let mut rows = stmt.query(params![economy, after as i64])?;
        let mut n = 0;
        while n < limit {
            let Some(row) = rows.next()? else { break };
            let data = row
                .get_ref(0)?
                .as_blob()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            for_each_in_block(data, &mut |e| {
                if e.seq > after {
                    f(e)?;
                    n += 1;
                }
                Ok(n < limit)
            })?;
        }
        Ok(n)
    }

    fn head(&mut self, economy: &str) -> StoreResult<Option<Entry>> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM journal_blocks WHERE economy = ?1 ORDER BY last_seq DESC LIMIT 1",
                [economy],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match data {
            Some(d) => decode_block(&d)?.pop(),
            None => None,
        })
    }

    fn entry(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Entry>> {
        let data: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT data FROM journal_blocks WHERE economy = ?1 AND last_seq >= ?2 ORDER BY last_seq LIMIT 1",
                params![economy, seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match data {
            Some(d) => decode_block(&d)?.into_iter().find(|e| e.seq == seq),
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
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshots (economy, seq, data) VALUES (?1, ?2, ?3)",
            params![economy, seq as i64, data],
        )?;
        tx.execute(
            "DELETE FROM snapshots WHERE economy = ?1 AND seq NOT IN (SELECT seq FROM snapshots WHERE economy = ?1 ORDER BY seq DESC LIMIT ?2)",
            params![economy, keep as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn snapshot_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq FROM snapshots WHERE economy = ?1 ORDER BY seq DESC")?;
        let rows = stmt.query_map([economy], |r| r.get::<_, i64>(0))?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    fn snapshot(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT data FROM snapshots WHERE economy = ?1 AND seq = ?2",
                params![economy, seq as i64],
                |r| r.get(0),
            )
            .optional()?)
    }
}
