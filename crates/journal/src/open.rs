//! Opening a store: PostgreSQL for a `postgres://` URL, SQLite in a data directory otherwise.

use crate::error::{StoreError, StoreResult};
use crate::store::Store;

/// Opens a store: PostgreSQL when `database` is a `postgres://` URL, otherwise SQLite in
/// `data_dir`.
pub fn open_store(
    data_dir: &std::path::Path,
    database: Option<&str>,
) -> StoreResult<Box<dyn Store>> {
    match database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Box::new(crate::postgres::PgStore::connect(url)?))
        }
        Some(other) => Err(StoreError::Malformed(format!(
            "--database must be a postgres:// URL, not {other:?}"
        ))),
        None => Ok(Box::new(crate::sqlite::SqliteStore::open_dir(data_dir)?)),
    }
}
