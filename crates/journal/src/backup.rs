//! Online backups, and their restore.
//!
//! On SQLite, a backup is a directory: `jifen.sqlite3`, a consistent copy made by SQLite's `VACUUM INTO`
//! inside one read transaction (so a running writer is never copied mid-write, and is not held
//! up: the store is in WAL mode), `backup.json` (the manifest: each economy's head seq and hash,
//! and the copy's SHA-256 and size), and the signing seed only when asked. It is built under
//! `<PATH>.partial` and renamed into place only once the copy is verified and every file is on
//! disk, so a backup killed midway leaves nothing a restore accepts. Files are 0600.
//!
//! On PostgreSQL, a backup is the same directory, its SQLite file a logical copy of the database
//! (`logical.rs`), checked and completed the same way; and any backup restores into an empty
//! PostgreSQL database as well as into an empty directory.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sqlite::{SqliteStore, SQLITE_FILE};
use crate::store::Store;
use crate::verify::verify_economy;

/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "backup.json";
/// The signing seed's file name, in a data directory and in a backup.
pub const SIGNING_KEY: &str = "tree-signing.key";
const FORMAT: u32 = 1;

/// What a backup holds, written last.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub created_ms: i64,
    /// The copy's size and SHA-256 (hex).
    pub bytes: u64,
    pub sha256: String,
    pub economies: Vec<Covered>,
    pub signing_key: bool,
}

/// One economy in a backup: its head when the copy was taken.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Covered {
    pub economy: String,
    pub seq: u64,
    pub head_hash: String,
}

/// Where a backup is: `Copying` with bytes written of about `total`, then `Verifying` with
/// entries checked of `total`.
pub enum Step {
    Copying,
    Verifying(String),
}

fn err(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

/// Backs up the SQLite store of `data_dir` into `to` (which must not exist). `progress(step,
/// done, total)` is called as it goes.
pub fn backup_sqlite(
    data_dir: &Path,
    to: &Path,
    with_signing_key: bool,
    progress: &mut dyn FnMut(&Step, u64, u64),
) -> Result<Manifest, String> {
    let source = data_dir.join(SQLITE_FILE);
    if !source.is_file() {
        return Err(format!("no SQLite store at {}", source.display()));
    }
    let fill = |partial: &Path, progress: &mut dyn FnMut(&Step, u64, u64)| {
        copy_consistent(&source, &partial.join(SQLITE_FILE), progress)?;
        copy_snapshots(data_dir, partial)
    };
    build(data_dir, to, with_signing_key, progress, fill)
}

/// Backs up the PostgreSQL store at `url` into `to`, as a logical copy in the same form as a
/// SQLite backup (`logical.rs`), so either backend restores it. The signing seed, when asked, is
/// the one in `data_dir`.
pub fn backup_postgres(
    url: &str,
    data_dir: &Path,
    to: &Path,
    with_signing_key: bool,
    progress: &mut dyn FnMut(&Step, u64, u64),
) -> Result<Manifest, String> {
    let fill = |partial: &Path, progress: &mut dyn FnMut(&Step, u64, u64)| {
        let copy = partial.join(SQLITE_FILE);
        crate::logical::postgres_to_sqlite(url, &copy, &mut |d, t| progress(&Step::Copying, d, t))?;
        private_file(&copy)
    };
    build(data_dir, to, with_signing_key, progress, fill)
}

/// Makes a backup at `to`: `fill` writes the copy (and its snapshot files) into the partial
/// directory, which is then verified, completed with the manifest and moved into place.
fn build(
    data_dir: &Path,
    to: &Path,
    with_signing_key: bool,
    progress: &mut dyn FnMut(&Step, u64, u64),
    fill: impl FnOnce(&Path, &mut dyn FnMut(&Step, u64, u64)) -> Result<(), String>,
) -> Result<Manifest, String> {
    if to.exists() {
        return Err(format!(
            "{} exists: a backup goes to a new path",
            to.display()
        ));
    }
    let partial = partial_of(to);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| err("cannot remove", &partial, e))?;
    }
    crate::private::ensure_private_dir(&partial, &[]).map_err(|e| e.to_string())?;
    let copy = partial.join(SQLITE_FILE);
    fill(&partial, progress)?;
    let economies = verify_copy(&copy, progress)?;
    if with_signing_key {
        let key = data_dir.join(SIGNING_KEY);
        std::fs::copy(&key, partial.join(SIGNING_KEY)).map_err(|e| err("cannot copy", &key, e))?;
        private_file(&partial.join(SIGNING_KEY))?;
    }
    let (bytes, sha256) = digest(&copy)?;
    let manifest = Manifest {
        format: FORMAT,
        created_ms: crate::time::now_ms(),
        bytes,
        sha256,
        economies,
        signing_key: with_signing_key,
    };
    write_synced(
        &partial.join(MANIFEST),
        &serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )?;
    File::open(&copy)
        .and_then(|f| f.sync_all())
        .map_err(|e| err("cannot sync", &copy, e))?;
    sync_dir(&partial)?;
    std::fs::rename(&partial, to).map_err(|e| err("cannot move the backup to", to, e))?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))?;
    Ok(manifest)
}

/// The snapshot files the copy lists, copied beside it (`snapshots/<hex of economy>/<file>`,
/// 0600); one pruned since the copy was taken is dropped from the copy's list (a snapshot is
/// derived: the journal re-derives it). `verify_copy` then checks each against the journal.
fn copy_snapshots(data_dir: &Path, backup: &Path) -> Result<(), String> {
    let db = backup.join(SQLITE_FILE);
    let conn = rusqlite::Connection::open(&db).map_err(|e| err("cannot open", &db, e))?;
    let listed: Vec<(String, i64, String)> = conn
        .prepare("SELECT economy, seq, file FROM snapshot_files")
        .and_then(|mut st| {
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })
        .map_err(|e| err("cannot list the snapshots of", &db, e))?;
    for (economy, seq, file) in listed {
        let rel = Path::new("snapshots").join(hex::encode(&economy));
        let (from, dir) = (data_dir.join(&rel).join(&file), backup.join(&rel));
        crate::private::ensure_private_dir(&dir, &[]).map_err(|e| e.to_string())?;
        let to = dir.join(&file);
        if std::fs::copy(&from, &to).is_ok() {
            private_file(&to)?;
            File::open(&to)
                .and_then(|f| f.sync_all())
                .map_err(|e| err("cannot sync", &to, e))?;
        } else {
            conn.execute(
                "DELETE FROM snapshot_files WHERE economy = ?1 AND seq = ?2",
                rusqlite::params![economy, seq],
            )
            .map_err(|e| err("cannot update", &db, e))?;
        }
    }
    Ok(())
}

/// The snapshot files of a backup, copied into the data directory it is restored into.
fn restore_snapshots(from: &Path, data_dir: &Path) -> Result<(), String> {
    let Ok(economies) = std::fs::read_dir(from.join("snapshots")) else {
        return Ok(());
    };
    for eco in economies.flatten() {
        let dir = data_dir.join("snapshots").join(eco.file_name());
        crate::private::ensure_private_dir(&dir, &[]).map_err(|e| e.to_string())?;
        for f in std::fs::read_dir(eco.path()).map_err(|e| err("cannot read", &eco.path(), e))? {
            let f = f.map_err(|e| err("cannot read", &eco.path(), e))?;
            let to = dir.join(f.file_name());
            std::fs::copy(f.path(), &to).map_err(|e| err("cannot copy into", &to, e))?;
            private_file(&to)?;
        }
        sync_dir(&dir)?;
    }
    Ok(())
}

fn partial_of(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

/// `VACUUM INTO`: one read transaction over the whole store, written to `copy`; the progress is
/// the copy's size against the store's.
fn copy_consistent(
    source: &Path,
    copy: &Path,
    progress: &mut dyn FnMut(&Step, u64, u64),
) -> Result<(), String> {
    let conn = rusqlite::Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err("cannot open", source, e))?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(30));
    let total: u64 = conn
        .query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| err("cannot size", source, e))? as u64;
    let target = copy.to_string_lossy().to_string();
    let done = std::sync::atomic::AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut sizes = Vec::new();
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                sizes.push(std::fs::metadata(copy).map_or(0, |m| m.len()));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            sizes
        });
        let r = conn.execute("VACUUM INTO ?1", [&target]);
        done.store(true, std::sync::atomic::Ordering::Release);
        (r, watcher.join().unwrap_or_default())
    });
    let (r, sizes) = result;
    for size in sizes {
        progress(&Step::Copying, size.min(total), total);
    }
    r.map_err(|e| err("cannot copy", source, e))?;
    progress(&Step::Copying, total, total);
    private_file(copy)
}

/// Every economy of the copy re-derived from its journal: its head, or why it is not whole.
fn verify_copy(
    copy: &Path,
    progress: &mut dyn FnMut(&Step, u64, u64),
) -> Result<Vec<Covered>, String> {
    let mut store = SqliteStore::open(copy).map_err(|e| err("cannot open the copy", copy, e))?;
    let integrity = store.integrity_check(true).map_err(|e| e.to_string())?;
    if !integrity.ok() {
        return Err(format!(
            "the copy is damaged: {}",
            integrity.problems.join("; ")
        ));
    }
    let mut covered = Vec::new();
    for meta in store.economies().map_err(|e| e.to_string())? {
        let step = Step::Verifying(meta.id.clone());
        let report = verify_economy(&mut store, &meta.id, &mut |d, t| progress(&step, d, t))
            .map_err(|e| format!("cannot verify {} in the copy: {e}", meta.id))?;
        if !report.ok() {
            return Err(format!(
                "{} does not verify in the copy: {}",
                meta.id,
                report.problems.join("; ")
            ));
        }
        let head = store.head(&meta.id).map_err(|e| e.to_string())?;
        covered.push(Covered {
            economy: meta.id,
            seq: head.as_ref().map_or(0, |e| e.seq),
            head_hash: head.map(|e| hex::encode(e.hash)).unwrap_or_default(),
        });
    }
    Ok(covered)
}

/// The manifest of the backup at `from`, once its copy is checked against it (size and
/// SHA-256).
fn checked(from: &Path) -> Result<Manifest, String> {
    let manifest = read_manifest(from)?;
    let copy = from.join(SQLITE_FILE);
    if digest(&copy)? != (manifest.bytes, manifest.sha256.clone()) {
        return Err(format!(
            "{} does not match its manifest (size or SHA-256): the backup is damaged",
            copy.display()
        ));
    }
    Ok(manifest)
}

/// Restores the backup at `from` into `data_dir`, which must be empty or absent: the copy is
/// checked against its manifest (size, SHA-256, and each economy's head) first.
pub fn restore_sqlite(from: &Path, data_dir: &Path) -> Result<Manifest, String> {
    let manifest = checked(from)?;
    if data_dir.exists() && std::fs::read_dir(data_dir).map_or(true, |mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not empty: restore into an empty directory",
            data_dir.display()
        ));
    }
    crate::private::ensure_private_dir(data_dir, &[]).map_err(|e| e.to_string())?;
    let target = data_dir.join(SQLITE_FILE);
    let tmp = data_dir.join(format!("{SQLITE_FILE}.restoring"));
    std::fs::copy(from.join(SQLITE_FILE), &tmp).map_err(|e| err("cannot copy into", &tmp, e))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| err("cannot sync", &tmp, e))?;
    private_file(&tmp)?;
    restore_snapshots(from, data_dir)?;
    std::fs::rename(&tmp, &target).map_err(|e| err("cannot move into", &target, e))?;
    if manifest.signing_key {
        restore_signing_key(from, data_dir)?;
    }
    sync_dir(data_dir)?;
    let mut store = SqliteStore::open(&target).map_err(|e| e.to_string())?;
    check_heads(&mut store, &manifest)?;
    Ok(manifest)
}

/// Restores the backup at `from` (made from either backend) into the PostgreSQL database at
/// `url`, which must hold no jifen data, in one transaction; its signing seed, if it has one,
/// goes into `data_dir`, which must not have one already.
pub fn restore_postgres(
    from: &Path,
    url: &str,
    data_dir: &Path,
    progress: &mut dyn FnMut(&Step, u64, u64),
) -> Result<Manifest, String> {
    let manifest = checked(from)?;
    if manifest.signing_key && data_dir.join(SIGNING_KEY).exists() {
        return Err(format!(
            "{} exists: the backup's signing seed would replace it; restore with another --data",
            data_dir.join(SIGNING_KEY).display()
        ));
    }
    crate::logical::sqlite_to_postgres(from, &from.join(SQLITE_FILE), url, &mut |d, t| {
        progress(&Step::Copying, d, t)
    })?;
    if manifest.signing_key {
        crate::private::ensure_private_dir(data_dir, &[]).map_err(|e| e.to_string())?;
        restore_signing_key(from, data_dir)?;
        sync_dir(data_dir)?;
    }
    let mut store = crate::postgres::PgStore::connect(url).map_err(|e| e.to_string())?;
    check_heads(&mut store, &manifest)?;
    Ok(manifest)
}

fn restore_signing_key(from: &Path, data_dir: &Path) -> Result<(), String> {
    let key = data_dir.join(SIGNING_KEY);
    std::fs::copy(from.join(SIGNING_KEY), &key).map_err(|e| err("cannot copy", &key, e))?;
    private_file(&key)
}

/// A backup's manifest: only a complete backup has one.
pub fn read_manifest(from: &Path) -> Result<Manifest, String> {
    let path = from.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|_| {
        format!(
            "{} is not a complete jifen backup (no {MANIFEST})",
            from.display()
        )
    })?;
    let m: Manifest = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not a jifen backup manifest: {e}", path.display()))?;
    if m.format != FORMAT {
        return Err(format!(
            "{}: backup format {} is not {FORMAT}",
            path.display(),
            m.format
        ));
    }
    Ok(m)
}

fn check_heads(store: &mut dyn Store, manifest: &Manifest) -> Result<(), String> {
    for c in &manifest.economies {
        let head = store.head(&c.economy).map_err(|e| e.to_string())?;
        let found = (
            head.as_ref().map_or(0, |e| e.seq),
            head.map(|e| hex::encode(e.hash)).unwrap_or_default(),
        );
        if found != (c.seq, c.head_hash.clone()) {
            return Err(format!(
                "{}: the restored head is not the manifest's",
                c.economy
            ));
        }
    }
    Ok(())
}

fn digest(path: &Path) -> Result<(u64, String), String> {
    let mut f = File::open(path).map_err(|e| err("cannot read", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| err("cannot read", path, e))?;
        if n == 0 {
            return Ok((bytes, hex::encode(hasher.finalize())));
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = File::create(path).map_err(|e| err("cannot write", path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| err("cannot write", path, e))?;
    private_file(path)
}

fn private_file(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err("cannot make private", path, e))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), String> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| err("cannot sync", dir, e))
}
