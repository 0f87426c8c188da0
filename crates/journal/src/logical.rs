//! Logical copies between the two backends, for `jifen backup` and `jifen restore` on
//! PostgreSQL. A backup is always the same thing, a SQLite file with its manifest (`backup.rs`):
//! a PostgreSQL store is copied into one, row by row, inside one `REPEATABLE READ` transaction
//! (so the copy is the database as it stood at one moment, and writers go on meanwhile), and a
//! backup, whichever backend it came from, is loaded into an empty PostgreSQL database inside
//! one transaction (so a restore that fails leaves nothing). Rows are copied as stored, never
//! re-encoded: the journal blocks keep their bytes, so every entry hash, Merkle root and signed
//! tree head is the same on both sides, and a brand can move from SQLite to PostgreSQL and back.
//!
//! Two things are kept differently by the backends, and translated:
//! - **Snapshots:** files beside the SQLite database (listed in `snapshot_files`), rows of
//!   `snapshots` in PostgreSQL; the bytes are the same.
//! - **Double-entry lines:** SQLite keeps a commit's lines in the row of its first journal block
//!   (`sqlite_postings.rs`), PostgreSQL in `postings`. Lines from PostgreSQL go into the SQLite
//!   copy's `postings` table, which SQLite's readers merge with the inline ones.
//!
//! The cluster's `nodes` and `leases` are not copied: they describe the running nodes.

use std::path::Path;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{ToSql, Type};
use postgres::{Client, IsolationLevel, NoTls, Transaction};
use rusqlite::types::Value;

use crate::dividends::sqlite::{each_legacy, has_table};
use crate::postgres::{redacted, PgStore};
use crate::postings::from_inline;
use crate::sqlite::SqliteStore;
use crate::store::Store;

/// A column's type, the same on both sides.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Bytes,
}
use Kind::{Bytes as B, Int as I, Text as T};

/// A table copied as it is.
struct Table {
    name: &'static str,
    columns: &'static str,
    kinds: &'static [Kind],
}

const TABLES: &[Table] = &[
    Table {
        name: "economies",
        columns: "id, name, rules, timezone, created_at, genesis",
        kinds: &[T, T, T, T, T, B],
    },
    Table {
        name: "journal_blocks",
        columns: "economy, first_seq, last_seq, data",
        kinds: &[T, I, I, B],
    },
    Table {
        name: "postings",
        columns: "economy, first_seq, last_seq, ts_ms, data",
        kinds: &[T, I, I, I, B],
    },
    Table {
        name: "rule_changes",
        columns: "economy, seq",
        kinds: &[T, I],
    },
    Table {
        name: "samples",
        columns: "economy, seq, ts_ms, figures",
        kinds: &[T, I, I, B],
    },
    Table {
        name: "settlements",
        columns: "economy, seq, day, figures",
        kinds: &[T, I, I, B],
    },
    Table {
        name: "dividend_chunks",
        columns: "economy, seq, chunk, data",
        kinds: &[T, I, I, B],
    },
    Table {
        name: "content",
        columns: "sha256, content_type, data",
        kinds: &[T, T, B],
    },
    Table {
        name: "settings",
        columns: "scope, key, value",
        kinds: &[T, T, T],
    },
];

/// Rows copied between two progress reports.
const REPORT_EVERY: u64 = 1024;

/// Counts rows copied, and reports them against the total.
struct Counter<'a> {
    done: u64,
    total: u64,
    progress: &'a mut dyn FnMut(u64, u64),
}

impl<'a> Counter<'a> {
    /// A counter over the rows of every table copied and of `snapshots` (the backend's name for
    /// them), counted by `count(sql, table)`.
    fn over(
        snapshots: &str,
        progress: &'a mut dyn FnMut(u64, u64),
        mut count: impl FnMut(&str, &str) -> Result<i64, String>,
    ) -> Result<Counter<'a>, String> {
        let mut total = 0u64;
        for name in TABLES.iter().map(|t| t.name).chain([snapshots]) {
            total += count(&format!("SELECT count(*) FROM {name}"), name)? as u64;
        }
        Ok(Counter {
            done: 0,
            total,
            progress,
        })
    }

    fn one(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(REPORT_EVERY) || self.done == self.total {
            (self.progress)(self.done, self.total);
        }
    }
}

fn pg_err(what: &str) -> impl Fn(postgres::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn lite_err(what: &str) -> impl Fn(rusqlite::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn no_params() -> std::iter::Empty<&'static (dyn ToSql + Sync)> {
    std::iter::empty()
}

/// Copies the PostgreSQL store at `url` into a new SQLite file `copy` (its snapshots into files
/// beside it), as the database stood at one moment. `progress(rows done, rows)`.
pub fn postgres_to_sqlite(
    url: &str,
    copy: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), String> {
    let mut client = Client::connect(url, NoTls)
        .map_err(|e| format!("cannot reach PostgreSQL at {}: {e}", redacted(url)))?;
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(pg_err("cannot start a read transaction"))?;
    let mut count = Counter::over("snapshots", progress, |sql, name| {
        (tx.query_one(sql, &[]).and_then(|r| r.try_get(0))).map_err(pg_err(name))
    })?;
    snapshots_to_sqlite(&mut tx, copy, &mut count)?;
    let mut lite = rusqlite::Connection::open(copy).map_err(lite_err("cannot open the copy"))?;
    // The copy is synced as a whole once it is written and checked (`backup.rs`).
    lite.pragma_update(None, "synchronous", "OFF")
        .map_err(lite_err("cannot set up the copy"))?;
    let ltx = lite
        .transaction()
        .map_err(lite_err("cannot write the copy"))?;
    for t in TABLES {
        table_to_sqlite(&mut tx, &ltx, t, &mut count)?;
    }
    ltx.commit().map_err(lite_err("cannot write the copy"))?;
    (count.progress)(count.total, count.total);
    Ok(())
}

/// The snapshots, written through a SQLite store on `copy` (which makes its schema).
fn snapshots_to_sqlite(
    tx: &mut Transaction,
    copy: &Path,
    count: &mut Counter,
) -> Result<(), String> {
    let mut store = SqliteStore::open(copy).map_err(|e| format!("cannot make the copy: {e}"))?;
    let mut rows = tx
        .query_raw(
            "SELECT economy, seq, data FROM snapshots ORDER BY economy, seq",
            no_params(),
        )
        .map_err(pg_err("cannot read the snapshots"))?;
    while let Some(r) = rows.next().map_err(pg_err("cannot read the snapshots"))? {
        let read = (|| Ok::<_, postgres::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))();
        let (economy, seq, data): (String, i64, Vec<u8>) =
            read.map_err(pg_err("cannot read a snapshot"))?;
        store
            .put_snapshot(&economy, seq as u64, &data, i64::MAX as usize)
            .map_err(|e| format!("cannot write a snapshot of {economy}: {e}"))?;
        count.one();
    }
    Ok(())
}

fn table_to_sqlite(
    tx: &mut Transaction,
    lite: &rusqlite::Connection,
    t: &Table,
    count: &mut Counter,
) -> Result<(), String> {
    let marks = vec!["?"; t.kinds.len()].join(", ");
    let mut insert = lite
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({marks})",
            t.name, t.columns
        ))
        .map_err(lite_err(t.name))?;
    let mut rows = tx
        .query_raw(
            &format!("SELECT {} FROM {}", t.columns, t.name),
            no_params(),
        )
        .map_err(pg_err(t.name))?;
    while let Some(r) = rows.next().map_err(pg_err(t.name))? {
        let cells = t
            .kinds
            .iter()
            .enumerate()
            .map(|(i, k)| match k {
                Kind::Text => r.try_get(i).map(Value::Text),
                Kind::Int => r.try_get(i).map(Value::Integer),
                Kind::Bytes => r.try_get(i).map(Value::Blob),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(pg_err(t.name))?;
        insert
            .execute(rusqlite::params_from_iter(cells))
            .map_err(lite_err(t.name))?;
        count.one();
    }
    Ok(())
}

/// One cell read from SQLite, for PostgreSQL's binary `COPY`.
enum Cell {
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

impl Cell {
    fn of(value: Value, kind: Kind) -> Option<Cell> {
        match (value, kind) {
            (Value::Text(s), Kind::Text) => Some(Cell::Text(s)),
            (Value::Integer(n), Kind::Int) => Some(Cell::Int(n)),
            (Value::Blob(b), Kind::Bytes) => Some(Cell::Bytes(b)),
            _ => None,
        }
    }

    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Text(s) => s,
            Cell::Int(n) => n,
            Cell::Bytes(b) => b,
        }
    }
}

fn pg_type(kind: &Kind) -> Type {
    match kind {
        Kind::Text => Type::TEXT,
        Kind::Int => Type::INT8,
        Kind::Bytes => Type::BYTEA,
    }
}

/// Loads the backup's SQLite file `copy` (its snapshot files in `backup`) into the PostgreSQL
/// database at `url`, which must hold no jifen data, in one transaction. `progress(rows done,
/// rows)`.
pub fn sqlite_to_postgres(
    backup: &Path,
    copy: &Path,
    url: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), String> {
    drop(PgStore::connect(url).map_err(|e| e.to_string())?);
    let mut client = Client::connect(url, NoTls)
        .map_err(|e| format!("cannot reach PostgreSQL at {}: {e}", redacted(url)))?;
    let mut tx = client
        .transaction()
        .map_err(pg_err("cannot start a transaction"))?;
    refuse_unless_empty(&mut tx, url)?;
    let lite =
        rusqlite::Connection::open_with_flags(copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(lite_err("cannot open the backup"))?;
    // A backup made before dividends were kept in chunks has none, and its `dividends` instead.
    let has = |name: &str| has_table(&lite, name).map_err(lite_err(name));
    let mut count = Counter::over("snapshot_files", progress, |sql, name| match has(name)? {
        true => (lite.query_row(sql, [], |r| r.get(0))).map_err(lite_err(name)),
        false => Ok(0),
    })?;
    for t in TABLES {
        if has(t.name)? {
            table_to_postgres(&lite, &mut tx, t, &mut count)?;
        }
    }
    if has("dividends")? {
        each_legacy(&lite, &mut |economy, seq, paid| {
            crate::dividends::postgres::insert(&mut tx, economy, seq, paid)
        })
        .map_err(|e| format!("the backup's dividends: {e}"))?;
    }
    inline_lines_to_postgres(&lite, &mut tx)?;
    snapshots_to_postgres(backup, &lite, &mut tx, &mut count)?;
    tx.commit().map_err(pg_err("cannot commit the restore"))?;
    (count.progress)(count.total, count.total);
    Ok(())
}

/// Refuses a database that holds any jifen data.
fn refuse_unless_empty(tx: &mut Transaction, url: &str) -> Result<(), String> {
    for name in TABLES.iter().map(|t| t.name).chain(["snapshots"]) {
        let any: bool = tx
            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {name})"), &[])
            .and_then(|r| r.try_get(0))
            .map_err(pg_err(name))?;
        if any {
            return Err(format!(
                "the database at {} is not empty (its {name} has rows): restore into a new database",
                redacted(url)
            ));
        }
    }
    Ok(())
}

fn table_to_postgres(
    lite: &rusqlite::Connection,
    tx: &mut Transaction,
    t: &Table,
    count: &mut Counter,
) -> Result<(), String> {
    let types: Vec<Type> = t.kinds.iter().map(pg_type).collect();
    let sink = tx
        .copy_in(&format!(
            "COPY {} ({}) FROM STDIN BINARY",
            t.name, t.columns
        ))
        .map_err(pg_err(t.name))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut stmt = lite
        .prepare(&format!("SELECT {} FROM {}", t.columns, t.name))
        .map_err(lite_err(t.name))?;
    let mut rows = stmt.query([]).map_err(lite_err(t.name))?;
    while let Some(r) = rows.next().map_err(lite_err(t.name))? {
        let mut cells = Vec::with_capacity(t.kinds.len());
        for (i, kind) in t.kinds.iter().enumerate() {
            let value: Value = r.get(i).map_err(lite_err(t.name))?;
            cells.push(
                Cell::of(value, *kind).ok_or_else(|| {
                    format!("the backup's {} has a value of the wrong type", t.name)
                })?,
            );
        }
        let refs: Vec<&(dyn ToSql + Sync)> = cells.iter().map(Cell::sql).collect();
        writer.write(&refs).map_err(pg_err(t.name))?;
        count.one();
    }
    writer.finish().map_err(pg_err(t.name))?;
    Ok(())
}

/// The lines SQLite kept in journal block rows, as rows of PostgreSQL's `postings`.
fn inline_lines_to_postgres(
    lite: &rusqlite::Connection,
    tx: &mut Transaction,
) -> Result<(), String> {
    if !crate::sqlite_postings::has_column(lite).map_err(lite_err("journal_blocks"))? {
        return Ok(());
    }
    let types = [Type::TEXT, Type::INT8, Type::INT8, Type::INT8, Type::BYTEA];
    let sink = tx
        .copy_in("COPY postings (economy, first_seq, last_seq, ts_ms, data) FROM STDIN BINARY")
        .map_err(pg_err("postings"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut stmt = lite
        .prepare(
            "SELECT economy, first_seq, postings FROM journal_blocks WHERE postings IS NOT NULL",
        )
        .map_err(lite_err("journal_blocks"))?;
    let mut rows = stmt.query([]).map_err(lite_err("journal_blocks"))?;
    while let Some(r) = rows.next().map_err(lite_err("journal_blocks"))? {
        let read = (|| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))();
        let (economy, first, blob): (String, i64, Vec<u8>) =
            read.map_err(lite_err("journal_blocks"))?;
        let row = from_inline(first as u64, &blob)
            .ok_or_else(|| format!("{economy}: the lines kept with block {first} are malformed"))?;
        let (last, ts) = (row.last_seq as i64, row.ts_ms);
        writer
            .write(&[&economy, &first, &last, &ts, &row.data])
            .map_err(pg_err("postings"))?;
    }
    writer.finish().map_err(pg_err("postings"))?;
    Ok(())
}

/// The snapshot files the backup lists, as rows of PostgreSQL's `snapshots`; one missing is
/// left out (a snapshot is derived: the journal re-derives it).
fn snapshots_to_postgres(
    backup: &Path,
    lite: &rusqlite::Connection,
    tx: &mut Transaction,
    count: &mut Counter,
) -> Result<(), String> {
    let listed: Vec<(String, i64, String)> = lite
        .prepare("SELECT economy, seq, file FROM snapshot_files")
        .and_then(|mut st| {
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .map_err(lite_err("snapshot_files"))?;
    for (economy, seq, file) in listed {
        let path = backup
            .join("snapshots")
            .join(hex::encode(&economy))
            .join(&file);
        if let Ok(data) = std::fs::read(&path) {
            tx.execute(
                "INSERT INTO snapshots (economy, seq, data) VALUES ($1, $2, $3)",
                &[&economy, &seq, &data],
            )
            .map_err(pg_err("snapshots"))?;
        }
        count.one();
    }
    Ok(())
}
