//! The dividends each settlement paid, kept for the wallet's list of an account's dividends:
//! derived data, written with the settlement's entry in the same transaction.
//!
//! A settlement pays every eligible holder, so a row per holder made each day's commit grow
//! with the economy, and those rows were a third of the durable write path's time at 2,000,000
//! commands (BENCHMARKS.md, issue 25). They are kept instead in chunks: one row per settlement
//! and run of 1,024 account positions (`chunk` = position / 1,024). A chunk's data is, for each
//! holder paid in that run, in position order: the gap to the previous one (the first's offset
//! in the run, later ones less one; LEB128), then the fen paid (LEB128).
//!
//! Stores made before this have a `dividends` table of one row per holder: opening one moves
//! its rows into chunks and drops the table, in one transaction.

use crate::error::StoreResult;
use crate::postings::{read_varint, varint};

/// log2 of the account positions one chunk covers.
pub const CHUNK_BITS: u32 = 10;

/// The chunk holding account position `account`.
pub fn chunk_of(account: u32) -> u32 {
    account >> CHUNK_BITS
}

/// One settlement's payouts `(account position, fen)`, in any order, as chunk rows in chunk
/// order. A settlement lists holders in the order it paid them; they are put in position order
/// by a pass over a table of the positions (no sort: at millions of holders a sort was the larger
/// cost).
pub fn chunks(payouts: &[(u32, u64)]) -> Vec<(u32, Vec<u8>)> {
    let Some(top) = payouts.iter().map(|p| p.0).max() else {
        return Vec::new();
    };
    let positions = top as usize + 1;
    let mut fen = vec![0u64; positions];
    let mut paid = vec![0u64; positions.div_ceil(64)];
    for &(account, f) in payouts {
        // A settlement pays a holder once.
        debug_assert!(paid[account as usize / 64] & (1 << (account % 64)) == 0);
        fen[account as usize] = f;
        paid[account as usize / 64] |= 1 << (account % 64);
    }
    const WORDS: usize = 1 << (CHUNK_BITS - 6);
    let mut out = Vec::new();
    for (chunk, words) in paid.chunks(WORDS).enumerate() {
        let first = chunk << CHUNK_BITS;
        let mut data = Vec::new();
        let mut next = first;
        for (w, &word) in words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let account = first + w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                varint(&mut data, (account - next) as u64);
                varint(&mut data, fen[account]);
                next = account + 1;
            }
        }
        if !data.is_empty() {
            out.push((chunk as u32, data));
        }
    }
    out
}

/// What chunk `chunk`'s data says was paid to `account`, if it names it.
pub fn find(chunk: u32, data: &[u8], account: u32) -> Option<u64> {
    let mut next = u64::from(chunk) << CHUNK_BITS;
    let mut at = 0;
    while at < data.len() {
        let position = next + read_varint(data, &mut at)?;
        let fen = read_varint(data, &mut at)?;
        if position >= u64::from(account) {
            return (position == u64::from(account)).then_some(fen);
        }
        next = position + 1;
    }
    None
}

/// From chunk rows `(settlement seq, chunk, data)`, newest first: up to `limit` dividends paid
/// to `account`, newest first.
pub fn collect(
    rows: impl Iterator<Item = StoreResult<(u64, u32, Vec<u8>)>>,
    account: u32,
    limit: usize,
) -> StoreResult<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    for row in rows {
        if out.len() >= limit {
            break;
        }
        let (seq, chunk, data) = row?;
        if let Some(fen) = find(chunk, &data, account) {
            out.push((seq, fen));
        }
    }
    Ok(out)
}

/// Old rows `(economy, seq, account, fen)`, in (economy, seq) order, gathered into each
/// settlement's payouts for `each(economy, seq, payouts)`.
#[derive(Default)]
struct Legacy {
    settlement: Option<(String, u64)>,
    paid: Vec<(u32, u64)>,
}

type EachSettlement<'a> = dyn FnMut(&str, u64, &[(u32, u64)]) -> StoreResult<()> + 'a;

impl Legacy {
    fn push(&mut self, row: (String, u64, u32, u64), each: &mut EachSettlement) -> StoreResult<()> {
        let (economy, seq, account, fen) = row;
        if self
            .settlement
            .as_ref()
            .is_none_or(|k| k.0 != economy || k.1 != seq)
        {
            self.finish(each)?;
            self.settlement = Some((economy, seq));
        }
        self.paid.push((account, fen));
        Ok(())
    }

    fn finish(&mut self, each: &mut EachSettlement) -> StoreResult<()> {
        match self.settlement.take() {
            Some((economy, seq)) => each(&economy, seq, &std::mem::take(&mut self.paid)),
            None => Ok(()),
        }
    }
}

/// SQLite's side: the table, appends, reads and the move from the old table.
pub mod sqlite {
    use rusqlite::{params, Connection, OptionalExtension};

    use super::{chunk_of, chunks, collect, EachSettlement, Legacy};
    use crate::error::StoreResult;

    pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dividend_chunks (
    economy TEXT NOT NULL,
    seq INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (economy, chunk, seq)
);";

    /// Appends one settlement's payouts.
    pub fn insert(
        tx: &Connection,
        economy: &str,
        seq: u64,
        payouts: &[(u32, u64)],
    ) -> StoreResult<()> {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO dividend_chunks (economy, seq, chunk, data) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (chunk, data) in chunks(payouts) {
            stmt.execute(params![economy, seq as i64, chunk, data])?;
        }
        Ok(())
    }

    /// Up to `limit` dividends paid to `account`, newest first: (settlement seq, fen).
    pub fn of(
        conn: &Connection,
        economy: &str,
        account: u32,
        limit: usize,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let chunk = chunk_of(account);
        let mut stmt = conn.prepare_cached(
            "SELECT seq, data FROM dividend_chunks WHERE economy = ?1 AND chunk = ?2 ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map(params![economy, chunk], |r| {
            Ok((r.get::<_, i64>(0)? as u64, chunk, r.get::<_, Vec<u8>>(1)?))
        })?;
        collect(rows.map(|r| r.map_err(Into::into)), account, limit)
    }

    /// Whether the database has a table called `name`.
    pub fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
    }

    /// Each settlement of an old `dividends` table (a row per holder paid), in order, handed
    /// to `each(economy, seq, payouts)`.
    pub fn each_legacy(conn: &Connection, each: &mut EachSettlement) -> StoreResult<()> {
        let mut stmt = conn.prepare(
            "SELECT economy, seq, account, fen FROM dividends ORDER BY economy, seq, account",
        )?;
        let mut rows = stmt.query([])?;
        let mut legacy = Legacy::default();
        while let Some(r) = rows.next()? {
            let row = (
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u32,
            );
            legacy.push((row.0, row.1, row.2, r.get::<_, i64>(3)? as u64), each)?;
        }
        legacy.finish(each)
    }

    /// Moves a store's old `dividends` rows into chunks, then drops the table.
    pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
        if !has_table(conn, "dividends")? {
            return Ok(());
        }
        let tx = conn.transaction()?;
        each_legacy(&tx, &mut |economy, seq, paid| {
            insert(&tx, economy, seq, paid)
        })?;
        tx.execute_batch("DROP TABLE dividends")?;
        tx.commit()?;
        Ok(())
    }
}

/// PostgreSQL's side: the table, appends, reads and the move from the old table.
pub mod postgres {
    use postgres::{Client, Transaction};

    use super::{chunk_of, chunks, collect, Legacy};
    use crate::error::StoreResult;

    pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dividend_chunks (
    economy TEXT NOT NULL,
    seq BIGINT NOT NULL,
    chunk BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (economy, chunk, seq)
);";

    /// Appends one settlement's payouts, in one statement.
    pub fn insert(
        tx: &mut Transaction,
        economy: &str,
        seq: u64,
        payouts: &[(u32, u64)],
    ) -> StoreResult<()> {
        let (numbers, data): (Vec<i64>, Vec<Vec<u8>>) = chunks(payouts)
            .into_iter()
            .map(|(c, d)| (i64::from(c), d))
            .unzip();
        if numbers.is_empty() {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO dividend_chunks (economy, seq, chunk, data) \
             SELECT $1, $2, c, d FROM unnest($3::BIGINT[], $4::BYTEA[]) AS t(c, d)",
            &[&economy, &(seq as i64), &numbers, &data],
        )?;
        Ok(())
    }

    /// Up to `limit` dividends paid to `account`, newest first: (settlement seq, fen).
    pub fn of(
        client: &mut Client,
        economy: &str,
        account: u32,
        limit: usize,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let chunk = chunk_of(account);
        let rows = client.query(
            "SELECT seq, data FROM dividend_chunks WHERE economy = $1 AND chunk = $2 ORDER BY seq DESC",
            &[&economy, &i64::from(chunk)],
        )?;
        let rows = rows
            .iter()
            .map(|r| Ok((r.get::<_, i64>(0) as u64, chunk, r.get::<_, Vec<u8>>(1))));
        collect(rows, account, limit)
    }

    /// Old rows read at a time while they are moved.
    const MOVE_ROWS: i32 = 100_000;

    /// Moves a database's old `dividends` rows (one per holder) into chunks, then drops the
    /// table, in one transaction. Run under the schema lock.
    pub fn migrate(client: &mut Client) -> StoreResult<()> {
        let old: bool = client
            .query_one("SELECT to_regclass('dividends') IS NOT NULL", &[])?
            .get(0);
        if !old {
            return Ok(());
        }
        let mut tx = client.transaction()?;
        let portal = tx.bind(
            "SELECT economy, seq, account, fen FROM dividends ORDER BY economy, seq, account",
            &[],
        )?;
        let mut legacy = Legacy::default();
        let mut settled = Vec::new();
        loop {
            let rows = tx.query_portal(&portal, MOVE_ROWS)?;
            for r in &rows {
                let row = (
                    r.get(0),
                    r.get::<_, i64>(1) as u64,
                    r.get::<_, i64>(2) as u32,
                );
                let row = (row.0, row.1, row.2, r.get::<_, i64>(3) as u64);
                legacy.push(row, &mut |e, seq, paid| {
                    settled.push((e.to_string(), seq, paid.to_vec()));
                    Ok(())
                })?;
            }
            for (economy, seq, paid) in settled.drain(..) {
                insert(&mut tx, &economy, seq, &paid)?;
            }
            if rows.len() < MOVE_ROWS as usize {
                break;
            }
        }
        legacy.finish(&mut |economy, seq, paid| insert(&mut tx, economy, seq, paid))?;
        // The open portal would keep the table in use.
        drop(portal);
        tx.batch_execute("DROP TABLE dividends")?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_payout_is_found_and_no_other() {
        // In paying order, across several chunks, with gaps, a zero and a large amount.
        let paid: Vec<(u32, u64)> = vec![
            (5000, 7),
            (3, 1),
            (1023, 0),
            (1024, u64::MAX),
            (0, 12),
            (4097, 300_000),
            (4, 2),
        ];
        let rows = chunks(&paid);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 1, 4]);
        let find_any = |account: u32| {
            let c = chunk_of(account);
            rows.iter()
                .find(|r| r.0 == c)
                .and_then(|r| find(c, &r.1, account))
        };
        for &(account, fen) in &paid {
            assert_eq!(find_any(account), Some(fen), "account {account}");
        }
        for account in [1, 2, 5, 1022, 1025, 2048, 4096, 4098, 4999, 5001, 9999] {
            assert_eq!(find_any(account), None, "account {account}");
        }
        assert!(chunks(&[]).is_empty());
    }

    #[test]
    fn a_dense_chunk_costs_about_two_bytes_a_holder() {
        let paid: Vec<(u32, u64)> = (0..1024).rev().map(|a| (a, u64::from(a % 100))).collect();
        let rows = chunks(&paid);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.len(), 2048);
        for (account, fen) in paid {
            assert_eq!(find(0, &rows[0].1, account), Some(fen));
        }
    }

    #[test]
    fn newest_first_up_to_the_limit() {
        let rows = || {
            [(30, 1), (20, 1), (10, 1)].map(|(seq, account)| {
                let (chunk, data) = chunks(&[(account, seq * 2)]).remove(0);
                Ok((seq, chunk, data))
            })
        };
        let got = collect(rows().into_iter(), 1, 2).unwrap();
        assert_eq!(got, vec![(30, 60), (20, 40)]);
        assert!(collect(rows().into_iter(), 2, 5).unwrap().is_empty());
    }
}
