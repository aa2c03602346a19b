//! The binary's global allocator: a bump arena first, the system allocator after.
//!
//! A stackgen command lives a few milliseconds and allocates a few megabytes of small
//! objects (the render's object trees, their strings). With the system allocator, a
//! third of the render's instructions went to malloc and free, and half of its page
//! faults to the heap growing 4 KiB at a time (~5 us each on a VM). Here, after
//! [`Arena::init`], allocations are carved from one anonymous mapping (transparent huge
//! pages asked for, so it faults in 2 MiB at a time where the kernel allows it) by
//! bumping a pointer; freeing is a no-op except for the last block, which is given back
//! (so a growing `String` or `Vec` at the end stays in place). When the arena is full,
//! everything else goes to the system allocator, so a long command (1,000 lint inputs,
//! a fuzzer) is bounded by the arena's size plus what it would have used anyway.
//!
//! No crate does this (arena first, system after, as the global allocator): `bumpalo`
//! is an arena for explicit use, `mimalloc` was tried and is slower here (BENCHMARKS.md).
//! Tests and the library use the system allocator; only the binary installs this one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The arena's size: the 64-shard render allocates ~6 MiB in all. Reserved, not
/// committed (`MAP_NORESERVE`): only pages written count.
const SIZE: usize = 16 << 20;

pub struct Arena {
    /// First byte of the arena, 0 before [`Arena::init`] (or if the mapping failed).
    start: AtomicUsize,
    /// One past its last byte.
    end: AtomicUsize,
    /// The next free byte.
    next: AtomicUsize,
}

impl Arena {
    pub const fn new() -> Arena {
        Arena { start: AtomicUsize::new(0), end: AtomicUsize::new(0), next: AtomicUsize::new(0) }
    }

    /// Map the arena. Until this is called (the runtime's own allocations before
    /// `main`), and if the mapping fails, everything goes to the system allocator.
    pub fn init(&self) {
        if self.start.load(Relaxed) != 0 {
            return;
        }
        // SAFETY: a fresh private anonymous mapping aliases nothing; it is never unmapped.
        let mapped = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                SIZE,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::NORESERVE,
            )
        };
        let Ok(ptr) = mapped else { return };
        let start = ptr as usize;
        // Huge pages where the kernel has them; only a hint. Its 2 MiB-aligned part is
        // what can be backed by huge pages.
        // SAFETY: advice on our own mapping changes no content.
        let _ = unsafe { rustix::mm::madvise(ptr, SIZE, rustix::mm::Advice::LinuxHugepage) };
        self.next.store(start, Relaxed);
        self.end.store(start + SIZE, Relaxed);
        self.start.store(start, Relaxed);
    }

    fn owns(&self, ptr: *mut u8) -> bool {
        let p = ptr as usize;
        let start = self.start.load(Relaxed);
        start != 0 && p >= start && p < self.end.load(Relaxed)
    }

    /// Carve `layout` from the arena, or null when it does not fit.
    fn bump(&self, layout: Layout) -> *mut u8 {
        let end = self.end.load(Relaxed);
        let mut cur = self.next.load(Relaxed);
        loop {
            let Some(at) = cur.checked_add(layout.align() - 1).map(|p| p & !(layout.align() - 1)) else {
                return std::ptr::null_mut();
            };
            let Some(new) = at.checked_add(layout.size()) else { return std::ptr::null_mut() };
            if end == 0 || new > end {
                return std::ptr::null_mut();
            }
            match self.next.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                Ok(_) => return at as *mut u8,
                Err(seen) => cur = seen,
            }
        }
    }
}

// SAFETY: every block handed out is either a disjoint range of the arena (the bump is
// one atomic step) or the system allocator's; `dealloc` and `realloc` tell them apart by
// address, and an arena block is never handed out twice while live (only the last block
// is taken back, by moving `next` down from exactly its end).
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.bump(layout);
        if !p.is_null() {
            return p;
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.owns(ptr) {
            let end = ptr as usize + layout.size();
            // The last block: give it back. Any other: kept until exit.
            let _ = self.next.compare_exchange(end, ptr as usize, Relaxed, Relaxed);
            return;
        }
        // SAFETY: not ours, so the system allocator's, with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            // SAFETY: the system allocator's block, with the caller's guarantees.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let old_end = ptr as usize + layout.size();
        if new_size <= layout.size() {
            // Shrinking: the last block gives back its tail; any other stays as it is.
            let _ = self.next.compare_exchange(old_end, ptr as usize + new_size, Relaxed, Relaxed);
            return ptr;
        }
        // Growing the last block: in place, if the arena has room.
        if let Some(new_end) = (ptr as usize).checked_add(new_size) {
            if new_end <= self.end.load(Relaxed)
                && self.next.compare_exchange(old_end, new_end, Relaxed, Relaxed).is_ok()
            {
                return ptr;
            }
        }
        // SAFETY: `layout.align()` is a valid alignment and `new_size` is nonzero and
        // does not overflow when rounded (the caller's guarantees for `realloc`).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a nonzero size, as above.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least `layout.size()` long.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size()) };
            // SAFETY: `ptr` is ours and live with `layout`.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// An arena of its own, mapped (not the global one).
    fn mapped() -> Arena {
        let a = Arena::new();
        a.init();
        a
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_the_last_is_reused() {
        let a = mapped();
        // SAFETY: every pointer below is used with the layout it was allocated with.
        unsafe {
            let p = a.alloc(layout(3, 1));
            let q = a.alloc(layout(8, 8));
            assert!(a.owns(p) && a.owns(q));
            assert_eq!(q as usize % 8, 0);
            assert!(q as usize >= p as usize + 3);
            // Freeing the last block gives it back: the next block starts there.
            a.dealloc(q, layout(8, 8));
            let r = a.alloc(layout(8, 8));
            assert_eq!(r, q);
            // A block that is not the last is kept: nothing after it moves.
            a.dealloc(p, layout(3, 1));
            let s = a.alloc(layout(1, 1));
            assert!(s as usize >= r as usize + 8);
        }
    }

    #[test]
    fn realloc_grows_the_last_block_in_place_and_copies_others() {
        let a = mapped();
        // SAFETY: as above; the contents written are read back within their sizes.
        unsafe {
            let p = a.alloc(layout(4, 1));
            p.copy_from_nonoverlapping(b"abcd".as_ptr(), 4);
            let p2 = a.realloc(p, layout(4, 1), 4096);
            assert_eq!(p2, p, "the last block grows in place");
            let q = a.alloc(layout(1, 1));
            let p3 = a.realloc(p2, layout(4096, 1), 8192);
            assert_ne!(p3, p2, "a block with another after it moves");
            assert_eq!(std::slice::from_raw_parts(p3, 4), b"abcd");
            // Shrinking keeps the address.
            assert_eq!(a.realloc(q, layout(1, 1), 1), q);
        }
    }

    #[test]
    fn a_full_arena_hands_over_to_the_system_allocator() {
        let a = mapped();
        // SAFETY: as above.
        unsafe {
            let big = a.alloc(layout(SIZE - 64, 1));
            assert!(a.owns(big));
            let sys = a.alloc(layout(4096, 8));
            assert!(!sys.is_null() && !a.owns(sys));
            sys.write_bytes(7, 4096);
            let sys2 = a.realloc(sys, layout(4096, 8), 1 << 20);
            assert!(!a.owns(sys2));
            assert_eq!(*sys2.add(4095), 7);
            a.dealloc(sys2, layout(1 << 20, 8));
            // Before `init`, everything is the system allocator's.
            let fresh = Arena::new();
            let s = fresh.alloc(layout(16, 8));
            assert!(!fresh.owns(s));
            fresh.dealloc(s, layout(16, 8));
        }
    }
}
