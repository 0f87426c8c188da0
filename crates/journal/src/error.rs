//! The journal's errors: the store's own ([`StoreError`]) and the journal's ([`JournalError`]).

use crate::limits::BATCH_COMMANDS_MAX;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgresql: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("economy {0:?} already exists")]
    EconomyExists(String),
    #[error("economy {0:?} does not exist")]
    NoSuchEconomy(String),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The writer lost its lease (several nodes): nothing was committed.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The store could not be opened; the message names the path or database.
    #[error("{0}")]
    Open(String),
    /// Another writer holds the store.
    #[error("{0}")]
    InUse(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("economy {economy}: entry seq {seq}: {what}")]
    Corrupt {
        economy: String,
        seq: u64,
        what: String,
    },
    #[error("economy {0:?} does not exist")]
    NoSuchEconomy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0} commands in one request; at most {BATCH_COMMANDS_MAX}")]
    TooMany(usize),
    #[error("{0}")]
    Invalid(String),
    /// A prepared batch's guard refused it on the state it would apply to: nothing was
    /// journaled (see `PreparedBatch::guard`).
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
