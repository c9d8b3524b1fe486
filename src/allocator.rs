//! Tuning of the process allocator (mimalloc, set in `main.rs`) for a
//! gateway's life: a start-up that allocates and frees a lot once, then
//! threads that serve requests or sit idle, with a small working set.

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

/// `mi_option_allow_thp` in mimalloc 3's `mi_option_t`, and its default.
const ALLOW_THP: mi_option_t = 43;
const ALLOW_THP_DEFAULT: c_long = 1;

/// Transparent huge pages off for the process. mimalloc asks the kernel for
/// huge pages on its arenas (`madvise`), so with the kernel's usual
/// `madvise` setting resident memory grows in 2 MiB steps: an idle gateway
/// held 20 MiB here instead of 16.5 (13 with `MIMALLOC_ALLOW_THP=0` in the
/// environment), and the memory an idle connection costs could not be told
/// from the steps. A gateway's working set is small
/// enough that the larger pages did not measurably speed it up (interleaved
/// rounds, both orders, within noise). Like `MIMALLOC_ALLOW_THP=0`, which
/// mimalloc reads before `main`: the option stops its later requests, and
/// `PR_SET_THP_DISABLE` keeps the kernel from honouring the ones it made
/// already. An operator's own `MIMALLOC_ALLOW_THP` is left alone (1 turns
/// huge pages back on).
pub fn keep_huge_pages_off() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: reading and setting a mimalloc option has no preconditions.
    if unsafe { mi_option_get(ALLOW_THP) } != ALLOW_THP_DEFAULT {
        return; // not the option this number names in this mimalloc
    }
    // SAFETY: as above.
    unsafe { mi_option_set(ALLOW_THP, 0) };
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and sets a flag of
    // this process; a kernel without it returns an error, which changes
    // nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

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

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_end_up_off_for_the_process() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return; // the operator's choice stands, and this process has one
        }
        // One test, not two: the option is the process's.
        // SAFETY: reading a mimalloc option has no preconditions.
        let before = unsafe { mi_option_get(ALLOW_THP) };
        assert!(
            before == ALLOW_THP_DEFAULT || before == 0,
            "option {ALLOW_THP} is {before}: not mimalloc's allow_thp"
        );
        keep_huge_pages_off();
        // SAFETY: PR_GET_THP_DISABLE takes no pointer.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
        // SAFETY: reading a mimalloc option has no preconditions.
        assert_eq!(unsafe { mi_option_get(ALLOW_THP) }, 0);
    }
}
