//! Tuning of the process allocator (mimalloc, set in `main.rs`) for a
//! gateway's life: mostly idle threads between bursts of requests.

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h, the same
/// in versions 2 and 3); the Rust bindings do not name it.
const PURGE_DELAY: mi_option_t = 15;
/// Its defaults in milliseconds (version 3: 1000, version 2: 10): a guard
/// that the number above still means what it meant.
const PURGE_DELAY_DEFAULTS_MS: [std::os::raw::c_long; 2] = [1000, 10];

/// mimalloc returns freed pages to the OS only after a delay, and only when
/// the same thread later calls into the allocator again; threads that go
/// idle after start-up (service runtimes, timers) keep what they freed. On
/// the 2-core test machine that was 19 of the 29 MiB of anonymous memory
/// of an idle gateway. Purging at once fixes that; an operator's own
/// `MIMALLOC_PURGE_DELAY` is left alone. Returns whether the option was set.
pub fn return_freed_memory_promptly() -> bool {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return false;
    }
    // SAFETY: reading and setting a mimalloc option has no preconditions.
    unsafe {
        if !PURGE_DELAY_DEFAULTS_MS.contains(&mi_option_get(PURGE_DELAY)) {
            return false;
        }
        mi_option_set(PURGE_DELAY, 0);
    }
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_delay_option_is_where_mimalloc_has_it() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert!(super::return_freed_memory_promptly());
        }
    }
}
