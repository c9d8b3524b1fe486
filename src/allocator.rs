//! Tuning of the process allocator (mimalloc, set in `main.rs`) for a
//! gateway's life: a start-up that allocates and frees a lot once, then
//! threads that serve requests or sit idle.

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};
use std::os::raw::c_long;
use std::time::Duration;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h, the same
/// in versions 2 and 3); the Rust bindings do not name it.
const PURGE_DELAY: mi_option_t = 15;
/// Its defaults in milliseconds (version 3: 1000, version 2: 10): a guard
/// that the number above still means what it meant.
const PURGE_DELAY_DEFAULTS_MS: [c_long; 2] = [1000, 10];
/// How long start-up is given (service runtimes, first health checks and key
/// fetches) before the normal purge delay comes back.
const START_UP: Duration = Duration::from_secs(5);

/// mimalloc returns freed pages to the OS only after a delay, and only when
/// the same thread calls into the allocator again, so what the service
/// threads free during start-up stays resident while they idle: 19 of the
/// 29 MB of anonymous memory of an idle gateway here. Purging at once for
/// the first seconds returns it; after that mimalloc's own delay is put
/// back, because purging at once under load cost about a quarter of the
/// proxy's throughput (43k vs 33k req/s, benches/load's open route, same
/// build). An operator's own `MIMALLOC_PURGE_DELAY` is left alone.
pub fn purge_at_once_during_start_up() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reading and setting a mimalloc option has no preconditions.
    let usual = unsafe { mi_option_get(PURGE_DELAY) };
    if !PURGE_DELAY_DEFAULTS_MS.contains(&usual) {
        return;
    }
    // SAFETY: as above.
    unsafe { mi_option_set(PURGE_DELAY, 0) };
    let restore = std::thread::Builder::new()
        .name("allocator".into())
        .spawn(move || {
            std::thread::sleep(START_UP);
            // SAFETY: as above.
            unsafe { mi_option_set(PURGE_DELAY, usual) };
        });
    if restore.is_err() {
        // SAFETY: as above.
        unsafe { mi_option_set(PURGE_DELAY, usual) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_where_mimalloc_has_it() {
        // SAFETY: reading a mimalloc option has no preconditions.
        let value = unsafe { mi_option_get(PURGE_DELAY) };
        assert!(
            PURGE_DELAY_DEFAULTS_MS.contains(&value)
                || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some(),
            "option {PURGE_DELAY} is {value}"
        );
    }
}
