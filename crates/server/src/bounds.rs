//! The bounds every part of the server shares.

/// The largest request body, in bytes; larger is 413.
pub const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// The largest content upload (an artwork or a certificate's document), in bytes.
pub const CONTENT_BYTES_MAX: usize = 10 * 1024 * 1024;
/// The longest URL (path and query) answered; longer is 414.
pub const URI_BYTES_MAX: usize = 8 * 1024;
/// The longest list an events or leaderboard request returns.
pub const PAGE_LIMIT_MAX: usize = 1000;
/// A day, in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
