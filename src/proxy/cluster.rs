//! Upstream clusters: a round-robin set of backends per `upstreams.<name>`,
//! with active HTTP health checks run by pingora-load-balancing, per-cluster
//! timeouts, and selection that can skip a backend that just failed.

use crate::config::Upstream;
use crate::metrics::METRICS;
use async_trait::async_trait;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_load_balancing::health_check::{HealthObserve, HttpHealthCheck};
use pingora_load_balancing::selection::RoundRobin;
use pingora_load_balancing::{Backend, LoadBalancer};
use prometheus::Histogram;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

pub struct Cluster {
    pub name: String,
    pub lb: Arc<LoadBalancer<RoundRobin>>,
    pub config: Upstream,
    pub has_health_check: bool,
    /// `upstream_duration_seconds{upstream}`, looked up on first use.
    upstream_duration: OnceLock<Histogram>,
}

/// Keeps `portcullis_upstream_backend_healthy` in step with health checks.
struct HealthGauge {
    upstream: String,
}

#[async_trait]
impl HealthObserve for HealthGauge {
    async fn observe(&self, target: &Backend, healthy: bool) {
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
    pub fn select(&self, tried: &[SocketAddr]) -> Option<Backend> {
        let n = self.config.backends.len().max(1) * 2;
        self.lb.select_with(b"", n, |b, healthy| {
            healthy && !b.addr.as_inet().is_some_and(|a| tried.contains(a))
        })
    }

    /// Whether at least one backend passes its health check.
    pub fn has_healthy_backend(&self) -> bool {
        let backends = self.lb.backends().get_backend();
        backends.iter().any(|b| self.lb.backends().ready(b))
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
        peer
    }
}
