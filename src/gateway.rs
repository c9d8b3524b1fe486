//! The running gateway's state: one immutable snapshot built from a config
//! (routes, upstream clusters, limits), held behind `ArcSwap` so that a reload
//! can build a whole new snapshot and swap it without stopping traffic.

use crate::config::{AuthMode, Config, ConfigError, Issues};
use crate::limits::RateLimits;
use crate::proxy::cluster::Cluster;
use crate::proxy::router::Router;
use arc_swap::ArcSwap;
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
    pub clusters: HashMap<String, Arc<Cluster>>,
    /// Every identity header any route may set: removed from every client
    /// request so that no client can pose as a verified user.
    pub identity_headers: Vec<http::HeaderName>,
    pub limits: RateLimits,
}

impl Snapshot {
    /// Builds the runtime objects of a validated config.
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        Self::build_after(config, None)
    }

    /// Like `build`, reusing the clusters of `previous` whose config did not
    /// change, so that a reload keeps their health state and connections.
    pub fn build_after(config: Config, previous: Option<&Snapshot>) -> Result<Self, ConfigError> {
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
        let mut identity_headers: Vec<http::HeaderName> = DEFAULT_FORWARD_CLAIMS
            .iter()
            .filter_map(|(h, _)| http::HeaderName::from_bytes(h.as_bytes()).ok())
            .collect();
        for r in &config.routes {
            if let Some(fc) = &r.forward_claims {
                for h in fc.keys() {
                    if let Ok(name) = http::HeaderName::from_bytes(h.as_bytes()) {
                        if !identity_headers.contains(&name) {
                            identity_headers.push(name);
                        }
                    }
                }
            }
        }
        if !issues.0.is_empty() {
            return Err(ConfigError { issues: issues.0 });
        }
        Ok(Snapshot {
            limits: RateLimits::from_config(&config),
            router: Router::new(&config.routes),
            clusters,
            identity_headers,
            config: Arc::new(config),
        })
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

    /// Whether any route needs token checks.
    pub fn has_protected_routes(&self) -> bool {
        self.config.routes.iter().any(|r| r.auth != AuthMode::None)
    }
}

/// The shared handle every service holds.
pub struct Gateway {
    current: ArcSwap<Snapshot>,
    /// Bumped on every swap, so background work can follow the new snapshot.
    generation: tokio::sync::watch::Sender<u64>,
}

impl Gateway {
    pub fn new(snapshot: Snapshot) -> Self {
        Gateway {
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
