//! The dispatch point for requests the gateway answers itself: the auth API
//! (`/auth/v1/...`, `/user/login`). Reads the body within `limits.body_max`
//! (413 beyond) and hands the request to the `auth` module.

use super::respond;
use super::RequestCtx;
use crate::limits::{limited_headers, Decision};
use pingora_proxy::Session;

/// Whether a path belongs to the auth API rather than to a route.
pub fn is_auth_path(path: &str) -> bool {
    path == "/user/login" || path == "/auth/v1" || path.starts_with("/auth/v1/")
}

/// Reads the whole request body, refusing more than `max` bytes.
/// `Ok(None)` means the body was too large.
pub async fn read_body(session: &mut Session, max: u64) -> pingora_error::Result<Option<Vec<u8>>> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = session.read_request_body().await? {
        if (body.len() + chunk.len()) as u64 > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Answers an auth API request completely.
pub async fn serve(session: &mut Session, ctx: &mut RequestCtx) -> pingora_error::Result<()> {
    if let (Some(limiter), Some(ip)) = (&ctx.snapshot.limits.auth_per_ip, ctx.client_ip) {
        if let Decision::Limited { retry_after } = limiter.check(&ip, 1) {
            let headers = limited_headers(limiter.burst, retry_after);
            let extra: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            return respond::error(session, 429, "Too many requests", &extra, &ctx.request_id)
                .await;
        }
    }
    let max = ctx.snapshot.config.limits.body_max.bytes();
    let Some(_body) = read_body(session, max).await? else {
        session.set_keepalive(None);
        return respond::error(session, 413, "Request body too large", &[], &ctx.request_id).await;
    };
    respond::error(
        session,
        404,
        "The auth API is not available in this build",
        &[],
        &ctx.request_id,
    )
    .await
}
