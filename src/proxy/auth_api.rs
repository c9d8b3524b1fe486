//! The dispatch point for requests the gateway answers itself: the auth API
//! (`/auth/v1/...`, `/user/login`). Reads the body within `limits.body_max`
//! (413 beyond) and `limits.body_read_timeout` (408 beyond), applies the auth
//! rate limits (per client IP and per identifier, one token per batch item,
//! shared across instances when configured), hands the request to the `auth`
//! module and writes its answer.

use super::respond;
use super::RequestCtx;
use crate::auth::ApiRequest;
use crate::limits::{limited_headers, Decision};
use bytes::Bytes;
use pingora_http::ResponseHeader;
use pingora_proxy::Session;
use std::time::Duration;

pub use crate::auth::is_auth_api_path as is_auth_path;

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
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(max) as usize);
    while let Some(chunk) = session.read_request_body().await? {
        if (body.len() + chunk.len()) as u64 > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The items of a body for rate limiting: how many, and the identifier key
/// (`BRAND|TYPE|value`, normalised; `LOGIN|EMAIL|value` for the `emailId`
/// of /user/login) of each that names one. A body that is
/// not JSON counts as one item with no identifier; the auth module rejects it.
pub fn rate_items(body: &[u8]) -> (u32, Vec<String>) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (1, Vec::new());
    };
    let items: Vec<&serde_json::Value> = match &value {
        serde_json::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let keys = items
        .iter()
        .filter_map(|item| {
            let field = |name: &str| item.get(name).and_then(|v| v.as_str()).map(str::trim);
            if let (None, Some(email)) = (field("identifierType"), field("emailId")) {
                // /user/login names its account by `emailId` alone.
                return Some(format!("LOGIN|EMAIL|{}", email.to_lowercase()));
            }
            let kind = field("identifierType")?;
            let value = field("identifierValue")?;
            let brand = field("brand").unwrap_or("");
            let value = value.trim_start_matches('+').to_lowercase();
            Some(format!(
                "{}|{}|{}",
                brand.to_uppercase(),
                kind.to_uppercase(),
                value
            ))
        })
        .collect();
    (u32::try_from(items.len().max(1)).unwrap_or(u32::MAX), keys)
}

/// The first limit this request is over, as (limit, wait).
/// The limits are this instance's own, or shared through the store.
async fn over_limit(ctx: &RequestCtx, body: &[u8]) -> Option<(u32, Duration)> {
    let limits = &ctx.snapshot.limits;
    let (count, identifiers) = rate_items(body);
    if let (Some(limiter), Some(ip)) = (&limits.auth_per_ip, ctx.client_ip) {
        if let Decision::Limited { retry_after } = limiter.check(&ip, count).await {
            return Some((limiter.burst(), retry_after));
        }
    }
    if let Some(limiter) = &limits.auth_per_identifier {
        for key in &identifiers {
            if let Decision::Limited { retry_after } = limiter.check(key, 1).await {
                return Some((limiter.burst(), retry_after));
            }
        }
    }
    None
}

/// Answers an auth API request completely.
pub async fn serve(session: &mut Session, ctx: &mut RequestCtx) -> pingora_error::Result<()> {
    let limits = &ctx.snapshot.config.limits;
    let (max, deadline) = (limits.body_max.bytes(), limits.body_read_timeout.get());
    let body = match tokio::time::timeout(deadline, read_body(session, max)).await {
        Ok(Ok(Some(body))) => body,
        Ok(Ok(None)) => {
            session.set_keepalive(None);
            return respond::error(session, 413, "Request body too large", &[], &ctx.request_id)
                .await;
        }
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            session.set_keepalive(None);
            return respond::error(
                session,
                408,
                "Request body not received in time",
                &[],
                &ctx.request_id,
            )
            .await;
        }
    };
    if let Some((limit, retry_after)) = over_limit(ctx, &body).await {
        let headers = limited_headers(limit, retry_after);
        let extra: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        return respond::error(session, 429, "Too many requests", &extra, &ctx.request_id).await;
    }
    let req = session.req_header();
    let text = |name: http::header::HeaderName| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request = ApiRequest {
        method: req.method.clone(),
        path: req.uri.path().to_string(),
        content_type: text(http::header::CONTENT_TYPE),
        authorization: text(http::header::AUTHORIZATION),
        client_ip: ctx.client_ip,
        body: Bytes::from(body),
    };
    let answer = ctx.snapshot.auth.handle(request).await;

    let mut resp = ResponseHeader::build(answer.status, Some(4 + answer.headers.len()))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, answer.body.len().to_string())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    ctx.request_id.set_on(&mut resp);
    for (k, v) in &answer.headers {
        resp.insert_header(k.clone(), v.as_str())?;
    }
    session.write_response_header(Box::new(resp), false).await?;
    session
        .write_response_body(Some(Bytes::from(answer.body)), true)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_item_counts_and_names_its_identifier() {
        let (n, keys) = rate_items(
            br#"[{"brand":"demo","identifierType":"MOBILE","identifierValue":"+4912345678"},
                 {"brand":"DEMO","identifierType":"email","identifierValue":"A@Example.com"},
                 {"nothing":"here"}]"#,
        );
        assert_eq!(n, 3);
        assert_eq!(
            keys,
            vec!["DEMO|MOBILE|4912345678", "DEMO|EMAIL|a@example.com"]
        );
        assert_eq!(rate_items(b"not json"), (1, vec![]));
        assert_eq!(
            rate_items(br#"{"emailId":" Ann@Example.com","password":"x"}"#),
            (1, vec!["LOGIN|EMAIL|ann@example.com".to_string()])
        );
        assert_eq!(rate_items(b"[]").0, 1);
    }
}
