//! The admin listener: `/healthz` (the process is alive), `/readyz` (a config
//! is loaded and every upstream has a healthy backend) and `/metrics`
//! (Prometheus text). It is meant for a private address. It serves its
//! requests itself rather than through Pingora's `ServeHttp` helper, whose
//! error lines name the request's path with its query string: a line about
//! a client that went away here names the method and the path only.

use crate::envelope::error_json;
use crate::gateway::Gateway;
use crate::metrics::METRICS;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_core::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora_core::protocols::http::ServerSession;
use pingora_core::server::ShutdownWatch;
use pingora_http::ResponseHeader;
use std::sync::Arc;

/// How long an idle admin connection is kept open between requests.
const KEEPALIVE_SECS: u64 = 60;

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

/// The request's method and path, without its query string, for a log line.
fn request_line(session: &ServerSession) -> String {
    let req = session.req_header();
    format!("{} {}", req.method, req.uri.path())
}

#[async_trait]
impl HttpServerApp for AdminApp {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        match session.read_request().await {
            Ok(true) => {}
            // The client closed, or a kept-alive connection stayed quiet
            // past its timeout, before sending a request.
            Ok(false) => return None,
            // A head that could not be read or parsed: closed unanswered.
            // Only the error's type is logged: for a head that does not
            // parse, Pingora's error carries the raw bytes (tokens, query).
            Err(e) => {
                let error = e.etype().as_str();
                tracing::debug!(error, "admin: could not read a request");
                return None;
            }
        }
        session.set_keepalive((!*shutdown.borrow()).then_some(KEEPALIVE_SECS));
        let (status, content_type, body) = if session.req_header().method == http::Method::GET {
            self.answer(session.req_header().uri.path()).await
        } else {
            (
                405,
                "application/json",
                error_json(405, "Admin paths answer GET only"),
            )
        };
        if let Err(e) = write_answer(&mut session, status, content_type, body).await {
            let request = request_line(&session);
            tracing::debug!(error = %e, %request, "admin: could not answer");
            return None;
        }
        let settings = HttpPersistentSettings::for_session(&session);
        match session.finish().await {
            Ok(stream) => stream.map(|s| ReusedHttpStream::from_reusable_stream(s, settings)),
            // The error's type only, as for a head: finishing reads what is
            // left of the request body, and a body error may quote it.
            Err(e) => {
                let error = e.etype().as_str();
                tracing::debug!(error, "admin: could not finish a request");
                None
            }
        }
    }
}

/// Writes one whole answer: head and body.
async fn write_answer(
    session: &mut ServerSession,
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
) -> pingora_error::Result<()> {
    let mut head = ResponseHeader::build(status, Some(3))?;
    head.insert_header(http::header::CONTENT_TYPE, content_type)?;
    head.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    head.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    session.write_response_header(Box::new(head)).await?;
    if !body.is_empty() {
        session.write_response_body(Bytes::from(body), true).await?;
    }
    Ok(())
}
