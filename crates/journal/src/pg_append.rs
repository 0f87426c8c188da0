//! The usual append on PostgreSQL (a commit's blocks and its double-entry lines, nothing else)
//! in one prepared statement, outside an explicit transaction: one round trip, not six.
//!
//! A commit used to be `BEGIN`, the blocks' `INSERT`, the lines' `INSERT` and `COMMIT`, each
//! statement parsed again and each its own round trip to the server, which shares the machine's
//! cores. One statement is atomic on its own: the lines are written only when the blocks are,
//! and the blocks only when they follow the stored head. Appends with anything else (rule
//! changes, settlements, samples, settings, a cluster's fence) keep the transaction.

use postgres::{Client, Statement};

use crate::block::Block;
use crate::error::{StoreError, StoreResult};
use crate::postings::PostingsRow;
use crate::store::check_follows;

const APPEND: &str = "
WITH b AS (
    INSERT INTO journal_blocks (economy, first_seq, last_seq, data)
    SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bytea[])
    WHERE (SELECT coalesce(max(last_seq), 0) FROM journal_blocks WHERE economy = $1) = $5
    RETURNING 1
), p AS (
    INSERT INTO postings (economy, first_seq, last_seq, ts_ms, data)
    SELECT $1, * FROM UNNEST($6::bigint[], $7::bigint[], $8::bigint[], $9::bytea[])
    WHERE EXISTS (SELECT 1 FROM b)
    ON CONFLICT (economy, first_seq) DO UPDATE
        SET last_seq = EXCLUDED.last_seq, ts_ms = EXCLUDED.ts_ms, data = EXCLUDED.data
)
SELECT count(*) FROM b";

/// The statement, prepared once per connection.
#[derive(Default)]
pub(crate) struct Prepared(Option<Statement>);

impl Prepared {
    fn get(&mut self, client: &mut Client) -> StoreResult<Statement> {
        if let Some(s) = &self.0 {
            return Ok(s.clone());
        }
        let s = client.prepare(APPEND)?;
        self.0 = Some(s.clone());
        Ok(s)
    }
}

/// Appends `blocks` (at least one) and `postings` in one statement.
pub(crate) fn append(
    client: &mut Client,
    prepared: &mut Prepared,
    economy: &str,
    blocks: &[Block],
    postings: &[PostingsRow],
) -> StoreResult<()> {
    let first = blocks.first().map_or(0, |b| b.first_seq);
    check_follows(economy, first.saturating_sub(1), blocks)?;
    let (firsts, lasts, data) = crate::block::columns(blocks);
    let p_firsts: Vec<i64> = postings.iter().map(|p| p.first_seq as i64).collect();
    let p_lasts: Vec<i64> = postings.iter().map(|p| p.last_seq as i64).collect();
    let p_ts: Vec<i64> = postings.iter().map(|p| p.ts_ms).collect();
    let p_data: Vec<&[u8]> = postings.iter().map(|p| p.data.as_slice()).collect();
    let statement = prepared.get(client)?;
    let head = first as i64 - 1;
    let row = client.query_one(
        &statement,
        &[
            &economy, &firsts, &lasts, &data, &head, &p_firsts, &p_lasts, &p_ts, &p_data,
        ],
    )?;
    if row.get::<_, i64>(0) as usize != blocks.len() {
        return Err(StoreError::Malformed(format!(
            "economy {economy}: an append from seq {first} does not follow the stored head"
        )));
    }
    Ok(())
}
