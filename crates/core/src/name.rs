//! Names of accounts, orders and command ids: `[A-Za-z0-9_.:@-]{1,64}` (SPEC §5).

use compact_str::CompactString;

/// The longest valid name, in bytes.
pub const NAME_BYTES_MAX: usize = 64;

/// A name as stored in the engine. Short names (up to 24 bytes) are held inline, without a
/// heap allocation; the engine only stores names that passed [`is_valid_name`].
pub type Name = CompactString;

/// Whether `s` is a valid account name, order id or command id.
#[inline]
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= NAME_BYTES_MAX
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'@' | b'-'))
}

/// Bytes a name holds on the heap: none when it is short enough to sit inline.
pub(crate) fn heap_bytes(name: &Name) -> usize {
    if name.is_heap_allocated() {
        name.capacity()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let check = |s: &str, ok: bool| assert_eq!(is_valid_name(s), ok, "{s:?}");
        check("user.0", true);
        check("a@b:c-d_e", true);
        check(&"x".repeat(64), true);
        check(&"x".repeat(65), false);
        check("", false);
        check("bad name!", false);
        check("名字", false);
        check("tab\t", false);
    }
}
