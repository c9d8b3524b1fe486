//! Rate limiting: token buckets (governor's GCRA) per client IP and per
//! identifier on the auth API, per token subject on proxied routes. Keyed
//! state lives in a bounded cache, so an attacker cycling keys cannot grow
//! memory without limit. With `limits.rate.shared` the two auth limits live
//! in the store instead, shared by every instance.

mod keyed;
mod shared;

pub use keyed::{limited_headers, Decision, KeyedLimiter};
pub use shared::SharedLimiter;

use crate::config::{Bucket, Config};
use crate::store::Store;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

/// An auth limit: this instance's own, or shared through the store.
pub enum AuthLimiter<K> {
    Local(KeyedLimiter<K>),
    Shared(SharedLimiter<K>),
}

impl<K: std::hash::Hash + Eq + Send + Sync + Clone + ToString + 'static> AuthLimiter<K> {
    /// Takes `n` tokens for `key`, or says how long to wait.
    pub async fn check(&self, key: &K, n: u32) -> Decision {
        match self {
            AuthLimiter::Local(limiter) => limiter.check(key, n),
            AuthLimiter::Shared(limiter) => limiter.check(key, n).await,
        }
    }

    pub fn burst(&self) -> u32 {
        match self {
            AuthLimiter::Local(limiter) => limiter.burst,
            AuthLimiter::Shared(limiter) => limiter.burst(),
        }
    }
}

/// The key of a token subject (issuer and uid) in the proxy's limits: a
/// 64-bit hash with a per-process random seed, so that no key text is built
/// per request; two subjects share a bucket only by a chance of about 2^-64
/// that nobody outside can steer.
pub fn subject_key(issuer: &str, uid: &str) -> u64 {
    static SEED: once_cell::sync::Lazy<foldhash::quality::RandomState> =
        once_cell::sync::Lazy::new(Default::default);
    SEED.hash_one((issuer, uid))
}

/// Every limiter one config snapshot defines.
pub struct RateLimits {
    pub auth_per_ip: Option<AuthLimiter<IpAddr>>,
    pub auth_per_identifier: Option<AuthLimiter<String>>,
    /// Keyed by `subject_key`.
    pub proxy_per_subject: Option<Arc<KeyedLimiter<u64>>>,
    /// Routes with their own `rate`, by route index; keyed by `subject_key`.
    pub per_route: HashMap<usize, Arc<KeyedLimiter<u64>>>,
}

impl RateLimits {
    /// The limits of `cfg`; the auth limits go through `store` when
    /// `limits.rate.shared` is set.
    pub fn from_config_with_store(cfg: &Config, store: &Arc<dyn Store>) -> Self {
        let mut limits = Self::from_config(cfg);
        if cfg.limits.rate.shared {
            fn share<K: std::hash::Hash + Eq + Send + Sync + Clone + ToString + 'static>(
                limiter: Option<AuthLimiter<K>>,
                bucket: Option<Bucket>,
                store: &Arc<dyn Store>,
            ) -> Option<AuthLimiter<K>> {
                match (limiter, bucket) {
                    (Some(AuthLimiter::Local(local)), Some(bucket)) => Some(AuthLimiter::Shared(
                        SharedLimiter::new(store.clone(), local, bucket),
                    )),
                    (other, _) => other,
                }
            }
            let rate = &cfg.limits.rate;
            limits.auth_per_ip = share(limits.auth_per_ip, rate.auth_per_ip, store);
            limits.auth_per_identifier =
                share(limits.auth_per_identifier, rate.auth_per_identifier, store);
        }
        limits
    }

    /// The limits of `cfg`, all kept by this instance.
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
            auth_per_ip: make("auth_per_ip", &rate.auth_per_ip, max).map(AuthLimiter::Local),
            auth_per_identifier: make("auth_per_identifier", &rate.auth_per_identifier, max)
                .map(AuthLimiter::Local),
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
    pub fn for_route(&self, route_index: usize) -> Option<&Arc<KeyedLimiter<u64>>> {
        self.per_route
            .get(&route_index)
            .or(self.proxy_per_subject.as_ref())
    }
}
