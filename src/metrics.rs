//! Every Prometheus metric the gateway exports, defined in one place.
//! Label values come from config names and fixed enums only, never from
//! request input, so the number of series stays bounded.

use once_cell::sync::Lazy;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::OnceLock;

/// Buckets suited to a proxy: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

pub struct Metrics {
    pub registry: Registry,
    pub build_info: IntGaugeVec,
    pub requests_total: IntCounterVec,
    pub request_duration_seconds: HistogramVec,
    pub upstream_duration_seconds: HistogramVec,
    pub auth_decisions_total: IntCounterVec,
    pub auth_api_requests_total: IntCounterVec,
    pub token_cache_requests_total: IntCounterVec,
    pub jwks_fetches_total: IntCounterVec,
    pub rate_limited_total: IntCounterVec,
    pub requests_refused_total: IntCounterVec,
    pub otp_sent_total: IntCounterVec,
    pub account_lockouts_total: IntCounterVec,
    pub upstream_backend_healthy: IntGaugeVec,
    pub config_reloads_total: IntCounterVec,
    pub store_errors_total: IntCounterVec,
}

fn counter(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help).namespace("portcullis"), labels)
        .expect("metric definition is valid");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help).namespace("portcullis"), labels)
        .expect("metric definition is valid");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn histogram(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help)
            .namespace("portcullis")
            .buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("metric definition is valid");
    r.register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let m = Metrics {
            build_info: gauge(&r, "build_info", "Always 1; the version label says which build runs.", &["version"]),
            requests_total: counter(&r, "requests_total", "Requests answered, by route, method and status.", &["route", "method", "status"]),
            request_duration_seconds: histogram(&r, "request_duration_seconds", "Time from request to the end of the response, by route.", &["route"]),
            upstream_duration_seconds: histogram(&r, "upstream_duration_seconds", "Time spent waiting for the upstream, by upstream.", &["upstream"]),
            auth_decisions_total: counter(&r, "auth_decisions_total", "Token checks on proxied routes, by route and result (allowed, missing, invalid, expired, revoked, forbidden).", &["route", "result"]),
            auth_api_requests_total: counter(&r, "auth_api_requests_total", "Auth API answers, by endpoint, family (mobile, web, login) and code.", &["endpoint", "family", "code"]),
            token_cache_requests_total: counter(&r, "token_cache_requests_total", "Verified-token cache look-ups, by result (hit, miss).", &["result"]),
            jwks_fetches_total: counter(&r, "jwks_fetches_total", "JWKS fetches from trusted issuers, by issuer and result.", &["issuer", "result"]),
            rate_limited_total: counter(&r, "rate_limited_total", "Requests refused by a rate limit, by limit.", &["limit"]),
            requests_refused_total: counter(&r, "requests_refused_total", "Request heads refused before routing, by reason (malformed, framing, header_too_large, too_many_headers, header_timeout).", &["reason"]),
            otp_sent_total: counter(&r, "otp_sent_total", "One-time codes handed to a channel, by channel and result.", &["channel", "result"]),
            account_lockouts_total: counter(&r, "account_lockouts_total", "Accounts locked after too many wrong passwords, by brand.", &["brand"]),
            upstream_backend_healthy: gauge(&r, "upstream_backend_healthy", "1 while a backend passes its health check, 0 otherwise.", &["upstream", "backend"]),
            config_reloads_total: counter(&r, "config_reloads_total", "Config reloads, by result (ok, error).", &["result"]),
            store_errors_total: counter(&r, "store_errors_total", "Store operations that failed, by operation kind.", &["kind"]),
            registry: r,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The series one route feeds on every request, looked up by label on first
/// use and then kept, so that a request does not hash label values and take
/// the metric family's lock. Created on first use, as `with_label_values`
/// would, so no series appears before it counts something.
#[derive(Clone)]
pub struct RouteMetrics {
    label: String,
    allowed: OnceLock<IntCounter>,
    duration: OnceLock<Histogram>,
}

impl RouteMetrics {
    /// For the route labelled `label` (`Route::label`).
    pub fn new(label: &str) -> Self {
        RouteMetrics {
            label: label.to_string(),
            allowed: OnceLock::new(),
            duration: OnceLock::new(),
        }
    }

    /// `auth_decisions_total{route, result="allowed"}`.
    pub fn allowed(&self) -> &IntCounter {
        self.allowed.get_or_init(|| {
            METRICS
                .auth_decisions_total
                .with_label_values(&[self.label.as_str(), "allowed"])
        })
    }

    /// `request_duration_seconds{route}`.
    pub fn duration(&self) -> &Histogram {
        self.duration.get_or_init(|| {
            METRICS
                .request_duration_seconds
                .with_label_values(&[self.label.as_str()])
        })
    }
}

/// The process-wide metrics.
pub static METRICS: Lazy<Metrics> = Lazy::new(Metrics::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_is_exported_with_the_crate_version() {
        let text = METRICS.render();
        assert!(text.contains(&format!(
            "portcullis_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )));
    }
}
