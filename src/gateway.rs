//! The running gateway's state: one immutable snapshot built from a config
//! (routes, upstream clusters, limits), held behind `ArcSwap` so that a reload
//! can build a whole new snapshot and swap it without stopping traffic.

use crate::config::{AuthMode, Config, ConfigError, Issues};
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
}

impl Snapshot {
    /// Builds the runtime objects of a validated config.
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        let mut issues = Issues::default();
        let mut clusters = HashMap::new();
        for (name, upstream) in &config.upstreams {
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
}

impl Gateway {
    pub fn new(snapshot: Snapshot) -> Self {
        Gateway {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The snapshot in force; a request keeps the one it started with.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}
