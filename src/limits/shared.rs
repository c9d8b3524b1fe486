//! The auth limits shared by every instance (`limits.rate.shared`): each
//! request takes its tokens from a GCRA bucket in the store (one Lua script
//! on Redis), so N instances together allow what one would. While the store
//! cannot answer, the instance's own limiter decides instead, so the auth
//! API stays protected during an outage.

use super::keyed::{Decision, KeyedLimiter};
use crate::config::Bucket;
use crate::metrics::METRICS;
use crate::store::{RateBucket, RateDecision, Store};
use std::hash::Hash;
use std::sync::Arc;

/// One limit (per IP or per identifier) kept in the store, with the local
/// limiter it falls back on.
pub struct SharedLimiter<K> {
    store: Arc<dyn Store>,
    bucket: RateBucket,
    local: KeyedLimiter<K>,
}

impl<K: Hash + Eq + Send + Sync + Clone + ToString + 'static> SharedLimiter<K> {
    pub fn new(store: Arc<dyn Store>, local: KeyedLimiter<K>, bucket: Bucket) -> Self {
        SharedLimiter {
            store,
            bucket: RateBucket {
                rps: bucket.rps,
                burst: bucket.burst.max(1),
            },
            local,
        }
    }

    pub fn name(&self) -> &'static str {
        self.local.name
    }

    pub fn burst(&self) -> u32 {
        self.local.burst
    }

    /// Takes `n` tokens for `key` from the shared bucket, one at a time (a
    /// refused token stops the count); the local limiter decides when the
    /// store fails.
    pub async fn check(&self, key: &K, n: u32) -> Decision {
        let name = format!("{}:{}", self.local.name, key.to_string());
        for taken in 0..n.max(1) {
            match self.store.take_rate_token(&name, self.bucket).await {
                Ok(RateDecision::Allowed) => {}
                Ok(RateDecision::Limited { retry_after }) => {
                    METRICS
                        .rate_limited_total
                        .with_label_values(&[self.local.name])
                        .inc();
                    return Decision::Limited { retry_after };
                }
                Err(e) => {
                    tracing::warn!(limit = self.local.name, error = %e, "shared rate limit unavailable; using this instance's limit");
                    return self.local.check(key, n - taken);
                }
            }
        }
        Decision::Allowed { remaining: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RedisSettings, RedisStore, SqliteStore, SystemClock};
    use std::time::Duration;

    const BUCKET: Bucket = Bucket {
        rps: 0.01,
        burst: 3,
    };

    fn limiter(store: Arc<dyn Store>) -> SharedLimiter<String> {
        SharedLimiter::new(store, KeyedLimiter::new("test", BUCKET, 100), BUCKET)
    }

    #[tokio::test]
    async fn two_instances_on_one_store_share_one_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("s.db"), Arc::new(SystemClock))
                .await
                .unwrap(),
        );
        let (a, b) = (limiter(store.clone()), limiter(store));
        let key = "DEMO|MOBILE|4915112345678".to_string();
        let mut allowed = 0;
        for i in 0..6 {
            let instance = if i % 2 == 0 { &a } else { &b };
            if let Decision::Allowed { .. } = instance.check(&key, 1).await {
                allowed += 1;
            }
        }
        assert_eq!(allowed, BUCKET.burst);
    }

    #[tokio::test]
    async fn an_unreachable_store_leaves_the_decision_to_the_local_bucket() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let store = RedisStore::open(
            &RedisSettings {
                url: format!("redis://127.0.0.1:{port}"),
                key_prefix: "x:".into(),
                pool_size: 1,
                connect_timeout: Duration::from_millis(100),
                command_timeout: Duration::from_millis(100),
            },
            Arc::new(SystemClock),
        )
        .unwrap();
        let shared = limiter(Arc::new(store));
        let key = "10.0.0.1".to_string();
        for _ in 0..BUCKET.burst {
            assert!(matches!(
                shared.check(&key, 1).await,
                Decision::Allowed { .. }
            ));
        }
        assert!(matches!(
            shared.check(&key, 1).await,
            Decision::Limited { .. }
        ));
    }
}
