//! `jifen backup` and `jifen restore`: online backups of the SQLite store, against a running
//! server or a stopped store (see `jifen_journal::backup`).

use std::path::PathBuf;

use indicatif::ProgressBar;
use jifen_journal::backup::{backup_sqlite, restore_sqlite, Step};

use crate::store_cmds::{progress_bar, StoreArgs};
use crate::usage;

#[derive(clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup: a new directory (it must not exist).
    #[arg(long)]
    to: PathBuf,
    /// Also copy the signing seed (`tree-signing.key`). Whoever holds it can sign tree heads,
    /// sessions and wallet links: keep such a backup as safe as the data directory.
    #[arg(long)]
    with_signing_key: bool,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup to restore (a directory `jifen backup` wrote). The store goes to `--data`,
    /// which must be empty or absent.
    #[arg(long)]
    from: PathBuf,
}

fn postgres_not_yet(store: &StoreArgs) -> anyhow::Result<()> {
    if store.database.is_some() {
        return Err(usage(
            "jifen backup and restore work on the embedded SQLite store; on PostgreSQL use \
             pg_dump or pg_basebackup with WAL archiving (docs/OPERATIONS.md)"
                .to_string(),
        ));
    }
    Ok(())
}

pub fn backup(store: &StoreArgs, args: BackupArgs) -> anyhow::Result<()> {
    postgres_not_yet(store)?;
    let mut bar: Option<(String, ProgressBar)> = None;
    let mut progress = |step: &Step, done: u64, total: u64| {
        let name = match step {
            Step::Copying => "copying the store (bytes)".to_string(),
            Step::Verifying(id) => format!("verifying {id} in the copy"),
        };
        if bar.as_ref().is_none_or(|(n, _)| *n != name) {
            if let Some((_, b)) = bar.take() {
                b.finish_and_clear();
            }
            bar = Some((name.clone(), progress_bar(total, &name)));
        }
        if let Some((_, b)) = &bar {
            b.set_position(done);
        }
    };
    let manifest = backup_sqlite(&store.data, &args.to, args.with_signing_key, &mut progress)
        .map_err(|e| usage(format!("backup failed, nothing was written: {e}")))?;
    if let Some((_, b)) = bar {
        b.finish_and_clear();
    }
    for c in &manifest.economies {
        println!(
            "ok      {}: through seq {} (head {})",
            c.economy, c.seq, c.head_hash
        );
    }
    println!(
        "backup  {}: {} bytes, sha256 {}, verified{}",
        args.to.display(),
        manifest.bytes,
        manifest.sha256,
        if manifest.signing_key {
            ", with the signing seed"
        } else {
            ""
        }
    );
    Ok(())
}

pub fn restore(store: &StoreArgs, args: RestoreArgs) -> anyhow::Result<()> {
    postgres_not_yet(store)?;
    let manifest = restore_sqlite(&args.from, &store.data)
        .map_err(|e| usage(format!("restore refused: {e}")))?;
    for c in &manifest.economies {
        println!("ok      {}: through seq {}", c.economy, c.seq);
    }
    println!(
        "restored {} into {}; run `jifen --data {} verify` to re-derive every economy",
        args.from.display(),
        store.data.display(),
        store.data.display()
    );
    Ok(())
}
