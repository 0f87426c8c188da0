//! Cache prefetch hints: the CPU starts loading memory that a loop will need a few steps
//! later. Hints only: they read nothing and change nothing, so they cannot affect a result.

/// How many entries ahead a loop over index entries fetches their accounts.
pub(crate) const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to start loading the cache lines of the first `bytes` bytes of `value`. A hint
/// only: it reads nothing and changes nothing, so it cannot affect any result.
#[inline]
pub(crate) fn prefetch_bytes<T>(value: &T, bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let first = (value as *const T).cast::<i8>();
        let fetch = |offset: usize| {
            // SAFETY: `_mm_prefetch` never dereferences its argument and never faults; SSE is
            // part of the x86_64 baseline. The pointer comes from a live reference.
            unsafe {
                core::arch::x86_64::_mm_prefetch(
                    first.wrapping_add(offset),
                    core::arch::x86_64::_MM_HINT_T0,
                )
            }
        };
        // Every 64 bytes, and the last byte: each line the range touches.
        let mut offset = 0;
        while offset < bytes {
            fetch(offset);
            offset += 64;
        }
        fetch(bytes.saturating_sub(1));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (value, bytes);
}
