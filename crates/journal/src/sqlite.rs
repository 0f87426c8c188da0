//! SQLite, the embedded default: one file under the data directory, WAL mode,
//! `synchronous=FULL`, so a committed transaction is on disk before `append` returns.

use crate::postings::PostingsRow;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::block::{decode_block, for_each_in_block, Block};
use crate::entry::Entry;
use crate::entry::EntryRef;
use crate::error::{StoreError, StoreResult};
use crate::store::check_follows;
use crate::store::{
    decode_sample, decode_settlement, encode_sample, encode_settlement, hash_from, AppendExtras,
    EconomyMeta, IntegrityReport, Sample, SettlementRow, Store, INTEGRITY_PROBLEMS_MAX,
};

/// Snapshots are files beside the database (`snapshots/<hex of economy id>/<seq>.snap`, written
/// to a temporary name, synced, then renamed), listed in the `snapshot_files` table: writing
/// hundreds of megabytes through SQLite would hold its single write lock, and every journal
/// append would wait.
pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    /// Whether each commit's lines are kept in its first block's row (`sqlite_postings`).
    inline_postings: bool,
    /// How long the last write transaction's `COMMIT` took: in WAL mode with `synchronous =
    /// FULL`, the WAL's fsync.
    last_sync: Option<std::time::Duration>,
    /// The pace of this connection's snapshot writes, if it writes them in the background.
    pace: Option<crate::store::SnapshotPace>,
}

/// The stored head of an economy, read in every commit. `CAST(?1 AS TEXT)`, not a bare `?1`:
/// the bundled SQLite is built with STAT4, and a bare parameter compared with an indexed column
/// makes it compile the statement again whenever a value is bound, a parse and a plan on every
/// commit. The plan is the same: the covering index on (economy, last_seq).
const HEAD_QUERY: &str =
    "SELECT coalesce(max(last_seq), 0) FROM journal_blocks WHERE economy = CAST(?1 AS TEXT)";

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
    postings BLOB,
    data BLOB NOT NULL,
    UNIQUE (economy, first_seq),
    UNIQUE (economy, last_seq)
);
CREATE TABLE IF NOT EXISTS snapshot_files (
    economy TEXT NOT NULL,
    seq INTEGER NOT NULL,
    file TEXT NOT NULL,
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
CREATE TABLE IF NOT EXISTS postings (
    economy TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (economy, first_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settlements (
    economy TEXT NOT NULL,
    seq INTEGER NOT NULL,
    day INTEGER NOT NULL,
    figures BLOB NOT NULL,
    PRIMARY KEY (economy, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS content (
    sha256 TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
";

/// The database file inside a data directory.
pub const SQLITE_FILE: &str = "jifen.sqlite3";
/// The database file and the two SQLite keeps beside it.
pub const SQLITE_FILES: [&str; 3] = ["jifen.sqlite3", "jifen.sqlite3-wal", "jifen.sqlite3-shm"];

impl SqliteStore {
    /// Runs `body` in a write transaction, `BEGIN IMMEDIATE` to `COMMIT`, rolled back if
    /// anything fails. Every write of this store goes through here. The two statements are
    /// prepared once and kept: the journal commits hundreds of times a second, and rusqlite's
    /// `Transaction` parses them again each time.
    fn in_write_transaction<T>(
        &mut self,
        body: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        /// Rolls back a transaction still open when it is dropped: after an error, or a panic,
        /// nothing of a failed append may stay (the caller hears of the failure).
        struct RollBackUnlessCommitted<'a>(&'a Connection);
        impl Drop for RollBackUnlessCommitted<'_> {
            fn drop(&mut self) {
                if !self.0.is_autocommit() {
                    let _ = self.0.execute_batch("ROLLBACK");
                }
            }
        }
        let (value, synced) = {
            let conn = &self.conn;
            conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            let _guard = RollBackUnlessCommitted(conn);
            let value = body(conn)?;
            let syncing = std::time::Instant::now();
            conn.prepare_cached("COMMIT")?.execute([])?;
            (value, syncing.elapsed())
        };
        self.last_sync = Some(synced);
        Ok(value)
    }

    /// Opens (or creates) the store in `dir`, a directory readable by its owner only: the
    /// database holds key hashes and venue secrets. Errors name the path they concern.
    pub fn open_dir(dir: &Path) -> StoreResult<SqliteStore> {
        let tightened =
            crate::private::ensure_private_dir(dir, &SQLITE_FILES).map_err(StoreError::Open)?;
        for what in tightened {
            eprintln!("jifen: WARNING: {what}: others could read the store; made it private");
        }
        SqliteStore::open(&dir.join(SQLITE_FILE))
    }

    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let at = |e: &dyn std::fmt::Display| StoreError::Open(format!("{}: {e}", path.display()));
        create_private(path).map_err(|e| at(&e))?;
        let mut conn = Connection::open(path).map_err(|e| at(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Reads (recovery, verify, export) go through the page cache without copies.
        conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Checkpoints run on a thread of their own (below), so a writer does not stop to copy
        // the WAL into the database after its commits. A connection still checkpoints itself
        // if the WAL passes this many pages (should that thread ever fall behind).
        conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::dividends::sqlite::SCHEMA)?;
        crate::dividends::sqlite::migrate(&mut conn)?;
        let inline_postings = crate::sqlite_postings::has_column(&conn)?;
        crate::sqlite_checkpoint::start_checkpointer(path);
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            inline_postings,
            last_sync: None,
            pace: None,
        })
    }

    /// The folder holding an economy's snapshot files.
    pub fn snapshot_dir(&self, economy: &str) -> std::path::PathBuf {
        let base = self.path.parent().unwrap_or(Path::new("."));
        base.join("snapshots").join(hex::encode(economy))
    }
}

/// Creates the database file readable by its owner only, unless it exists. SQLite gives the
/// WAL and shared-memory files it makes beside it the same mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The WAL size, in pages, at which a connection checkpoints by itself.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 65_536;
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
    fn last_sync(&self) -> Option<std::time::Duration> {
        self.last_sync
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn create_economy(&mut self, meta: &EconomyMeta) -> StoreResult<()> {
        self.in_write_transaction(|tx| {
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
            Ok(())
        })
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
        let inline = self.inline_postings;
        self.in_write_transaction(|tx| {
            let head: i64 = tx
                .prepare_cached(HEAD_QUERY)?
                .query_row([economy], |r| r.get(0))?;
            check_follows(economy, head as u64, blocks)?;
            crate::sqlite_postings::insert(tx, economy, blocks, &extras.postings, inline)?;
            for seq in &extras.rule_change_seqs {
                tx.prepare_cached("INSERT INTO rule_changes (economy, seq) VALUES (?1, ?2)")?
                    .execute(params![economy, *seq as i64])?;
            }
            for row in &extras.settlements {
                tx.prepare_cached(
                    "INSERT INTO settlements (economy, seq, day, figures) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    economy,
                    row.seq as i64,
                    row.day as i64,
                    &encode_settlement(row)[..]
                ])?;
            }
            for (seq, payouts) in &extras.payouts {
                crate::dividends::sqlite::insert(tx, economy, *seq, payouts)?;
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
            for w in &extras.kv {
                match &w.value {
                    Some(value) => tx
                        .prepare_cached(
                            "INSERT OR REPLACE INTO settings (scope, key, value) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![w.scope, w.key, value])?,
                    None => tx
                        .prepare_cached("DELETE FROM settings WHERE scope = ?1 AND key = ?2")?
                        .execute(params![w.scope, w.key])?,
                };
            }
            Ok(())
        })
    }

    fn dividends_of(
        &mut self,
        economy: &str,
        account: u32,
        limit: usize,
    ) -> StoreResult<Vec<(u64, u64)>> {
        crate::dividends::sqlite::of(&self.conn, economy, account, limit)
    }

    fn settlements(&mut self, economy: &str, limit: usize) -> StoreResult<Vec<SettlementRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, day, figures FROM settlements WHERE economy = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![economy, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, day, figures) = row?;
            out.push(decode_settlement(seq as u64, day, &figures)?);
        }
        Ok(out)
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

    fn postings(
        &mut self,
        economy: &str,
        after: u64,
        upto: u64,
        each: &mut dyn FnMut(PostingsRow) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let inline = self.inline_postings;
        crate::sqlite_postings::read(&self.conn, economy, (after, upto), inline, each)
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

    fn integrity_check(&mut self, thorough: bool) -> StoreResult<IntegrityReport> {
        let pragma = if thorough {
            "integrity_check"
        } else {
            "quick_check"
        };
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA {pragma}({INTEGRITY_PROBLEMS_MAX})"))?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        let mut problems: Vec<String> = rows.into_iter().filter(|r| r != "ok").collect();
        if thorough {
            problems.extend(crate::sqlite_check::settings_not_text(&self.conn)?);
        }
        Ok(IntegrityReport {
            method: format!("SQLite {pragma} of {}", self.path.display()),
            checked: true,
            problems,
        })
    }

    fn kv_delete(&mut self, scope: &str, key: &str) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM settings WHERE scope = ?1 AND key = ?2",
            params![scope, key],
        )?;
        Ok(())
    }

    fn put_content(&mut self, sha256: &str, content_type: &str, bytes: &[u8]) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO content (sha256, content_type, data) VALUES (?1, ?2, ?3)",
            params![sha256, content_type, bytes],
        )?;
        Ok(())
    }

    fn content(&mut self, sha256: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT content_type, data FROM content WHERE sha256 = ?1")?
            .query_row([sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn kv_list(&mut self, scope: &str) -> StoreResult<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM settings WHERE scope = ?1 ORDER BY key")?;
        let rows = stmt.query_map([scope], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let dir = self.snapshot_dir(economy);
        let name = format!("{seq:020}.snap");
        crate::snapshot_file::write_durably(&dir.join(&name), data, self.pace.as_ref())?;
        let dropped: Vec<String> = self.in_write_transaction(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO snapshot_files (economy, seq, file) VALUES (?1, ?2, ?3)",
                params![economy, seq as i64, name],
            )?;
            let dropped = {
                let mut stmt = tx.prepare(
                    "SELECT file FROM snapshot_files WHERE economy = ?1 AND seq NOT IN (SELECT seq FROM snapshot_files WHERE economy = ?1 ORDER BY seq DESC LIMIT ?2)",
                )?;
                let rows = stmt.query_map(params![economy, keep as i64], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            tx.execute(
                "DELETE FROM snapshot_files WHERE economy = ?1 AND seq NOT IN (SELECT seq FROM snapshot_files WHERE economy = ?1 ORDER BY seq DESC LIMIT ?2)",
                params![economy, keep as i64],
            )?;
            Ok(dropped)
        })?;
        for file in dropped {
            let _ = std::fs::remove_file(dir.join(file));
        }
        Ok(())
    }

    fn snapshot_seqs(&mut self, economy: &str) -> StoreResult<Vec<u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq FROM snapshot_files WHERE economy = ?1 ORDER BY seq DESC")?;
        let rows = stmt.query_map([economy], |r| r.get::<_, i64>(0))?;
        rows.map(|r| Ok(r? as u64)).collect()
    }

    fn snapshot(&mut self, economy: &str, seq: u64) -> StoreResult<Option<Vec<u8>>> {
        let file: Option<String> = self
            .conn
            .query_row(
                "SELECT file FROM snapshot_files WHERE economy = ?1 AND seq = ?2",
                params![economy, seq as i64],
                |r| r.get(0),
            )
            .optional()?;
        match file {
            Some(name) => Ok(Some(std::fs::read(self.snapshot_dir(economy).join(name))?)),
            None => Ok(None),
        }
    }

    fn reopen(&self) -> StoreResult<Box<dyn Store>> {
        Ok(Box::new(SqliteStore::open(&self.path)?))
    }

    fn pace_snapshots(&mut self, pace: crate::store::SnapshotPace) {
        self.pace = Some(pace);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;

    /// The head query runs in every commit: it must stay compiled, not be prepared again each
    /// time a value is bound (see `append_blocks`).
    #[test]
    fn commits_do_not_recompile_the_head_query() {
        let dir = std::env::temp_dir().join(format!("jifen-sqlite-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = SqliteStore::open_dir(&dir).unwrap();
        let meta = EconomyMeta {
            id: "e1".into(),
            name: "unit".into(),
            rules_toml: String::new(),
            timezone: "Asia/Shanghai".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            genesis: [0; 32],
        };
        store.create_economy(&meta).unwrap();
        for seq in 1..=20 {
            let entry = Entry {
                seq,
                ts_ms: 0,
                command: "{}".into(),
                outcome: "ok".into(),
                hash: [0; 32],
            };
            store.append("e1", &[entry]).unwrap();
        }
        let reprepared = store
            .conn
            .prepare_cached(HEAD_QUERY)
            .unwrap()
            .get_status(rusqlite::StatementStatus::RePrepare);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            reprepared, 0,
            "the head query was compiled again on commits"
        );
    }

    /// A settings row whose text a flipped byte made invalid UTF-8 is damage the thorough
    /// check reports (SQLite's own check sees only pages); the server could not read it.
    #[test]
    fn the_thorough_check_reports_settings_that_are_not_text() {
        let dir = std::env::temp_dir().join(format!("jifen-sqlite-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = SqliteStore::open_dir(&dir).unwrap();
        store.kv_put("scope", "key", "{\"a\":1}").unwrap();
        assert!(store.integrity_check(true).unwrap().ok());
        store
            .conn
            .execute("UPDATE settings SET value = CAST(X'7BC37D' AS TEXT)", [])
            .unwrap();
        let report = store.integrity_check(true).unwrap();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert!(report.problems[0].contains("not valid UTF-8"));
    }
}
