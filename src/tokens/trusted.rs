//! Outside identity providers whose tokens are accepted: each one's JWKS,
//! fetched over HTTP(S) and held as the last good key set. A background task
//! refreshes it ahead of `refresh`; a token with an unknown `kid` triggers one
//! refetch, shared by all concurrent callers (single flight) and at most once
//! per `refetch_interval`. When the provider is down, the last good set stays.

use super::algorithms::{alg_from_name, KeyVerifier};
use super::jwk::read_jwk;
use crate::config::{self, Algorithm};
use crate::metrics::METRICS;
use arc_swap::ArcSwap;
use prometheus::IntCounter;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest JWKS document read.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Unknown kids trigger at most one refetch per issuer per this interval.
pub const UNKNOWN_KID_REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Time to connect to a JWKS endpoint.
pub const JWKS_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time for a whole JWKS request.
pub const JWKS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One key of an issuer, with a verifier for each algorithm it may be used with.
pub(crate) struct ForeignKey {
    verifiers: Vec<(Algorithm, KeyVerifier)>,
}

impl ForeignKey {
    pub(crate) fn verifier(&self, alg: Algorithm) -> Option<&KeyVerifier> {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
    }
}

/// An issuer's keys as of the last good fetch.
#[derive(Default)]
pub(crate) struct KeySet {
    /// False until a fetch succeeded.
    pub loaded: bool,
    keys: Vec<ForeignKey>,
    by_kid: HashMap<String, usize>,
}

impl KeySet {
    /// The key named `kid`; a token without `kid` gets the issuer's only key,
    /// never a guess among several.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&ForeignKey> {
        match kid {
            Some(kid) => self.by_kid.get(kid).and_then(|i| self.keys.get(*i)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }
}

/// A configured trusted issuer and its keys.
pub(crate) struct TrustedIssuer {
    /// Kept for the process (`names.rs`): every identity it vouches for names it.
    pub issuer: &'static str,
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub roles_claim: String,
    url: String,
    pub refresh: Duration,
    keys: ArcSwap<KeySet>,
    /// Held while fetching (single flight); holds the time of the last attempt.
    fetching: tokio::sync::Mutex<Option<Instant>>,
    /// Fetch attempts so far; lets waiters see that a fetch happened meanwhile.
    attempts: AtomicU64,
    ok: IntCounter,
    failed: IntCounter,
}

impl TrustedIssuer {
    pub(crate) fn new(cfg: &config::TrustedIssuer, own_audience: &str) -> Self {
        let audiences = if cfg.audiences.is_empty() {
            vec![own_audience.to_string()]
        } else {
            cfg.audiences.clone()
        };
        TrustedIssuer {
            issuer: super::names::kept(&cfg.issuer),
            audiences,
            algorithms: cfg.algorithms.clone(),
            roles_claim: cfg.roles_claim.clone(),
            url: cfg.jwks_url.clone(),
            refresh: cfg.refresh.get(),
            keys: ArcSwap::from_pointee(KeySet::default()),
            fetching: tokio::sync::Mutex::new(None),
            attempts: AtomicU64::new(0),
            ok: METRICS
                .jwks_fetches_total
                .with_label_values(&[cfg.issuer.as_str(), "ok"]),
            failed: METRICS
                .jwks_fetches_total
                .with_label_values(&[cfg.issuer.as_str(), "error"]),
        }
    }

    pub(crate) fn keys(&self) -> Arc<KeySet> {
        self.keys.load_full()
    }

    /// Refetches after an unknown `kid`, unless another caller's fetch
    /// finished while this one waited, or the last attempt was less than
    /// `min_interval` ago. Returns the key set to use either way.
    pub(crate) async fn refetch_for_unknown_kid(
        &self,
        client: &reqwest::Client,
        min_interval: Duration,
    ) -> Arc<KeySet> {
        let seen = self.attempts.load(Ordering::Acquire);
        let mut last = self.fetching.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            return self.keys();
        }
        if last.is_some_and(|t| t.elapsed() < min_interval) {
            return self.keys();
        }
        *last = Some(Instant::now());
        let _ = self.fetch(client).await;
        self.keys()
    }

    /// Fetches now (the background refresh), still one fetch at a time.
    pub(crate) async fn refresh_now(&self, client: &reqwest::Client) -> Result<usize, String> {
        let mut last = self.fetching.lock().await;
        *last = Some(Instant::now());
        self.fetch(client).await
    }

    async fn fetch(&self, client: &reqwest::Client) -> Result<usize, String> {
        let result = download(client, &self.url)
            .await
            .and_then(|body| self.read_set(&body));
        let outcome = match result {
            Ok(set) => {
                let count = set.keys.len();
                tracing::info!(
                    issuer = %self.issuer,
                    keys = count,
                    kids = ?set.by_kid.keys().collect::<Vec<_>>(),
                    "trusted issuer keys fetched"
                );
                self.keys.store(Arc::new(set));
                self.ok.inc();
                Ok(count)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "trusted issuer keys could not be fetched; keeping the last good set");
                self.failed.inc();
                Err(e)
            }
        };
        self.attempts.fetch_add(1, Ordering::Release);
        outcome
    }

    /// The usable keys of a JWKS document: signature keys whose algorithm is
    /// one the issuer is configured for.
    fn read_set(&self, body: &[u8]) -> Result<KeySet, String> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
        let Some(items) = doc.get("keys").and_then(Value::as_array) else {
            return Err("the JWKS has no \"keys\" array".into());
        };
        let mut set = KeySet {
            loaded: true,
            ..KeySet::default()
        };
        for item in items {
            let Some(obj) = item.as_object() else {
                continue;
            };
            let read = match read_jwk(obj) {
                Ok(Some(k)) => k,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(issuer = %self.issuer, kid = ?obj.get("kid"), error = %e, "skipping an unreadable JWK");
                    continue;
                }
            };
            let algs: Vec<Algorithm> = match read.alg.as_deref() {
                Some(name) => alg_from_name(name)
                    .filter(|a| self.algorithms.contains(a))
                    .into_iter()
                    .collect(),
                None => self.algorithms.clone(),
            };
            let verifiers: Vec<_> = algs
                .into_iter()
                .filter(|a| read.key.fits(*a))
                .filter_map(|a| KeyVerifier::public(a, &read.key).ok().map(|v| (a, v)))
                .collect();
            if verifiers.is_empty() {
                tracing::debug!(issuer = %self.issuer, kid = ?read.kid, "skipping a JWK with no configured algorithm");
                continue;
            }
            if let Some(kid) = read.kid {
                set.by_kid.insert(kid, set.keys.len());
            }
            set.keys.push(ForeignKey { verifiers });
        }
        if set.keys.is_empty() {
            return Err("the JWKS has no usable signature key".into());
        }
        Ok(set)
    }
}

async fn download(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP status {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err("the JWKS is larger than 1 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The HTTP client used for every JWKS fetch.
pub(crate) fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(JWKS_CONNECT_TIMEOUT)
        .timeout(JWKS_REQUEST_TIMEOUT)
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// Keeps `issuer`'s keys fresh until `stop` says so: fetch, wait 90% of
/// `refresh` (30 s, or `refresh` when shorter, after a failure), repeat.
pub(crate) async fn keep_fresh(
    issuer: Arc<TrustedIssuer>,
    client: reqwest::Client,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match issuer.refresh_now(&client).await {
            Ok(_) => (issuer.refresh * 9 / 10).max(Duration::from_secs(1)),
            Err(_) => issuer.refresh.min(Duration::from_secs(30)),
        };
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }
}
