//! Upstream clusters: a round-robin set of backends per `upstreams.<name>`,
//! with active HTTP health checks run by pingora-load-balancing, per-cluster
//! timeouts, and selection that can skip a backend that just failed.

use crate::config::Upstream;
use crate::metrics::METRICS;
use async_trait::async_trait;
use pingora_core::upstreams::peer::{HttpPeer, HttpUpstreamRequestPolicy};
use pingora_load_balancing::health_check::{HealthObserve, HttpHealthCheck};
use pingora_load_balancing::selection::RoundRobin;
use pingora_load_balancing::{Backend, LoadBalancer};
use prometheus::Histogram;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub struct Cluster {
    pub name: String,
    /// Runs the health checks (a background service, `server.rs`).
    pub lb: Arc<LoadBalancer<RoundRobin>>,
    pub config: Upstream,
    pub has_health_check: bool,
    /// The backends, in the load balancer's order, and whether each passes
    /// its health check as the checks last said.
    backends: Arc<BackendHealth>,
    /// The round-robin position.
    next: AtomicUsize,
    /// `upstream_duration_seconds{upstream}`, looked up on first use.
    upstream_duration: OnceLock<Histogram>,
}

/// Each backend beside a flag the health checks keep: choosing a backend
/// reads flags instead of hashing each candidate into the load balancer's
/// health table (several SipHash rounds and a set per request).
struct BackendHealth {
    backends: Vec<Backend>,
    healthy: Vec<AtomicBool>,
}

impl BackendHealth {
    fn set(&self, target: &Backend, healthy: bool) {
        if let Some(i) = self.backends.iter().position(|b| b == target) {
            self.healthy[i].store(healthy, Ordering::Relaxed);
        }
    }
}

/// Keeps `portcullis_upstream_backend_healthy` and the cluster's health
/// flags in step with the health checks.
struct HealthGauge {
    upstream: String,
    backends: Arc<BackendHealth>,
}

#[async_trait]
impl HealthObserve for HealthGauge {
    async fn observe(&self, target: &Backend, healthy: bool) {
        self.backends.set(target, healthy);
        METRICS
            .upstream_backend_healthy
            .with_label_values(&[self.upstream.as_str(), &target.addr.to_string()])
            .set(i64::from(healthy));
    }
}

impl Cluster {
    pub fn new(name: &str, config: &Upstream) -> std::io::Result<Self> {
        let mut lb =
            LoadBalancer::<RoundRobin>::try_from_iter(config.backends.iter().map(String::as_str))?;
        // Every backend starts healthy, as in the load balancer's own table.
        let listed: Vec<Backend> = lb.backends().get_backend().iter().cloned().collect();
        let backends = Arc::new(BackendHealth {
            healthy: listed.iter().map(|_| AtomicBool::new(true)).collect(),
            backends: listed,
        });
        for b in &config.backends {
            METRICS
                .upstream_backend_healthy
                .with_label_values(&[name, b.as_str()])
                .set(1);
        }
        if let Some(hc) = &config.health_check {
            let host = hc
                .host
                .clone()
                .unwrap_or_else(|| config.backends.first().cloned().unwrap_or_default());
            let mut check = HttpHealthCheck::new(&host, config.tls_sni.is_some());
            if let Some(sni) = &config.tls_sni {
                check.peer_template.sni = sni.clone();
            }
            check.req.set_uri(hc.path.parse().map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}"))
            })?);
            check.consecutive_success = hc.consecutive_success;
            check.consecutive_failure = hc.consecutive_failure;
            check.peer_template.options.connection_timeout = Some(config.timeouts.connect.get());
            check.peer_template.options.read_timeout = Some(
                config
                    .timeouts
                    .connect
                    .get()
                    .max(std::time::Duration::from_secs(1)),
            );
            check.validator = Some(Box::new(|resp| {
                if resp.status.is_success() {
                    Ok(())
                } else {
                    pingora_error::Error::e_explain(
                        pingora_error::ErrorType::CustomCode(
                            "health check status",
                            resp.status.as_u16(),
                        ),
                        "non-2xx health check answer",
                    )
                }
            }));
            check.health_changed_callback = Some(Box::new(HealthGauge {
                upstream: name.to_string(),
                backends: backends.clone(),
            }));
            lb.set_health_check(Box::new(check));
            lb.health_check_frequency = Some(hc.interval.get());
            lb.parallel_health_check = true;
        }
        Ok(Cluster {
            name: name.to_string(),
            lb: Arc::new(lb),
            config: config.clone(),
            has_health_check: config.health_check.is_some(),
            backends,
            next: AtomicUsize::new(0),
            upstream_duration: OnceLock::new(),
        })
    }

    /// `upstream_duration_seconds{upstream}` of this cluster.
    pub fn upstream_duration(&self) -> &Histogram {
        self.upstream_duration.get_or_init(|| {
            METRICS
                .upstream_duration_seconds
                .with_label_values(&[self.name.as_str()])
        })
    }

    /// Whether this cluster was built from exactly this config.
    pub fn same_config(&self, config: &Upstream) -> bool {
        crate::gateway::same(&self.config, config)
    }

    /// A healthy backend other than those in `tried`, round robin.
    pub fn select(&self, tried: &[SocketAddr]) -> Option<&Backend> {
        let BackendHealth { backends, healthy } = &*self.backends;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..backends.len())
            .map(|i| (start + i) % backends.len())
            .find(|&i| {
                healthy[i].load(Ordering::Relaxed)
                    && !backends[i]
                        .addr
                        .as_inet()
                        .is_some_and(|a| tried.contains(a))
            })
            .map(|i| &backends[i])
    }

    /// Whether at least one backend passes its health check.
    pub fn has_healthy_backend(&self) -> bool {
        self.backends
            .healthy
            .iter()
            .any(|h| h.load(Ordering::Relaxed))
    }

    /// The peer Pingora connects to, with this cluster's timeouts.
    pub fn peer(&self, backend: &Backend) -> HttpPeer {
        let tls = self.config.tls_sni.is_some();
        let sni = self.config.tls_sni.clone().unwrap_or_default();
        let mut peer = HttpPeer::new(backend.addr.clone(), tls, sni);
        let t = &self.config.timeouts;
        peer.options.connection_timeout = Some(t.connect.get());
        peer.options.read_timeout = Some(t.read.get());
        peer.options.write_timeout = Some(t.write.get());
        peer.options.idle_timeout = Some(t.idle.get());
        // The upstream request filter removes hop-by-hop headers and all
        // upgrades but WebSocket (`forwarding::strip_hop_by_hop`); Pingora's
        // default policy would do the same work once more before it.
        peer.options.http_upstream_request_policy = HttpUpstreamRequestPolicy::preserve();
        peer
    }
}
