//! Tuning of the process allocator (mimalloc, `global::GatewayAllocator`,
//! set in `main.rs`) for a gateway's life: a start-up that allocates and
//! frees a lot once, then threads that serve requests or sit idle, with a
//! small working set.

mod global;
pub use global::GatewayAllocator;

use async_trait::async_trait;
use libmimalloc_sys::{mi_collect, mi_option_get, mi_option_set, mi_option_t};
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use std::os::raw::c_long;
use std::sync::OnceLock;
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

/// How often freed memory whose purge delay has passed is handed back to the
/// OS once start-up is over.
const COLLECT_EVERY: Duration = Duration::from_millis(500);

/// The purge delay `purge_at_once_during_start_up` replaced, for
/// `FreedMemoryUpkeep` to put back.
static USUAL_PURGE_DELAY: OnceLock<c_long> = OnceLock::new();

/// mimalloc returns freed pages to the OS only after a delay, and only when
/// some thread calls into the allocator again; a gateway's service threads
/// go quiet after start-up, and again after every burst of requests, so what
/// they freed stayed resident. Two measures, this one first: purge at once
/// while the gateway starts, which returned 19 of the 29 MB of anonymous
/// memory of an idle gateway here. `FreedMemoryUpkeep` puts mimalloc's own
/// delay back afterwards, because purging at once under load cost about a
/// quarter of the proxy's throughput (43k vs 33k req/s, benches/load's open
/// route, same build). An operator's own `MIMALLOC_PURGE_DELAY` is left
/// alone.
pub fn purge_at_once_during_start_up() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: reading and setting a mimalloc option has no preconditions.
    let usual = unsafe { mi_option_get(PURGE_DELAY) };
    if !PURGE_DELAY_DEFAULTS_MS.contains(&usual) {
        return;
    }
    if USUAL_PURGE_DELAY.set(usual).is_err() {
        return; // start-up began already; keep the value it recorded
    }
    // SAFETY: as above.
    unsafe { mi_option_set(PURGE_DELAY, 0) };
}

/// Puts back the purge delay start-up replaced, if it replaced one.
fn end_start_up() {
    if let Some(&usual) = USUAL_PURGE_DELAY.get() {
        // SAFETY: setting a mimalloc option has no preconditions.
        unsafe { mi_option_set(PURGE_DELAY, usual) };
    }
}

/// The second measure, a background service of the running server (so it
/// lives in the process that serves: daemonizing forks, and a fork keeps no
/// threads; a thread started in `main` used to be lost that way, leaving the
/// purge delay at zero for good). `START_UP` after the services start it
/// ends start-up's purging, then it collects every half second. Purges in
/// mimalloc's arenas are process-wide, so a collection on this service's
/// thread carries out the ones whose delay has passed whatever thread freed
/// the memory. After 1,000 connections made their first requests 500 at a
/// time, RSS went back to 20.5-21.3 MiB instead of staying at 25.2-28.1
/// (benches/load's memory measurement); requests per second within the noise
/// of interleaved rounds.
pub struct FreedMemoryUpkeep {
    start_up: Duration,
    every: Duration,
}

impl Default for FreedMemoryUpkeep {
    fn default() -> Self {
        FreedMemoryUpkeep {
            start_up: START_UP,
            every: COLLECT_EVERY,
        }
    }
}

#[async_trait]
impl BackgroundService for FreedMemoryUpkeep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(self.start_up) => false,
            _ = shutdown.changed() => true,
        };
        end_start_up();
        if stopping {
            return;
        }
        let mut every = tokio::time::interval(self.every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {
                    // SAFETY: collecting has no preconditions; `false` does
                    // only the work whose time has come.
                    unsafe { mi_collect(false) };
                }
                // A change is the server stopping; an error, its watch gone.
                _ = shutdown.changed() => return,
            }
        }
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

    fn quick_upkeep() -> FreedMemoryUpkeep {
        FreedMemoryUpkeep {
            start_up: Duration::from_millis(20),
            every: Duration::from_millis(5),
        }
    }

    /// Runs `upkeep` as the server would, with the sender of its shutdown watch.
    fn run(
        upkeep: FreedMemoryUpkeep,
    ) -> (
        tokio::sync::watch::Sender<bool>,
        tokio::task::JoinHandle<()>,
    ) {
        let (stop, watch) = tokio::sync::watch::channel(false);
        (stop, tokio::spawn(async move { upkeep.start(watch).await }))
    }

    async fn ends_within(upkeep: tokio::task::JoinHandle<()>, limit: Duration, why: &str) {
        tokio::time::timeout(limit, upkeep)
            .await
            .expect(why)
            .unwrap();
    }

    #[tokio::test]
    async fn the_upkeep_keeps_collecting_until_the_server_stops() {
        let (stop, upkeep) = run(quick_upkeep());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!upkeep.is_finished(), "it ended on its own");
        stop.send(true).unwrap();
        ends_within(
            upkeep,
            Duration::from_secs(5),
            "it did not stop with the server",
        )
        .await;
    }

    #[tokio::test]
    async fn a_server_stopping_during_start_up_stops_the_upkeep_too() {
        let (stop, upkeep) = run(FreedMemoryUpkeep::default());
        stop.send(true).unwrap();
        ends_within(upkeep, Duration::from_secs(1), "it waited out start-up").await;
    }

    #[tokio::test]
    async fn a_dropped_shutdown_watch_stops_the_upkeep_instead_of_spinning() {
        let (stop, upkeep) = run(quick_upkeep());
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(stop);
        ends_within(upkeep, Duration::from_secs(5), "it outlived its watch").await;
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
