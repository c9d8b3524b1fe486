//! One keyed token-bucket limiter: a governor GCRA cell per key, kept in a
//! bounded moka cache. An idle key is evicted only after its bucket would
//! have refilled completely, so eviction never forgives a debt.

use crate::config::Bucket;
use crate::metrics::METRICS;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

type Cell = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// The outcome of one check, with what the RateLimit headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after: Duration },
}

pub struct KeyedLimiter<K> {
    /// `rate_limited_total{limit}` label.
    pub name: &'static str,
    pub burst: u32,
    quota: Quota,
    clock: DefaultClock,
    cells: moka::sync::Cache<K, Arc<Cell>>,
}

impl<K: Hash + Eq + Send + Sync + Clone + 'static> KeyedLimiter<K> {
    pub fn new(name: &'static str, bucket: Bucket, max_keys: u64) -> Self {
        let burst = NonZeroU32::new(bucket.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_token = Duration::from_secs_f64(1.0 / bucket.rps.max(1e-6));
        let quota = Quota::with_period(per_token)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        // Time for an empty bucket to fill again; after that, forgetting the key is lossless.
        let refill = per_token.saturating_mul(burst.get()) + Duration::from_secs(1);
        KeyedLimiter {
            name,
            burst: burst.get(),
            quota,
            clock: DefaultClock::default(),
            cells: moka::sync::Cache::builder()
                .max_capacity(max_keys.max(1))
                .time_to_idle(refill)
                .build(),
        }
    }

    /// Takes `n` tokens for `key`, or says how long to wait.
    pub fn check(&self, key: &K, n: u32) -> Decision {
        let cell = self.cells.get_with_by_ref(key, || {
            Arc::new(
                RateLimiter::direct_with_clock(self.quota, self.clock.clone()).with_middleware(),
            )
        });
        let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        match cell.check_n(n) {
            Ok(Ok(snapshot)) => Decision::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Ok(Err(not_until)) => {
                METRICS
                    .rate_limited_total
                    .with_label_values(&[self.name])
                    .inc();
                Decision::Limited {
                    retry_after: not_until.wait_time_from(self.clock.now()),
                }
            }
            // More tokens asked for than the bucket can ever hold.
            Err(_) => {
                METRICS
                    .rate_limited_total
                    .with_label_values(&[self.name])
                    .inc();
                Decision::Limited {
                    retry_after: self.quota.replenish_interval().saturating_mul(self.burst),
                }
            }
        }
    }

    /// Keys currently remembered (for tests and metrics).
    pub fn keys(&self) -> u64 {
        self.cells.run_pending_tasks();
        self.cells.entry_count()
    }
}

/// The headers of a 429: `Retry-After` and the RateLimit fields, in seconds.
pub fn limited_headers(limit: u32, retry_after: Duration) -> [(&'static str, String); 4] {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let secs = secs.max(1).to_string();
    [
        ("retry-after", secs.clone()),
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", "0".to_string()),
        ("ratelimit-reset", secs),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rps: f64, burst: u32, max_keys: u64) -> KeyedLimiter<String> {
        KeyedLimiter::new("test", Bucket { rps, burst }, max_keys)
    }

    #[test]
    fn a_burst_passes_then_the_next_request_waits() {
        let l = limiter(1.0, 3, 100);
        let k = "client".to_string();
        for left in [2, 1, 0] {
            assert_eq!(l.check(&k, 1), Decision::Allowed { remaining: left });
        }
        match l.check(&k, 1) {
            Decision::Limited { retry_after } => {
                assert!(
                    retry_after > Duration::from_millis(500)
                        && retry_after <= Duration::from_secs(1)
                )
            }
            other => panic!("expected a limit, got {other:?}"),
        }
    }

    #[test]
    fn keys_are_limited_independently() {
        let l = limiter(1.0, 1, 100);
        assert!(matches!(
            l.check(&"a".to_string(), 1),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            l.check(&"a".to_string(), 1),
            Decision::Limited { .. }
        ));
        assert!(matches!(
            l.check(&"b".to_string(), 1),
            Decision::Allowed { .. }
        ));
    }

    #[test]
    fn a_batch_takes_one_token_per_item() {
        let l = limiter(1.0, 5, 100);
        let k = "batch".to_string();
        assert_eq!(l.check(&k, 4), Decision::Allowed { remaining: 1 });
        assert!(matches!(l.check(&k, 2), Decision::Limited { .. }));
        assert!(
            matches!(l.check(&k, 50), Decision::Limited { .. }),
            "more than the burst never passes"
        );
    }

    #[test]
    fn remembered_keys_stay_bounded() {
        let l = limiter(1.0, 1, 100);
        for i in 0..5_000 {
            l.check(&format!("key-{i}"), 1);
        }
        assert!(l.keys() <= 110, "{} keys kept", l.keys());
    }

    #[test]
    fn a_limit_answer_carries_retry_after_and_ratelimit_headers() {
        let h = limited_headers(10, Duration::from_millis(1500));
        assert_eq!(h[0], ("retry-after", "2".to_string()));
        assert_eq!(h[1], ("ratelimit-limit", "10".to_string()));
        assert_eq!(h[2], ("ratelimit-remaining", "0".to_string()));
    }
}
