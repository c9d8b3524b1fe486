//! The verified-token cache: a token that passed every check is remembered,
//! keyed by a fast 64-bit hash of its text, until its `exp`. Each entry keeps
//! the token text and a hit is only a hit when that text is equal, so a hash
//! collision can never hand out someone else's identity. An entry also
//! remembers when revocation was last looked up, so the caller can look again
//! once `revocation_check_interval` has passed. One monotonic clock read per
//! hit serves both the expiry and the re-check decision.

use super::identity::Identity;
use crate::metrics::METRICS;
use moka::sync::Cache;
use prometheus::IntCounter;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One remembered verification.
pub(crate) struct Verified {
    token: Box<str>,
    pub identity: Arc<Identity>,
    /// How long the entry may live (until the token's `exp`).
    ttl: Duration,
    /// The same end, in ms since the cache was built.
    expires_ms: u64,
    /// When revocation was last looked up, in ms since the cache was built.
    checked_at_ms: AtomicU64,
}

/// What a hit still needs before it can be trusted.
pub(crate) enum Freshness {
    /// Trust it.
    Fresh,
    /// Look revocation up again first.
    Recheck,
    /// Past the token's `exp`: verify the token in full (leeway applies there).
    Ended,
}

/// Keys are already hashes: hand them to the cache's table unchanged.
#[derive(Default, Clone)]
struct KeyIsHash(u64);

impl std::hash::Hasher for KeyIsHash {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type PassThrough = std::hash::BuildHasherDefault<KeyIsHash>;

pub(crate) struct VerifiedCache {
    entries: Cache<u64, Arc<Verified>, PassThrough>,
    hasher: foldhash::quality::RandomState,
    started: Instant,
    recheck_ms: u64,
    hits: IntCounter,
    misses: IntCounter,
}

struct UntilExp;

impl moka::Expiry<u64, Arc<Verified>> for UntilExp {
    fn expire_after_create(&self, _: &u64, value: &Arc<Verified>, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

impl VerifiedCache {
    pub(crate) fn new(max_entries: u64, revocation_check_interval: Duration) -> Self {
        VerifiedCache {
            entries: Cache::builder()
                .max_capacity(max_entries.max(1))
                .expire_after(UntilExp)
                .build_with_hasher(PassThrough::default()),
            hasher: foldhash::quality::RandomState::default(),
            started: Instant::now(),
            recheck_ms: u64::try_from(revocation_check_interval.as_millis()).unwrap_or(u64::MAX),
            hits: METRICS
                .token_cache_requests_total
                .with_label_values(&["hit"]),
            misses: METRICS
                .token_cache_requests_total
                .with_label_values(&["miss"]),
        }
    }

    pub(crate) fn key(&self, token: &str) -> u64 {
        self.hasher.hash_one(token)
    }

    /// The entry for exactly `token`, counted as a hit or a miss.
    pub(crate) fn get(&self, key: u64, token: &str) -> Option<Arc<Verified>> {
        match self.entries.get(&key) {
            Some(v) if *v.token == *token => {
                self.hits.inc();
                Some(v)
            }
            _ => {
                self.misses.inc();
                None
            }
        }
    }

    /// Remembers a verification whose revocation look-up just happened.
    /// Tokens with less than a second to live are not worth remembering.
    pub(crate) fn insert(&self, key: u64, token: &str, identity: Arc<Identity>, ttl: Duration) {
        if ttl < Duration::from_secs(1) {
            return;
        }
        let now = self.now_ms();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let entry = Verified {
            token: token.into(),
            identity,
            ttl,
            expires_ms: now.saturating_add(ttl_ms),
            checked_at_ms: AtomicU64::new(now),
        };
        self.entries.insert(key, Arc::new(entry));
    }

    pub(crate) fn forget(&self, key: u64) {
        self.entries.invalidate(&key);
    }

    /// Whether `entry` can be trusted as it is.
    pub(crate) fn freshness(&self, entry: &Verified) -> Freshness {
        let now = self.now_ms();
        if now >= entry.expires_ms {
            Freshness::Ended
        } else if now.saturating_sub(entry.checked_at_ms.load(Ordering::Relaxed)) >= self.recheck_ms
        {
            Freshness::Recheck
        } else {
            Freshness::Fresh
        }
    }

    pub(crate) fn mark_checked(&self, entry: &Verified) {
        entry.checked_at_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}
