//! The global allocator: the system's, asking the kernel for huge pages behind large blocks.
//!
//! An economy of a million accounts keeps its accounts, orders and exit index in a few large
//! vectors, and settlement and the exit rule visit them in trigger order rather than memory
//! order. With 4 KiB pages nearly every such visit also misses the TLB; with 2 MiB pages the
//! same data needs a few hundred TLB entries instead of tens of thousands. Where transparent
//! huge pages are set to `madvise` (the common default), a block must ask for them, which is
//! what this does for blocks of 8 MiB and more. It is a hint: where the kernel declines, nothing
//! changes but speed.

use std::alloc::{GlobalAlloc, Layout, System};

pub struct HugePageHint;

const HUGE_PAGE: usize = 2 << 20;
const MIN_BLOCK: usize = 4 * HUGE_PAGE;

#[cfg(target_os = "linux")]
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < MIN_BLOCK {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: the range lies inside a block this allocator just handed out; MADV_HUGEPAGE
        // changes how the kernel backs it, never its contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_ptr: *mut u8, _size: usize) {}

// SAFETY: every call is forwarded to `System` unchanged; `advise` only adds a hint.
unsafe impl GlobalAlloc for HugePageHint {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let ptr = unsafe { System.realloc(ptr, layout, new_size) };
        advise(ptr, new_size);
        ptr
    }
}
