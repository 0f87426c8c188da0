//! The data directory: created readable by its owner only, and written by one process at a
//! time.
//!
//! The directory holds the SQLite store (with venue secrets and key hashes) and the signing
//! seed, so it is created 0700 and its files 0600; a directory or database file found more open
//! than that is tightened at start, with a warning. A writer (the server, `jifen import`,
//! `jifen economy create`) holds an exclusive `flock` on `DIR/lock` for as long as it runs, and
//! writes its process id and command there, so a second writer is refused with a message that
//! names the holder. On PostgreSQL a server also holds a session advisory lock on the database
//! (see [`crate::postgres::PgStore::lock_writer`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file inside a data directory.
pub const LOCK_FILE: &str = "lock";

/// An exclusive hold on a data directory, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the directory for `holder` (e.g. `jifen serve`), creating it privately first.
    /// Refused, naming the process that holds it, when another writer has it.
    pub fn acquire(dir: &Path, holder: &str) -> Result<DataDirLock, String> {
        crate::private::ensure_private_dir(dir, &crate::sqlite::SQLITE_FILES)?;
        let path = dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                let who = who.trim();
                let who = if who.is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {who}")
                };
                return Err(format!(
                    "the data directory {} is in use by {who}: only one writer may use it at a time. Stop that process first, or give this one another --data directory",
                    dir.display()
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
        let note = format!("{} ({holder})\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(note.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write the lock file {}: {e}", path.display()))?;
        Ok(DataDirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a writer holds while it runs: the data directory, and on PostgreSQL (unless several
/// nodes share the database) the database too.
pub struct WriterLock {
    pub dir: DataDirLock,
    /// The connection holding the advisory lock (in a mutex only so the hold is `Sync`).
    _database: Option<std::sync::Mutex<crate::postgres::PgStore>>,
}

impl WriterLock {
    /// Takes the store that `data_dir` and `database` name for `holder`. `shared_database` is
    /// true for a node of a cluster, whose economies are fenced by leases instead.
    pub fn acquire(
        data_dir: &Path,
        database: Option<&str>,
        holder: &str,
        shared_database: bool,
    ) -> Result<WriterLock, crate::StoreError> {
        let dir = DataDirLock::acquire(data_dir, holder).map_err(crate::StoreError::InUse)?;
        let database = match database {
            Some(url) if !shared_database => {
                let mut pg = crate::postgres::PgStore::connect(url)?;
                pg.lock_writer(holder)?;
                Some(std::sync::Mutex::new(pg))
            }
            _ => None,
        };
        Ok(WriterLock {
            dir,
            _database: database,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::private::ensure_private_dir;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("jifen-datadir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holder_named() {
        let dir = temp("lock");
        let held = DataDirLock::acquire(&dir, "jifen serve").unwrap();
        let refused = DataDirLock::acquire(&dir, "jifen import").unwrap_err();
        assert!(
            refused.contains(&format!("process {} (jifen serve)", std::process::id())),
            "{refused}"
        );
        assert!(refused.contains(&dir.display().to_string()), "{refused}");
        drop(held);
        DataDirLock::acquire(&dir, "jifen import").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn the_directory_is_private_and_an_open_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp("modes");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert!(ensure_private_dir(&dir.join("a/b"), &[])
            .unwrap()
            .is_empty());
        assert_eq!(mode(&dir.join("a/b")), 0o700);
        let open = dir.join("open");
        std::fs::create_dir_all(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = open.join(crate::sqlite::SQLITE_FILE);
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let tightened = ensure_private_dir(&open, &crate::sqlite::SQLITE_FILES).unwrap();
        assert_eq!(tightened.len(), 2, "{tightened:?}");
        assert_eq!(mode(&open), 0o700);
        assert_eq!(mode(&db), 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
