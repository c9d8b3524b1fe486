//! The running gateway's state: one immutable snapshot built from a config
//! (routes, upstream clusters, limits), held behind `ArcSwap` so that a reload
//! can build a whole new snapshot and swap it without stopping traffic.

use crate::auth::{AuthApi, AuthDeps, Settings};
use crate::bridges::{Issuer, StoreRevocations};
use crate::config::{AuthMode, Config, ConfigError, FailMode, Issues, Route};
use crate::limits::RateLimits;
use crate::metrics::RouteMetrics;
use crate::otp::{self, CodeHasher};
use crate::proxy::cluster::Cluster;
use crate::proxy::router::Router;
use crate::store::{Clock, Store, SystemClock};
use crate::tokens::TokenService;
use arc_swap::ArcSwap;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Identity headers a route forwards when it names none (API.md section 6).
pub const DEFAULT_FORWARD_CLAIMS: &[(&str, &str)] = &[
    ("x-auth-user-id", "uid"),
    ("x-auth-brand", "org"),
    ("x-auth-device-id", "dev"),
    ("x-auth-role", "rol"),
];

pub struct Snapshot {
    pub config: Arc<Config>,
    pub router: Router,
    /// Issues and verifies tokens; kept across reloads that leave `tokens` unchanged.
    pub tokens: Arc<TokenService>,
    /// The login API of this config.
    pub auth: Arc<AuthApi>,
    pub clusters: HashMap<String, Arc<Cluster>>,
    /// Every identity header any route may set: removed from every client
    /// request so that no client can pose as a verified user.
    pub identity_headers: Vec<http::HeaderName>,
    pub limits: RateLimits,
    /// What the proxy path needs of each route, by `Route::index`.
    pub route_plans: Vec<RoutePlan>,
}

/// What the proxy path needs of one route on every request, prepared once
/// per snapshot rather than per request.
#[derive(Clone)]
pub struct RoutePlan {
    /// The identity headers the route sets: name and claim.
    pub forwarded: Vec<(http::HeaderName, String)>,
    /// Where the route's credential travels, removed upstream unless the
    /// route forwards it.
    pub credential_headers: Vec<http::HeaderName>,
    /// The upstream the route names (none when it names no known one).
    pub cluster: Option<Arc<Cluster>>,
    pub metrics: RouteMetrics,
}

impl RoutePlan {
    fn new(route: &Route, clusters: &HashMap<String, Arc<Cluster>>) -> Self {
        RoutePlan {
            forwarded: crate::proxy::identity_headers::forwarded(route),
            credential_headers: crate::proxy::identity_headers::credential_headers(route),
            cluster: clusters.get(&route.upstream).cloned(),
            metrics: RouteMetrics::new(route.label()),
        }
    }
}

impl Snapshot {
    /// Builds the runtime objects of a validated config.
    pub fn build(config: Config, shared: &Shared) -> Result<Self, ConfigError> {
        Self::build_after(config, shared, None)
    }

    /// Like `build`, reusing the clusters of `previous` whose config did not
    /// change, so that a reload keeps their health state and connections, and
    /// its token service when `tokens` did not change (keeping its caches).
    pub fn build_after(
        config: Config,
        shared: &Shared,
        previous: Option<&Snapshot>,
    ) -> Result<Self, ConfigError> {
        let clusters = build_clusters(&config, previous)?;
        let tokens = match previous {
            Some(p) if same(&p.config.tokens, &config.tokens) => p.tokens.clone(),
            // When the revocation look-up fails, the proxy serves tokens it
            // can verify unless `tokens.revocation_unavailable.proxy` is closed.
            _ => Arc::new(TokenService::new(
                &config.tokens,
                Arc::new(StoreRevocations(shared.store.clone())),
                config.tokens.revocation_unavailable.proxy == FailMode::Open,
            )?),
        };
        let auth = Arc::new(AuthApi::new(
            Settings::from_config(&config),
            AuthDeps {
                store: shared.store.clone(),
                tokens: Arc::new(Issuer(tokens.clone())),
                sender: otp::build_sender(&config.otp_delivery)?,
                hasher: shared.hasher.clone(),
                clock: shared.clock.clone(),
            },
        ));
        Ok(Snapshot {
            auth,
            limits: RateLimits::from_config_with_store(&config, &shared.store),
            router: Router::new(&config.routes),
            identity_headers: identity_headers(&config),
            route_plans: config
                .routes
                .iter()
                .map(|route| RoutePlan::new(route, &clusters))
                .collect(),
            clusters,
            tokens,
            config: Arc::new(config),
        })
    }

    /// Everything `build` checks, without creating any file (`portcullis check`).
    pub fn check(config: &Config) -> Result<(), ConfigError> {
        let mut issues = Vec::new();
        if let Err(e) = build_clusters(config, None) {
            issues.extend(e.issues);
        }
        if let Err(e) = crate::tokens::check_keys(&config.tokens) {
            issues.extend(e.issues);
        }
        if let Err(e) = otp::build_sender(&config.otp_delivery) {
            issues.extend(e.issues);
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { issues })
        }
    }

    /// Upstreams that have no healthy backend right now.
    pub fn unready_upstreams(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .clusters
            .values()
            .filter(|c| !c.has_healthy_backend())
            .map(|c| c.name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// The plan of `route`, one of this snapshot's routes.
    pub fn plan(&self, route: &Route) -> Cow<'_, RoutePlan> {
        match self.route_plans.get(route.index) {
            Some(plan) => Cow::Borrowed(plan),
            // Only for a route from elsewhere (never on the proxy path).
            None => Cow::Owned(RoutePlan::new(route, &self.clusters)),
        }
    }

    /// Whether any route needs token checks.
    pub fn has_protected_routes(&self) -> bool {
        self.config.routes.iter().any(|r| r.auth != AuthMode::None)
    }
}

/// Whether two config values are equal (compared as serialized).
pub(crate) fn same<T: serde::Serialize>(a: &T, b: &T) -> bool {
    serde_json::to_value(a).ok() == serde_json::to_value(b).ok()
}

/// One cluster per upstream, reusing `previous`'s where the config is unchanged.
fn build_clusters(
    config: &Config,
    previous: Option<&Snapshot>,
) -> Result<HashMap<String, Arc<Cluster>>, ConfigError> {
    let mut issues = Issues::default();
    let mut clusters = HashMap::new();
    for (name, upstream) in &config.upstreams {
        if let Some(old) = previous.and_then(|p| p.clusters.get(name)) {
            if old.same_config(upstream) {
                clusters.insert(name.clone(), old.clone());
                continue;
            }
        }
        match Cluster::new(name, upstream) {
            Ok(c) => {
                clusters.insert(name.clone(), Arc::new(c));
            }
            Err(e) => issues.push(format!("upstreams.{name}"), e.to_string()),
        }
    }
    if issues.0.is_empty() {
        Ok(clusters)
    } else {
        Err(ConfigError { issues: issues.0 })
    }
}

/// Every identity header any route may set: removed from every client
/// request so that no client can pose as a verified user.
fn identity_headers(config: &Config) -> Vec<http::HeaderName> {
    let mut names: Vec<http::HeaderName> = DEFAULT_FORWARD_CLAIMS
        .iter()
        .filter_map(|(h, _)| http::HeaderName::from_bytes(h.as_bytes()).ok())
        .collect();
    for r in &config.routes {
        for h in r.forward_claims.iter().flat_map(|fc| fc.keys()) {
            if let Ok(name) = http::HeaderName::from_bytes(h.as_bytes()) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// What lives for the whole process, across reloads: the store (changing
/// `store` or `secrets` needs a restart), the code hasher with its pepper,
/// and the clock.
#[derive(Clone)]
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub hasher: CodeHasher,
    pub clock: Arc<dyn Clock>,
}

impl Shared {
    /// Opens the store, loads (or creates, once) the code pepper, and makes
    /// the dummy password hash.
    pub async fn open(config: &Config) -> Result<Shared, ConfigError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = crate::store::open(&config.store, clock.clone())
            .await
            .map_err(|e| ConfigError::one("store", format!("cannot open the store: {e}")))?;
        let hasher = CodeHasher::from_config(&config.secrets, &*store)
            .await
            .map_err(|e| {
                ConfigError::one("secrets", format!("cannot load the code pepper: {e}"))
            })?;
        crate::auth::passwords::prepare().await;
        Ok(Shared {
            store,
            hasher,
            clock,
        })
    }
}

/// The shared handle every service holds.
pub struct Gateway {
    pub shared: Shared,
    current: ArcSwap<Snapshot>,
    /// Bumped on every swap, so background work can follow the new snapshot.
    generation: tokio::sync::watch::Sender<u64>,
}

impl Gateway {
    pub fn new(shared: Shared, snapshot: Snapshot) -> Self {
        Gateway {
            shared,
            current: ArcSwap::from_pointee(snapshot),
            generation: tokio::sync::watch::channel(0).0,
        }
    }

    /// The snapshot in force; a request keeps the one it started with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Puts a new snapshot in force. Requests in flight finish on the old one.
    pub fn swap(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
        self.generation.send_modify(|g| *g += 1);
    }

    /// Notified on every swap.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }
}
