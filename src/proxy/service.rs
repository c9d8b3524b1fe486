//! The Pingora `ProxyHttp` implementation: each phase of a request, top to
//! bottom. Framing checks, the auth API dispatch, routing and route policy in
//! `request_filter`; backend choice and retry in `upstream_peer` and
//! `fail_to_connect`; headers on the way up; JSON errors; metrics and the
//! access log at the end.

use super::cluster::Cluster;
use super::forwarding;
use super::header_edit::{self, HeaderEdit};
use super::policy;
use super::request_id::RequestId;
use super::respond;
use super::router::{host_name, RouteMatch};
use super::{auth_api, body_deadline, identity_headers};
use crate::config::Route;
use crate::gateway::{Gateway, Snapshot};
use crate::limits::limited_headers;
use crate::metrics::METRICS;
use crate::tokens::Identity;
use async_trait::async_trait;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorSource, ErrorType};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use smallvec::SmallVec;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Where the public halves of the signing keys are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub struct Proxy {
    gateway: Arc<Gateway>,
}

impl Proxy {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Proxy { gateway }
    }
}

/// What one request carries from phase to phase.
pub struct RequestCtx {
    pub started: Instant,
    pub snapshot: Arc<Snapshot>,
    pub request_id: RequestId,
    pub peer: Option<IpAddr>,
    pub peer_trusted: bool,
    pub client_ip: Option<IpAddr>,
    pub route: Option<Arc<Route>>,
    pub cluster: Option<Arc<Cluster>>,
    /// Backends already tried for this request.
    pub tried: SmallVec<[SocketAddr; 2]>,
    pub upstream_started: Option<Instant>,
    /// Label for metrics when no route applies (`auth_api`, `jwks`, `none`).
    pub label: &'static str,
    /// Who the verified credential speaks for, on routes that checked one.
    pub identity: Option<Arc<Identity>>,
    /// When a proxied request's body must have arrived.
    pub body_deadline: Option<Instant>,
}

/// Headers the gateway may add to a proxied request: X-Forwarded-For,
/// X-Forwarded-Proto, X-Request-Id and the default identity headers.
const UPSTREAM_ADDITIONS: usize = 7;

/// The upstream request's headers: hop-by-hop ones and client copies of
/// identity headers removed, the verified identity, forwarding headers and
/// the request id added.
fn edit_upstream_request(
    upstream: &mut impl HeaderEdit,
    ctx: &RequestCtx,
    downstream_is_http11: bool,
) {
    forwarding::strip_hop_by_hop(upstream, downstream_is_http11);
    identity_headers::remove_client_copies(upstream, &ctx.snapshot.identity_headers);
    if let (Some(identity), Some(route)) = (&ctx.identity, &ctx.route) {
        let plan = ctx.snapshot.plan(route);
        identity_headers::add(
            upstream,
            route,
            &plan.forwarded,
            &plan.credential_headers,
            identity,
        );
    }
    if ctx.snapshot.config.server.forwarded_headers {
        forwarding::add_forwarded(upstream, ctx.peer, ctx.peer_trusted);
    } else {
        forwarding::remove_untrusted_forwarded(upstream, ctx.peer_trusted);
    }
    forwarding::set_request_id(upstream, &ctx.request_id);
}

/// The host a request names: its Host header, else its absolute-form URI's.
fn request_host(req: &RequestHeader) -> Option<&str> {
    req.headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri.host())
}

/// Standard methods keep their name in metrics; anything else is `OTHER`.
fn method_label(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[async_trait]
impl ProxyHttp for Proxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            snapshot: self.gateway.snapshot(),
            request_id: RequestId::none(),
            peer: None,
            peer_trusted: false,
            client_ip: None,
            route: None,
            cluster: None,
            tried: SmallVec::new(),
            upstream_started: None,
            label: "none",
            identity: None,
            body_deadline: None,
        }
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<bool> {
        let cfg = ctx.snapshot.config.clone();
        ctx.peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let trusted = &cfg.limits.trusted_proxies;
        ctx.peer_trusted = forwarding::is_trusted(ctx.peer, trusted);
        let req = session.req_header();
        let xff = req
            .headers
            .get(forwarding::X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok());
        ctx.client_ip = forwarding::client_ip(ctx.peer, xff, trusted);
        ctx.request_id = RequestId::for_request(
            req.headers.get(forwarding::X_REQUEST_ID),
            ctx.peer_trusted,
            cfg.server.request_ids,
        );
        session.set_keepalive(Some(cfg.server.keepalive_timeout.get().as_secs()));

        let req = session.req_header();
        let path = req.uri.path();
        if path == JWKS_PATH {
            ctx.label = "jwks";
            let jwks = ctx.snapshot.tokens.jwks_json().to_vec();
            respond::json(
                session,
                200,
                jwks,
                &[("cache-control", "public, max-age=300")],
                &ctx.request_id,
            )
            .await?;
            return Ok(true);
        }
        if auth_api::is_auth_path(path) {
            ctx.label = "auth_api";
            auth_api::serve(session, ctx).await?;
            return Ok(true);
        }

        let host = request_host(req).map(host_name);
        let found = match ctx.snapshot.router.find(host, path, &req.method) {
            RouteMatch::Found(route) => route.clone(),
            RouteMatch::MethodNotAllowed => {
                respond::error(
                    session,
                    405,
                    "Method not allowed on this route",
                    &[],
                    &ctx.request_id,
                )
                .await?;
                return Ok(true);
            }
            RouteMatch::NotFound => {
                respond::error(
                    session,
                    404,
                    "No route for this request",
                    &[],
                    &ctx.request_id,
                )
                .await?;
                return Ok(true);
            }
        };
        let snapshot = ctx.snapshot.clone();
        ctx.cluster = snapshot.plan(&found).cluster.clone();
        ctx.route = Some(found.clone());
        let admitted = policy::admit(
            &found,
            &session.req_header().headers,
            &snapshot.tokens,
            snapshot.config.tokens.cookie.as_deref(),
            snapshot.limits.for_route(found.index),
        )
        .await;
        match admitted {
            Ok(identity) => {
                if identity.is_some() {
                    snapshot.plan(&found).metrics.allowed().inc();
                }
                ctx.identity = identity;
                ctx.body_deadline = body_deadline::start(
                    session,
                    snapshot.config.limits.proxy_body_read_timeout.get(),
                );
                Ok(false)
            }
            Err(denied) => {
                if let Some(result) = denied.result {
                    METRICS
                        .auth_decisions_total
                        .with_label_values(&[found.label(), result])
                        .inc();
                }
                let mut extra: Vec<(&str, String)> = Vec::new();
                if let Some(challenge) = denied.www_authenticate {
                    extra.push(("www-authenticate", challenge.to_string()));
                }
                if let Some((limit, retry_after)) = denied.retry_after {
                    extra.extend(limited_headers(limit, retry_after));
                }
                let extra: Vec<(&str, &str)> =
                    extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
                respond::error(
                    session,
                    denied.status,
                    denied.message,
                    &extra,
                    &ctx.request_id,
                )
                .await?;
                Ok(true)
            }
        }
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        _body: &mut Option<bytes::Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        if end_of_stream {
            return Ok(());
        }
        body_deadline::next_read(session, ctx.body_deadline)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<Box<HttpPeer>> {
        let Some(cluster) = ctx.cluster.clone() else {
            return Error::e_explain(ErrorType::HTTPStatus(503), "route names no known upstream");
        };
        let Some(backend) = cluster.select(&ctx.tried) else {
            return Error::e_explain(ErrorType::HTTPStatus(503), "no healthy backend");
        };
        if let Some(addr) = backend.addr.as_inet() {
            ctx.tried.push(*addr);
        }
        ctx.upstream_started = Some(Instant::now());
        Ok(Box::new(cluster.peer(backend)))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        // One retry, on another backend, when the connection could not be made.
        let backends = ctx.cluster.as_ref().map_or(0, |c| c.config.backends.len());
        if ctx.tried.len() < 2 && backends > ctx.tried.len() {
            e.set_retry(true);
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        let http11 = session.req_header().version == http::Version::HTTP_11;
        if ctx.snapshot.config.server.preserve_header_case {
            edit_upstream_request(upstream, ctx, http11);
        } else {
            header_edit::plain_request(upstream, UPSTREAM_ADDITIONS, |headers| {
                edit_upstream_request(headers, ctx, http11)
            });
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        if let (Some(started), Some(cluster)) = (ctx.upstream_started, &ctx.cluster) {
            cluster
                .upstream_duration()
                .observe(started.elapsed().as_secs_f64());
        }
        if ctx.request_id.is_empty() {
            // Nothing to add: the head stays as the upstream wrote it.
        } else if ctx.snapshot.config.server.preserve_header_case {
            ctx.request_id.set_on(upstream_response);
        } else {
            header_edit::plain_response(upstream_response, 1, |headers| {
                ctx.request_id.set_on(headers)
            });
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let (status, message) = respond::failure_status(e);
        if status > 0 && session.response_written().is_none() {
            if let Err(write_err) =
                respond::error(session, status, message, &[], &ctx.request_id).await
            {
                tracing::debug!(error = %write_err, "could not write the error response");
            }
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    /// A client that goes away, resets, or is too slow is the client's doing,
    /// not the gateway's: no error line for it (a flood of aborted requests
    /// would otherwise be a flood of error lines). The access log still has
    /// the request, with its error type.
    fn suppress_error_log(&self, _session: &Session, _ctx: &RequestCtx, error: &Error) -> bool {
        error.esource() == &ErrorSource::Downstream
    }

    /// What Pingora's own error and retry lines say about the request
    /// ("Fail to proxy: ..."): the method, the path without its query string
    /// (which can carry codes and keys) and the host, as the access log has.
    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        let req = session.req_header();
        let host = request_host(req).unwrap_or("-");
        format!(
            "{} {}, Host: {host}, request id: {}",
            req.method,
            req.uri.path(),
            ctx.request_id
        )
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let route = ctx.route.as_ref().map_or(ctx.label, |r| r.label());
        let method = method_label(&session.req_header().method);
        let elapsed = ctx.started.elapsed();
        let mut status_buf = itoa::Buffer::new();
        METRICS
            .requests_total
            .with_label_values(&[route, method, status_buf.format(status)])
            .inc();
        let seconds = elapsed.as_secs_f64();
        match &ctx.route {
            Some(r) => ctx.snapshot.plan(r).metrics.duration().observe(seconds),
            None => METRICS
                .request_duration_seconds
                .with_label_values(&[route])
                .observe(seconds),
        }
        if ctx.snapshot.config.server.access_log {
            let subject = ctx.identity.as_ref().map_or("", |i| i.uid());
            tracing::info!(
                target: "access",
                request_id = %ctx.request_id,
                client = ?ctx.client_ip,
                method = %session.req_header().method,
                path = %session.req_header().uri.path(),
                route,
                status,
                upstream = ctx.cluster.as_ref().map_or("", |c| c.name.as_str()),
                backend = ?ctx.tried.last(),
                subject,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                error = e.map(|e| e.etype().as_str()),
            );
        }
    }
}
