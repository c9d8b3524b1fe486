//! Rate limiting: token buckets (governor's GCRA) per client IP and per
//! identifier on the auth API, per token subject on proxied routes. Keyed
//! state lives in a bounded cache, so an attacker cycling keys cannot grow
//! memory without limit.

mod keyed;

pub use keyed::{limited_headers, Decision, KeyedLimiter};

use crate::config::{Bucket, Config};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Every limiter one config snapshot defines.
pub struct RateLimits {
    pub auth_per_ip: Option<KeyedLimiter<IpAddr>>,
    pub auth_per_identifier: Option<KeyedLimiter<String>>,
    pub proxy_per_subject: Option<Arc<KeyedLimiter<String>>>,
    /// Routes with their own `rate`, by route index.
    pub per_route: HashMap<usize, Arc<KeyedLimiter<String>>>,
}

impl RateLimits {
    pub fn from_config(cfg: &Config) -> Self {
        let rate = &cfg.limits.rate;
        let max = rate.max_keys;
        fn make<K: std::hash::Hash + Eq + Send + Sync + Clone + 'static>(
            name: &'static str,
            bucket: &Option<Bucket>,
            max: u64,
        ) -> Option<KeyedLimiter<K>> {
            bucket.map(|b| KeyedLimiter::new(name, b, max))
        }
        RateLimits {
            auth_per_ip: make("auth_per_ip", &rate.auth_per_ip, max),
            auth_per_identifier: make("auth_per_identifier", &rate.auth_per_identifier, max),
            proxy_per_subject: make("proxy_per_subject", &rate.proxy_per_subject, max)
                .map(Arc::new),
            per_route: cfg
                .routes
                .iter()
                .filter_map(|r| {
                    r.rate
                        .map(|b| (r.index, Arc::new(KeyedLimiter::new("route", b, max))))
                })
                .collect(),
        }
    }

    /// The limiter for a route's token subjects: its own, else the global one.
    pub fn for_route(&self, route_index: usize) -> Option<&Arc<KeyedLimiter<String>>> {
        self.per_route
            .get(&route_index)
            .or(self.proxy_per_subject.as_ref())
    }
}
