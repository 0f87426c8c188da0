//! The server's own connection to the store, for everything but the writers (keys, settings,
//! venues, reads of the journal), and the way to open more for long work beside it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jifen_journal::{open_store, JournalError, Store, StoreError};

pub struct StoreHandle {
    conn: Mutex<Box<dyn Store>>,
    data_dir: PathBuf,
    database: Option<String>,
}

impl StoreHandle {
    pub fn new(conn: Box<dyn Store>, data_dir: PathBuf, database: Option<String>) -> StoreHandle {
        StoreHandle {
            conn: Mutex::new(conn),
            data_dir,
            database,
        }
    }

    /// Runs `f` on the shared connection (blocking: call it off the async threads).
    pub fn with<R>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<R, StoreError>,
    ) -> Result<R, JournalError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| JournalError::Unavailable("the store lock was poisoned".into()))?;
        Ok(f(guard.as_mut())?)
    }

    /// Runs `f` on the shared connection from an async task, on a blocking thread.
    pub async fn run<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, JournalError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.with(f))
            .await
            .map_err(|e| JournalError::Unavailable(format!("a store task failed: {e}")))?
    }

    /// A connection of its own, for work that reads much (a verify, a what-if, a check).
    pub fn open_own(&self) -> Result<Box<dyn Store>, JournalError> {
        Ok(open_store(&self.data_dir, self.database.as_deref())?)
    }

    /// The PostgreSQL URL, when the store is PostgreSQL.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }
}
