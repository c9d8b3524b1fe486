//! The proxy's steady state: verifying a cached token completes without
//! waiting, and our code allocates nothing on it. The cache (moka) runs its
//! housekeeping on the reading thread every 64 or so reads, which
//! allocates; that amortised cost is all that may show up. Allocations are
//! counted per thread by a wrapper around the system allocator installed for
//! this test binary.

use super::support::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::task::{Context, Poll, Waker};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is passed unchanged to the system allocator; counting
// touches only a const-initialised thread-local without a destructor.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Polls once; the cached path must be ready at once.
fn ready<F: Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[test]
fn a_cache_hit_is_ready_at_once_and_does_not_allocate_per_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let token = svc.mint(&user_request()).expect("mints").token;
    let first = ready(svc.verify(&token))
        .expect("no waiting")
        .expect("valid");
    for _ in 0..100 {
        ready(svc.verify(&token))
            .expect("no waiting")
            .expect("valid");
    }

    let before = allocations();
    for _ in 0..10_000 {
        let id = ready(svc.verify(&token))
            .expect("no waiting")
            .expect("valid");
        assert!(std::sync::Arc::ptr_eq(&id, &first));
    }
    let spent = allocations() - before;
    assert!(spent < 100, "{spent} allocations in 10 000 cache hits");
}
