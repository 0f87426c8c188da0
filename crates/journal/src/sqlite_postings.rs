//! Where SQLite keeps each commit's double-entry lines (`postings`): in the row of the commit's
//! first journal block (the `postings` column, placed before `data` so that reading it does not
//! walk the entries' overflow pages), not in a row of their own. A row of their own wrote one
//! more B-tree page to the WAL with every commit, which cost small commits 10 to 17 % of their
//! throughput (BENCHMARKS.md). Stores made before the column keep using the `postings` table,
//! and a row that matches no block of its append (none is expected) goes there too; readers
//! merge both.

use rusqlite::{params, Connection, OptionalExtension};

use crate::block::Block;
use crate::error::{StoreError, StoreResult};
use crate::postings::{from_inline, to_inline, PostingsRow};

/// Whether the store's journal blocks have the `postings` column.
pub fn has_column(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM pragma_table_info('journal_blocks') WHERE name = 'postings'",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// Appends `blocks`, each commit's lines with its first block when `inline`, and any other
/// lines to the `postings` table.
pub fn insert(
    tx: &Connection,
    economy: &str,
    blocks: &[Block],
    rows: &[PostingsRow],
    inline: bool,
) -> StoreResult<()> {
    let mut rows = rows.iter().peekable();
    let mut leftovers = Vec::new();
    // Without the column (a store made before it), this names no column it lacks.
    let mut stmt = tx.prepare_cached(if inline {
        "INSERT INTO journal_blocks (economy, first_seq, last_seq, data, postings) VALUES (?1, ?2, ?3, ?4, ?5)"
    } else {
        "INSERT INTO journal_blocks (economy, first_seq, last_seq, data) VALUES (?1, ?2, ?3, ?4)"
    })?;
    for b in blocks {
        while let Some(r) = rows.next_if(|r| r.first_seq < b.first_seq || !inline) {
            leftovers.push(r);
        }
        let (first, last) = (b.first_seq as i64, b.last_seq as i64);
        if inline {
            let kept = rows.next_if(|r| r.first_seq == b.first_seq).map(to_inline);
            stmt.execute(params![economy, first, last, b.data, kept])?;
        } else {
            stmt.execute(params![economy, first, last, b.data])?;
        }
    }
    for r in leftovers.into_iter().chain(rows) {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO postings (economy, first_seq, last_seq, ts_ms, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![economy, r.first_seq as i64, r.last_seq as i64, r.ts_ms, r.data])?;
    }
    Ok(())
}

/// The rows covering entries after `after` up to `upto`, in seq order: those of the `postings`
/// table merged with those kept in journal blocks (when `inline`).
pub fn read(
    conn: &Connection,
    economy: &str,
    (after, upto): (u64, u64),
    inline: bool,
    each: &mut dyn FnMut(PostingsRow) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut table = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT first_seq, last_seq, ts_ms, data FROM postings WHERE economy = ?1 AND first_seq <= ?3 AND last_seq > ?2 \
         AND first_seq >= COALESCE((SELECT first_seq FROM postings WHERE economy = ?1 AND first_seq <= ?2 + 1 ORDER BY first_seq DESC LIMIT 1), 0) \
         ORDER BY first_seq",
    )?;
    let mut rows = stmt.query(params![economy, after as i64, upto as i64])?;
    while let Some(r) = rows.next()? {
        let row = PostingsRow {
            first_seq: r.get::<_, i64>(0)? as u64,
            last_seq: r.get::<_, i64>(1)? as u64,
            ts_ms: r.get(2)?,
            data: r.get(3)?,
        };
        if !inline {
            each(row)?;
        } else {
            table.push(row);
        }
    }
    if !inline {
        return Ok(());
    }
    let mut table = table.into_iter().peekable();
    let mut stmt = conn.prepare_cached(
        "SELECT first_seq, postings FROM journal_blocks WHERE economy = ?1 AND postings IS NOT NULL AND first_seq <= ?3 \
         AND first_seq >= COALESCE((SELECT first_seq FROM journal_blocks WHERE economy = ?1 AND postings IS NOT NULL AND first_seq <= ?2 + 1 ORDER BY first_seq DESC LIMIT 1), 0) \
         ORDER BY first_seq",
    )?;
    let mut rows = stmt.query(params![economy, after as i64, upto as i64])?;
    while let Some(r) = rows.next()? {
        let first = r.get::<_, i64>(0)? as u64;
        let blob: Vec<u8> = r.get(1)?;
        let row = from_inline(first, &blob).ok_or_else(|| {
            StoreError::Malformed(format!("{economy}: the lines kept with block {first}"))
        })?;
        while let Some(t) = table.next_if(|t| t.first_seq < row.first_seq) {
            each(t)?;
        }
        if row.last_seq > after {
            each(row)?;
        }
    }
    table.try_for_each(each)
}

#[cfg(test)]
mod tests {
    use crate::block::Block;
    use crate::postings::PostingsRow;
    use crate::sqlite::SqliteStore;
    use crate::store::{AppendExtras, Store};

    fn row(first_seq: u64, last_seq: u64) -> PostingsRow {
        PostingsRow {
            first_seq,
            last_seq,
            ts_ms: first_seq as i64 * 1000,
            data: vec![first_seq as u8; 3],
        }
    }

    fn block(first_seq: u64, last_seq: u64) -> Block {
        Block {
            first_seq,
            last_seq,
            data: vec![7; 5000],
        }
    }

    fn read(s: &mut SqliteStore, after: u64, upto: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        s.postings("e", after, upto, &mut |r| {
            assert_eq!(r, row(r.first_seq, r.last_seq));
            out.push((r.first_seq, r.last_seq));
            Ok(())
        })
        .unwrap();
        out
    }

    /// Two commits, the first of two blocks, as a writer appends them; then what reads see.
    fn append_and_read(s: &mut SqliteStore) {
        let extras = |rows: Vec<PostingsRow>| AppendExtras {
            postings: rows,
            ..AppendExtras::default()
        };
        let first = [block(1, 3), block(4, 4)];
        s.append_blocks("e", &first, &extras(vec![row(1, 4)]))
            .unwrap();
        s.append_blocks("e", &[block(5, 6)], &extras(vec![row(5, 6)]))
            .unwrap();
        assert_eq!(read(s, 0, 6), [(1, 4), (5, 6)]);
        assert_eq!(read(s, 2, 3), [(1, 4)]);
        assert_eq!(read(s, 4, 6), [(5, 6)]);
        assert_eq!(read(s, 6, 6), []);
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("jifen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("store.sqlite3")
    }

    #[test]
    fn a_new_store_keeps_the_lines_with_the_blocks() {
        let path = temp("postings-inline");
        let mut s = SqliteStore::open(&path).unwrap();
        append_and_read(&mut s);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let own: i64 = (conn.query_row("SELECT count(*) FROM postings", [], |r| r.get(0))).unwrap();
        let kept: i64 = conn
            .query_row(
                "SELECT count(*) FROM journal_blocks WHERE postings IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            (own, kept),
            (0, 2),
            "no row of their own: one per commit, inline"
        );
    }

    /// A store made before the column: its lines stay in their table, read as before.
    #[test]
    fn an_older_store_keeps_its_table() {
        let path = temp("postings-table");
        drop(SqliteStore::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("ALTER TABLE journal_blocks DROP COLUMN postings")
            .unwrap();
        drop(conn);
        let mut s = SqliteStore::open(&path).unwrap();
        append_and_read(&mut s);
        let conn = rusqlite::Connection::open(&path).unwrap();
        let own: i64 = (conn.query_row("SELECT count(*) FROM postings", [], |r| r.get(0))).unwrap();
        assert_eq!(own, 2);
    }

    /// Rows in the table (an older writer's) and rows with the blocks, read in seq order.
    #[test]
    fn both_places_are_read_in_order() {
        let path = temp("postings-both");
        let mut s = SqliteStore::open(&path).unwrap();
        append_and_read(&mut s);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE journal_blocks SET postings = NULL WHERE first_seq = 5; \
             INSERT INTO postings VALUES ('e', 5, 6, 5000, x'050505')",
        )
        .unwrap();
        assert_eq!(read(&mut s, 0, 6), [(1, 4), (5, 6)]);
        assert_eq!(read(&mut s, 4, 6), [(5, 6)]);
    }
}
