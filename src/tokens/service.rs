//! `TokenService`: the one object the rest of the gateway holds for tokens.
//! Built from `config::Tokens` without touching the network; it mints
//! (`mint.rs`), verifies (`verify.rs`), publishes the JWKS, and keeps trusted
//! issuers' keys fresh once `spawn_refresh` is called inside the runtime.

use super::cache::VerifiedCache;
use super::revocation::Revocations;
use super::signing_keys::{self, LocalKeys, Missing};
use super::trusted::{self, TrustedIssuer, UNKNOWN_KID_REFETCH_INTERVAL};
use crate::config::{ConfigError, Tokens};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// Issues and verifies this gateway's tokens and checks trusted issuers' tokens.
pub struct TokenService {
    pub(crate) issuer: &'static str,
    pub(crate) audience: Vec<String>,
    pub(crate) access_ttl: Duration,
    pub(crate) session_ttl: Duration,
    pub(crate) key_ttl: Option<Duration>,
    pub(crate) leeway: u64,
    pub(crate) keys: LocalKeys,
    pub(crate) trusted: Vec<Arc<TrustedIssuer>>,
    pub(crate) client: Option<reqwest::Client>,
    pub(crate) cache: VerifiedCache,
    pub(crate) revocations: Arc<dyn Revocations>,
    pub(crate) fail_open: bool,
    /// Like `fail_open`, for the login API's checks (keys, regeneration).
    pub(crate) auth_fail_open: bool,
    pub(crate) refetch_interval: Duration,
}

impl TokenService {
    /// Loads every signing key (creating a `create_if_missing` secret file)
    /// and prepares trusted issuers; reports every key problem with its path.
    /// `fail_open`: accept tokens on proxied routes when the revocation
    /// look-up errors; the login API's checks follow
    /// `tokens.revocation_unavailable.auth_api`.
    pub fn new(
        cfg: &Tokens,
        revocations: Arc<dyn Revocations>,
        fail_open: bool,
    ) -> Result<Self, ConfigError> {
        let keys = signing_keys::load(cfg, Missing::Create)?
            .ok_or_else(|| ConfigError::one("tokens.signing", "no key could be loaded"))?;
        let trusted: Vec<_> = cfg
            .trusted_issuers
            .iter()
            .map(|t| Arc::new(TrustedIssuer::new(t, &cfg.audience)))
            .collect();
        let client = if trusted.is_empty() {
            None
        } else {
            Some(trusted::http_client().map_err(|e| {
                ConfigError::one(
                    "tokens.trusted_issuers",
                    format!("cannot build an HTTP client: {e}"),
                )
            })?)
        };
        Ok(TokenService {
            issuer: super::names::kept(&cfg.issuer),
            audience: vec![cfg.audience.clone()],
            access_ttl: cfg.access_ttl.get(),
            session_ttl: cfg.session_ttl.get(),
            key_ttl: cfg.key_ttl.map(|d| d.get()),
            leeway: cfg.leeway.get().as_secs(),
            keys,
            trusted,
            client,
            cache: VerifiedCache::new(
                cfg.cache.max_entries,
                cfg.cache.revocation_check_interval.get(),
            ),
            revocations,
            fail_open,
            auth_fail_open: cfg.revocation_unavailable.auth_api == crate::config::FailMode::Open,
            refetch_interval: UNKNOWN_KID_REFETCH_INTERVAL,
        })
    }

    /// Changes how often an unknown `kid` may trigger a JWKS refetch per
    /// issuer (default `UNKNOWN_KID_REFETCH_INTERVAL`, 5 s).
    pub fn with_unknown_kid_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// `{"keys":[...]}`: the public JWKs of the asymmetric signing keys,
    /// computed once. HMAC secrets never appear.
    pub fn jwks_json(&self) -> Bytes {
        self.keys.jwks.clone()
    }

    /// The kid new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        self.keys.signing.kid
    }

    /// Starts keeping every trusted issuer's keys fresh: one fetch right
    /// away, then ahead of each issuer's `refresh`. Send `true` on (or drop
    /// the sender of) `stop` to end it; the handle completes once all stop.
    /// Call it from inside the Tokio runtime (it uses `tokio::spawn`).
    pub fn spawn_refresh(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let issuers = self.trusted.clone();
        let client = self.client.clone();
        tokio::spawn(async move {
            let Some(client) = client else { return };
            let mut tasks = tokio::task::JoinSet::new();
            for issuer in issuers {
                tasks.spawn(trusted::keep_fresh(issuer, client.clone(), stop.clone()));
            }
            while tasks.join_next().await.is_some() {}
        })
    }
}
