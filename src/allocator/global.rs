//! The process's global allocator: mimalloc, asked for an aligned block only
//! when a layout needs more alignment than mimalloc's blocks always have.
//!
//! The `mimalloc` crate's own `GlobalAlloc` passes every allocation to
//! `mi_malloc_aligned`. In mimalloc 3 that call's fast path covers only
//! blocks up to 1 KiB; a larger one whose rounded size is not a power of two
//! (a request's head buffer, header-map storage, Pingora's per-request
//! future of 9 KB) takes the generic path and is over-allocated by its
//! alignment, and freeing it takes the slow path too. Every block of 16
//! bytes or more is 16-byte aligned (`MI_MAX_ALIGN_SIZE`; bins above 16
//! bytes are whole multiples of 16 and a page's first block is 16-aligned),
//! so for alignments up to 16 plain `mi_malloc` gives the same guarantee.
//! Each plain result is still checked, and a misaligned one (which mimalloc
//! does not produce in this build) is redone the aligned way.

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc_aligned, mi_usable_size, mi_zalloc,
    mi_zalloc_aligned,
};
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment every mimalloc block of at least that size has.
const PLAIN_ALIGN: usize = 16;

/// mimalloc, plain where plain is aligned enough. Set in `main.rs`.
pub struct GatewayAllocator;

/// Whether plain mimalloc calls suit `align` for a block of `size` bytes.
#[inline]
fn plain_suits(align: usize, size: usize) -> bool {
    align <= PLAIN_ALIGN && align <= size
}

#[inline]
fn is_aligned(p: *mut c_void, align: usize) -> bool {
    (p as usize) & (align - 1) == 0
}

/// A block for `layout` from `plain` where plain suits it and comes out
/// aligned, otherwise from `aligned`.
///
/// # Safety
/// `plain` and `aligned` are a matching pair of mimalloc's allocation calls.
#[inline]
unsafe fn allocate(
    layout: Layout,
    plain: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    let (size, align) = (layout.size(), layout.align());
    if plain_suits(align, size) {
        // SAFETY: mimalloc's allocation calls take any size.
        let p = unsafe { plain(size) };
        if is_aligned(p, align) {
            return p.cast();
        }
        // SAFETY: `p` came from mimalloc just now and is not used again.
        unsafe { mi_free(p) };
    }
    // SAFETY: `align` is a power of two (a `Layout` guarantees it).
    unsafe { aligned(size, align).cast() }
}

// SAFETY: every block comes from mimalloc and goes back to `mi_free`, which
// takes blocks from any of its allocation calls, aligned or not. A block is
// returned only when aligned to the layout's alignment (or null, which
// `GlobalAlloc` allows for failure); a plain block that is not is freed and
// allocated again with the alignment.
unsafe impl GlobalAlloc for GatewayAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: both are mimalloc's allocation calls for this pair.
        unsafe { allocate(layout, mi_malloc, mi_malloc_aligned) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: both are mimalloc's zeroing allocation calls.
        unsafe { allocate(layout, mi_zalloc, mi_zalloc_aligned) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller gives back a block this allocator returned.
        unsafe { mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        if !plain_suits(align, new_size) {
            // SAFETY: `ptr` is a live block of this allocator; power-of-two `align`.
            return unsafe { mi_realloc_aligned(ptr.cast(), new_size, align).cast() };
        }
        // As `mi_realloc` decides: a block stays where it is when the new
        // size fits and uses at least half of it (its alignment is kept);
        // otherwise the contents move to a block `alloc` checked.
        // SAFETY: `ptr` is a live block of this allocator.
        let usable = unsafe { mi_usable_size(ptr.cast()) };
        if new_size <= usable && new_size >= usable / 2 {
            return ptr;
        }
        // SAFETY: `align` is a power of two and `new_size` does not overflow
        // when rounded up to it (the caller's contract).
        let moved = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, align)) };
        if !moved.is_null() {
            let kept = layout.size().min(new_size);
            // SAFETY: both blocks hold at least `kept` bytes and are distinct;
            // the old one is given back only once its contents are copied.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, kept);
                mi_free(ptr.cast());
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 12] = [1, 7, 8, 16, 24, 48, 100, 1024, 1025, 2048, 9456, 70_000];
    const ALIGNS: [usize; 7] = [1, 8, 16, 32, 128, 4096, 65_536];

    fn layouts() -> impl Iterator<Item = Layout> {
        SIZES.iter().flat_map(|&size| {
            ALIGNS
                .iter()
                .map(move |&align| Layout::from_size_align(size, align).unwrap())
        })
    }

    #[test]
    fn every_block_has_the_layouts_alignment_and_holds_its_size() {
        for layout in layouts() {
            let p = unsafe { GatewayAllocator.alloc(layout) };
            assert!(!p.is_null(), "{layout:?}");
            assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
            unsafe {
                std::ptr::write_bytes(p, 0xA5, layout.size());
                assert_eq!(*p.add(layout.size() - 1), 0xA5);
                GatewayAllocator.dealloc(p, layout);
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_and_aligned() {
        for layout in layouts() {
            unsafe {
                // Dirty a block of the size first, so a reused one would show.
                let dirty = GatewayAllocator.alloc(layout);
                std::ptr::write_bytes(dirty, 0xFF, layout.size());
                GatewayAllocator.dealloc(dirty, layout);
                let p = GatewayAllocator.alloc_zeroed(layout);
                assert_eq!(p as usize % layout.align(), 0, "{layout:?}");
                let bytes = std::slice::from_raw_parts(p, layout.size());
                assert!(bytes.iter().all(|&b| b == 0), "{layout:?}");
                GatewayAllocator.dealloc(p, layout);
            }
        }
    }

    #[test]
    fn a_grown_or_shrunk_block_keeps_its_contents_and_alignment() {
        for layout in layouts() {
            for new_size in SIZES {
                unsafe {
                    let p = GatewayAllocator.alloc(layout);
                    for i in 0..layout.size() {
                        *p.add(i) = (i % 251) as u8;
                    }
                    let q = GatewayAllocator.realloc(p, layout, new_size);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % layout.align(), 0, "{layout:?} to {new_size}");
                    let kept = layout.size().min(new_size);
                    let bytes = std::slice::from_raw_parts(q, kept);
                    assert!(
                        bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
                        "{layout:?} to {new_size}"
                    );
                    std::ptr::write_bytes(q, 1, new_size);
                    let grown = Layout::from_size_align(new_size, layout.align()).unwrap();
                    GatewayAllocator.dealloc(q, grown);
                }
            }
        }
    }
}
