//! Test support: the two real backends. SQLite in a fresh temporary directory; PostgreSQL in a
//! fresh database on the cluster that `scripts/test` starts (`JIFEN_TEST_DATABASE_URL`). When
//! that variable is missing the PostgreSQL tests fail, loudly: they never skip.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use jifen_journal::{open_store, Store};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

pub enum Backend {
    Sqlite {
        dir: PathBuf,
    },
    Postgres {
        admin_url: String,
        url: String,
        db: String,
        /// The server's own files (its signing key) beside the database: a fresh temporary
        /// directory, never the default `./jifen-data` inside the checkout.
        data: PathBuf,
    },
}

pub fn admin_url() -> String {
    std::env::var("JIFEN_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "JIFEN_TEST_DATABASE_URL is not set: the PostgreSQL tests need the cluster that \
             scripts/test starts. Run the suite with scripts/test."
        )
    })
}

impl Backend {
    pub fn sqlite() -> Backend {
        let dir = std::env::temp_dir().join(unique("jifen-sqlite"));
        std::fs::create_dir_all(&dir).unwrap();
        Backend::Sqlite { dir }
    }

    pub fn postgres() -> Backend {
        let admin_url = admin_url();
        let db = unique("jt");
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin_url}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{db}"),
            None => panic!("bad JIFEN_TEST_DATABASE_URL {admin_url}"),
        };
        let data = std::env::temp_dir().join(unique("jifen-pgdata"));
        Backend::Postgres {
            admin_url,
            url,
            db,
            data,
        }
    }

    /// Both backends, for a test that must hold on each.
    pub fn both() -> Vec<Backend> {
        vec![Backend::sqlite(), Backend::postgres()]
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    pub fn open(&self) -> Box<dyn Store> {
        match self {
            Backend::Sqlite { dir } => open_store(dir, None).unwrap(),
            Backend::Postgres { url, .. } => {
                open_store(std::path::Path::new("."), Some(url)).unwrap()
            }
        }
    }

    /// Every id in the economy's journal, with how many entries carry it.
    pub fn journal_ids(&self, economy: &str) -> std::collections::HashMap<String, u32> {
        let mut store = self.open();
        let mut ids = std::collections::HashMap::new();
        let mut after = 0;
        loop {
            let chunk = store.entries(economy, after, 10_000).unwrap();
            if chunk.is_empty() {
                return ids;
            }
            for e in &chunk {
                let v: serde_json::Value = serde_json::from_str(&e.command).unwrap();
                if let Some(id) = v["id"].as_str() {
                    *ids.entry(id.to_string()).or_insert(0) += 1;
                }
                after = e.seq;
            }
        }
    }

    /// The `jifen` flags that select this store.
    pub fn cli_args(&self) -> Vec<String> {
        match self {
            Backend::Sqlite { dir } => vec!["--data".into(), dir.display().to_string()],
            Backend::Postgres { url, data, .. } => vec![
                "--database".into(),
                url.clone(),
                "--data".into(),
                data.display().to_string(),
            ],
        }
    }

    /// Runs raw SQL against the store, behind the journal's back (to simulate faults).
    pub fn tamper(&self, sql: &str) {
        match self {
            Backend::Sqlite { dir } => {
                let conn = rusqlite::Connection::open(dir.join(jifen_journal::sqlite::SQLITE_FILE))
                    .unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Backend::Postgres { url, .. } => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.batch_execute(sql).unwrap();
            }
        }
    }
}

impl Backend {
    /// Rewrites the stored block holding entry `seq` of `economy` behind the journal's back
    /// (to simulate damage): `f` gets the block's entries and may change or remove them.
    pub fn rewrite_block(
        &self,
        economy: &str,
        seq: u64,
        f: impl FnOnce(&mut Vec<jifen_journal::Entry>),
    ) {
        use jifen_journal::block::{decode_block, encode_block};
        let find = "SELECT first_seq, data FROM journal_blocks WHERE economy = $1 AND first_seq <= $2 AND last_seq >= $2";
        let update = "UPDATE journal_blocks SET data = $3 WHERE economy = $1 AND first_seq = $2";
        match self {
            Backend::Sqlite { dir } => {
                let conn = rusqlite::Connection::open(dir.join(jifen_journal::sqlite::SQLITE_FILE))
                    .unwrap();
                let (first, data): (i64, Vec<u8>) = conn
                    .query_row(
                        &find.replace('$', "?"),
                        rusqlite::params![economy, seq as i64],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                let mut entries = decode_block(&data).unwrap();
                f(&mut entries);
                conn.execute(
                    &update.replace('$', "?"),
                    rusqlite::params![economy, first, encode_block(&entries)],
                )
                .unwrap();
            }
            Backend::Postgres { url, .. } => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                let row = c.query_one(find, &[&economy, &(seq as i64)]).unwrap();
                let first: i64 = row.get(0);
                let mut entries = decode_block(row.get::<_, &[u8]>(1)).unwrap();
                f(&mut entries);
                c.execute(update, &[&economy, &first, &encode_block(&entries)])
                    .unwrap();
            }
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        match self {
            Backend::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Backend::Postgres {
                admin_url,
                db,
                data,
                ..
            } => {
                let _ = std::fs::remove_dir_all(data);
                if let Ok(mut admin) = postgres::Client::connect(admin_url, postgres::NoTls) {
                    let _ =
                        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
                }
            }
        }
    }
}
