//! `jifen backup` and `jifen restore`: online backups of the SQLite store or of a PostgreSQL
//! database, against a running server or a stopped store, restored into either backend (see
//! `jifen_journal::backup`).

use std::path::PathBuf;

use indicatif::ProgressBar;
use jifen_journal::backup::{
    backup_postgres, backup_sqlite, read_manifest, restore_postgres, restore_sqlite, Manifest, Step,
};
use jifen_journal::until::{cut_sqlite, Until};

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
    /// The backup to restore (a directory `jifen backup` wrote, from either backend). The store
    /// goes to `--data`, which must be empty or absent, or with `--database` into a PostgreSQL
    /// database that holds no jifen data.
    #[arg(long)]
    from: PathBuf,
    /// Restore the store as it stood at this seq: each economy (or `--economy`) keeps its
    /// entries up to here and nothing after, for an investigation in a separate directory.
    #[arg(long, conflicts_with = "until")]
    until_seq: Option<u64>,
    /// Restore the store as it stood at this time (RFC 3339, e.g. 2026-11-15T12:00:00+08:00):
    /// the entries committed at or before it.
    #[arg(long)]
    until: Option<String>,
    /// With `--until-seq` or `--until`: cut only this economy back (the others stay whole).
    #[arg(long)]
    economy: Option<String>,
}

/// Where `--until-seq` or `--until` asks to cut, if they do.
fn until_of(args: &RestoreArgs) -> anyhow::Result<Option<Until>> {
    if args.economy.is_some() && args.until_seq.is_none() && args.until.is_none() {
        return Err(usage(
            "--economy goes with --until-seq or --until".to_string(),
        ));
    }
    if let Some(n) = args.until_seq {
        return Ok(Some(Until::Seq(n)));
    }
    let Some(text) = &args.until else {
        return Ok(None);
    };
    let at: jifen_server::jiff::Timestamp = text.parse().map_err(|_| {
        usage(format!(
            "--until {text:?}: write a time in RFC 3339, e.g. 2026-11-15T12:00:00+08:00"
        ))
    })?;
    Ok(Some(Until::Time(at.as_millisecond())))
}

/// A progress bar per step, replaced when the step changes and cleared when it is done.
fn step_bars() -> impl FnMut(&Step, u64, u64) {
    let mut bar: Option<(String, ProgressBar)> = None;
    move |step: &Step, done: u64, total: u64| {
        let name = match step {
            Step::Copying => "copying the store".to_string(),
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
            if done >= total {
                b.finish_and_clear();
                bar = None;
            }
        }
    }
}

pub fn backup(store: &StoreArgs, args: BackupArgs) -> anyhow::Result<()> {
    let mut progress = step_bars();
    let manifest = match &store.database {
        Some(url) => backup_postgres(
            url,
            &store.data,
            &args.to,
            args.with_signing_key,
            &mut progress,
        ),
        None => backup_sqlite(&store.data, &args.to, args.with_signing_key, &mut progress),
    }
    .map_err(|e| usage(format!("backup failed, nothing was written: {e}")))?;
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
    let until = until_of(&args)?;
    if let Some(url) = &store.database {
        if until.is_some() {
            return Err(usage(
                "--until-seq and --until restore into a directory (--data), for an investigation"
                    .to_string(),
            ));
        }
        return restore_into_postgres(store, url, &args);
    }
    if let Some(id) = &args.economy {
        let held = read_manifest(&args.from).map_err(|e| usage(format!("restore refused: {e}")))?;
        if !held.economies.iter().any(|c| c.economy == *id) {
            return Err(usage(format!(
                "restore refused: the backup holds no economy {id:?}"
            )));
        }
    }
    let manifest = restore_sqlite(&args.from, &store.data)
        .map_err(|e| usage(format!("restore refused: {e}")))?;
    let cut = match until {
        Some(until) => cut_sqlite(&store.data, args.economy.as_deref(), until).map_err(|e| {
            // The directory was empty: leave nothing that looks like a whole restore.
            let _ = std::fs::remove_dir_all(&store.data);
            usage(format!("restore failed, nothing was left: {e}"))
        })?,
        None => Vec::new(),
    };
    for c in &manifest.economies {
        match cut.iter().find(|(id, _)| *id == c.economy) {
            Some((_, seq)) => println!(
                "ok      {}: through seq {seq}, as it stood then (the backup ran to {})",
                c.economy, c.seq
            ),
            None => println!("ok      {}: through seq {}", c.economy, c.seq),
        }
    }
    println!(
        "restored {} into {}; run `jifen --data {} verify` to re-derive every economy",
        args.from.display(),
        store.data.display(),
        store.data.display()
    );
    Ok(())
}

fn restore_into_postgres(store: &StoreArgs, url: &str, args: &RestoreArgs) -> anyhow::Result<()> {
    let _lock = store.lock_for_writing("jifen restore")?;
    let mut progress = step_bars();
    let manifest: Manifest = restore_postgres(&args.from, url, &store.data, &mut progress)
        .map_err(|e| usage(format!("restore refused, nothing was written: {e}")))?;
    for c in &manifest.economies {
        println!("ok      {}: through seq {}", c.economy, c.seq);
    }
    let shown = jifen_journal::postgres::redacted(url);
    println!(
        "restored {} into {shown}; run `jifen --database {shown} verify` to re-derive every economy",
        args.from.display(),
    );
    Ok(())
}
