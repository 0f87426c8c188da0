//! A restored SQLite store cut back to a point in time (`jifen restore --until-seq N` or
//! `--until TIME`), for an investigation in a separate directory: every economy asked for keeps
//! the entries up to that point and nothing after. The block holding the last kept entry is
//! rewritten without the entries after it; blocks after it go, and so does everything derived
//! from them (samples, settlements, dividends, rule changes, double-entry lines, snapshots, and
//! signed heads of larger trees). The chain of the kept entries is untouched, so `jifen
//! verify` re-derives the economy as it stood.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::block::{decode_block, BlockBuilder};
use crate::sqlite::{SqliteStore, SQLITE_FILE};
use crate::store::Store;

/// Where to cut.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// Keep the entries up to this seq.
    Seq(u64),
    /// Keep the entries committed at or before this time (ms since the epoch).
    Time(i64),
}

/// The seq to keep up to in `economy`: `Seq` as given (at most the head), or the last entry at
/// or before `Time`.
fn last_kept(store: &mut SqliteStore, economy: &str, until: Until) -> Result<u64, String> {
    let head = store.head(economy).map_err(|e| e.to_string())?;
    let head = head.map_or(0, |e| e.seq);
    match until {
        Until::Seq(n) => Ok(n.min(head)),
        // The last entry at or before `ms`: the one before the first after it.
        Until::Time(ms) => {
            let past = crate::first_seq_at(store, economy, head, ms.saturating_add(1));
            Ok(past.map_err(|e| e.to_string())? - 1)
        }
    }
}

/// Cuts the store in `data_dir` back to `until` for `economy` (or every economy); returns each
/// economy cut and the seq it now ends at.
pub fn cut_sqlite(
    data_dir: &Path,
    economy: Option<&str>,
    until: Until,
) -> Result<Vec<(String, u64)>, String> {
    let mut store = SqliteStore::open(&data_dir.join(SQLITE_FILE)).map_err(|e| e.to_string())?;
    let all = store.economies().map_err(|e| e.to_string())?;
    let ids: Vec<String> = match economy {
        Some(id) if all.iter().any(|m| m.id == id) => vec![id.to_string()],
        Some(id) => return Err(format!("the backup holds no economy {id:?}")),
        None => all.into_iter().map(|m| m.id).collect(),
    };
    let mut cut = Vec::new();
    for id in ids {
        let keep = last_kept(&mut store, &id, until)?;
        cut.push((id, keep));
    }
    drop(store);
    let mut conn =
        Connection::open(data_dir.join(SQLITE_FILE)).map_err(|e| format!("cannot open: {e}"))?;
    for (id, keep) in &cut {
        cut_one(&mut conn, id, *keep).map_err(|e| format!("cannot cut {id} at {keep}: {e}"))?;
        let dir = data_dir.join("snapshots").join(hex::encode(id));
        remove_later_snapshots(&dir, *keep);
    }
    Ok(cut)
}

fn cut_one(conn: &mut Connection, economy: &str, keep: u64) -> Result<(), String> {
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    let k = keep as i64;
    let inline = crate::sqlite_postings::has_column(&tx).map_err(|e| e.to_string())?;
    let straddling: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT first_seq, data FROM journal_blocks WHERE economy = ?1 AND first_seq <= ?2 AND last_seq > ?2",
            params![economy, k],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(|e| e.to_string())?;
    if let Some((first, data)) = straddling {
        let mut kept = BlockBuilder::default();
        for e in decode_block(&data).map_err(|e| e.to_string())? {
            if e.seq <= keep {
                kept.push_entry(&e);
            }
        }
        let block = kept.finish().pop().ok_or("an empty block")?;
        tx.execute(
            "UPDATE journal_blocks SET data = ?3, last_seq = ?4 WHERE economy = ?1 AND first_seq = ?2",
            params![economy, first, block.data, block.last_seq as i64],
        )
        .map_err(|e| e.to_string())?;
    }
    let statements = [
        "DELETE FROM journal_blocks WHERE economy = ?1 AND first_seq > ?2",
        "DELETE FROM samples WHERE economy = ?1 AND seq > ?2",
        "DELETE FROM settlements WHERE economy = ?1 AND seq > ?2",
        "DELETE FROM dividend_chunks WHERE economy = ?1 AND seq > ?2",
        "DELETE FROM rule_changes WHERE economy = ?1 AND seq > ?2",
        "DELETE FROM postings WHERE economy = ?1 AND last_seq > ?2",
        "DELETE FROM snapshot_files WHERE economy = ?1 AND seq > ?2",
        "DELETE FROM settings WHERE scope = 'tree_heads/' || ?1 AND json_extract(value, '$.tree_size') > ?2",
    ];
    for sql in statements {
        tx.execute(sql, params![economy, k])
            .map_err(|e| e.to_string())?;
    }
    if inline {
        drop_lines_past(&tx, economy, keep).map_err(|e| e.to_string())?;
    }
    tx.commit().map_err(|e| e.to_string())
}

/// A commit's lines sit with its first block and may run past the cut: those go (the export
/// then replays that stretch).
fn drop_lines_past(tx: &Connection, economy: &str, keep: u64) -> rusqlite::Result<()> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT first_seq, postings FROM journal_blocks WHERE economy = ?1 AND postings IS NOT NULL \
             AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1",
            params![economy, keep as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((first, blob)) = last {
        let row = crate::postings::from_inline(first as u64, &blob);
        if row.is_none_or(|r| r.last_seq > keep) {
            tx.execute(
                "UPDATE journal_blocks SET postings = NULL WHERE economy = ?1 AND first_seq = ?2",
                params![economy, first],
            )?;
        }
    }
    Ok(())
}

/// Removes the snapshot files of seqs after `keep` (named `<seq>.snap`).
fn remove_later_snapshots(dir: &Path, keep: u64) {
    let Ok(files) = std::fs::read_dir(dir) else {
        return;
    };
    for f in files.flatten() {
        let name = f.file_name().to_string_lossy().to_string();
        let seq = name.split('.').next().and_then(|s| s.parse::<u64>().ok());
        if seq.is_some_and(|s| s > keep) {
            let _ = std::fs::remove_file(f.path());
        }
    }
}
