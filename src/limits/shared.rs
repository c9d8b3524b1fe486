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
