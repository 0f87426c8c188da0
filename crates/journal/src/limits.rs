//! The journal's bounds, in one place: every other module may use them.

/// The most commands one transaction carries.
pub const BATCH_COMMANDS_MAX: usize = 8190;
/// The most requests waiting for the writer; callers block (or get back-pressure) beyond it.
pub const QUEUE_REQUESTS_MAX: usize = 65_536;
/// Entries read from the store at a time.
pub const READ_CHUNK_ENTRIES: usize = 10_000;
/// The longest excerpt of a line that is not JSON kept in the journal, in bytes.
pub const REJECTED_LINE_EXCERPT_BYTES_MAX: usize = 256;
