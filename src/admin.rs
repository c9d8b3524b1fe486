//! The admin listener: `/healthz` (the process is alive), `/readyz` (a config
//! is loaded and every upstream has a healthy backend) and `/metrics`
//! (Prometheus text). It is meant for a private address.

use crate::envelope::error_json;
use crate::gateway::Gateway;
use crate::metrics::METRICS;
use async_trait::async_trait;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use std::sync::Arc;

pub struct AdminApp {
    gateway: Arc<Gateway>,
}

impl AdminApp {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        AdminApp { gateway }
    }

    /// The status, content type and body for an admin path.
    pub async fn answer(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        match path {
            "/healthz" => (200, "application/json", br#"{"status":"alive"}"#.to_vec()),
            "/readyz" => {
                let snapshot = self.gateway.snapshot();
                let unready = snapshot.unready_upstreams();
                let store = self.gateway.shared.store.health().await;
                let ready = unready.is_empty() && store.is_ok();
                let body = serde_json::json!({
                    "ready": ready,
                    "unhealthy_upstreams": unready,
                    "store": if store.is_ok() { "ok" } else { "unavailable" },
                });
                let status = if ready { 200 } else { 503 };
                (status, "application/json", body.to_string().into_bytes())
            }
            "/metrics" => (
                200,
                "text/plain; version=0.0.4",
                METRICS.render().into_bytes(),
            ),
            _ => (
                404,
                "application/json",
                error_json(404, "Unknown admin path"),
            ),
        }
    }
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let (status, content_type, body) = if session.req_header().method == http::Method::GET {
            self.answer(&path).await
        } else {
            (
                405,
                "application/json",
                error_json(405, "Admin paths answer GET only"),
            )
        };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .header(http::header::CONTENT_LENGTH, body.len())
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(body)
            .unwrap_or_else(|_| http::Response::new(Vec::new()))
    }
}
