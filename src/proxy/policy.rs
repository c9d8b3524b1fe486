//! Route policy: what a request must carry to pass a route. Finds the
//! credential, verifies it (cached), checks role, device binding and the
//! subject's rate limit, and says why when it refuses: 401 with a Bearer
//! challenge for a missing or bad token, 403 for a good token that is not
//! allowed here, 429 over the subject's limit, 503 when a check cannot be
//! made.

use super::credentials::{self, Credential};
use crate::config::{AuthMode, Route};
use crate::limits::{subject_key, Decision, KeyedLimiter};
use crate::tokens::{Identity, TokenService, VerifyError};
use std::sync::Arc;
use std::time::Duration;

/// Why a request was refused, ready for the wire and for metrics.
#[derive(Debug)]
pub struct Denied {
    pub status: u16,
    pub message: &'static str,
    pub www_authenticate: Option<&'static str>,
    /// `auth_decisions_total` result label; `None` when no token decision was made.
    pub result: Option<&'static str>,
    /// Set for 429s.
    pub retry_after: Option<(u32, Duration)>,
}

const CHALLENGE: &str = "Bearer";
const CHALLENGE_INVALID: &str = "Bearer error=\"invalid_token\"";

fn unauthorized(message: &'static str, presented: bool, result: &'static str) -> Denied {
    Denied {
        status: 401,
        message,
        www_authenticate: Some(if presented {
            CHALLENGE_INVALID
        } else {
            CHALLENGE
        }),
        result: Some(result),
        retry_after: None,
    }
}

fn forbidden(message: &'static str) -> Denied {
    Denied {
        status: 403,
        message,
        www_authenticate: None,
        result: Some("forbidden"),
        retry_after: None,
    }
}

fn rejected(e: &VerifyError) -> Denied {
    match e {
        VerifyError::Expired => unauthorized("Token has expired", true, "expired"),
        VerifyError::Revoked => unauthorized("Token has been revoked", true, "revoked"),
        VerifyError::Unavailable(_) => Denied {
            status: 503,
            message: "Token cannot be checked right now",
            www_authenticate: None,
            result: Some("unavailable"),
            retry_after: None,
        },
        VerifyError::Missing => unauthorized("A bearer token is required", false, "missing"),
        VerifyError::Malformed(_) | VerifyError::Invalid(_) => {
            unauthorized("Token is not valid", true, "invalid")
        }
    }
}

/// Roles a route accepts when it names none.
const DEFAULT_ROLES: &[&str] = &["USER"];

fn role_allowed(route: &Route, identity: &Identity, via_api_key: bool) -> bool {
    if via_api_key {
        return identity.has_role("AUTH");
    }
    match &route.roles {
        Some(roles) => roles.iter().any(|r| identity.has_role(r)),
        None => DEFAULT_ROLES.iter().any(|r| identity.has_role(r)),
    }
}

/// Decides whether a request passes `route`; on success, the verified
/// identity when a credential was checked.
pub async fn admit(
    route: &Route,
    headers: &http::HeaderMap,
    tokens: &TokenService,
    cookie_name: Option<&str>,
    subject_limit: Option<&Arc<KeyedLimiter<u64>>>,
) -> Result<Option<Arc<Identity>>, Denied> {
    if route.auth == AuthMode::None {
        return Ok(None);
    }
    let credential = credentials::find(headers, route, cookie_name);
    let (identity, via_api_key) = match credential {
        None if route.auth == AuthMode::Optional => return Ok(None),
        None => {
            let presented = credentials::presented_something(headers, route);
            return Err(unauthorized(
                if presented {
                    "Token is not valid"
                } else {
                    "A bearer token is required"
                },
                presented,
                if presented { "invalid" } else { "missing" },
            ));
        }
        Some(Credential::Token(t)) => (tokens.verify(t).await.map_err(|e| rejected(&e))?, false),
        Some(Credential::ApiKey(k)) => (
            tokens
                .verify_key(k)
                .await
                .map(Arc::new)
                .map_err(|e| rejected(&e))?,
            true,
        ),
    };
    if !role_allowed(route, &identity, via_api_key) {
        return Err(forbidden("This token's role is not allowed on this route"));
    }
    if let Some(h) = &route.device_header {
        let sent = headers
            .get(h.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if sent.is_none() || sent != identity.device() {
            return Err(forbidden("This token is bound to another device"));
        }
    }
    if let Some(limiter) = subject_limit {
        let key = subject_key(identity.issuer, identity.uid());
        if let Decision::Limited { retry_after } = limiter.check(&key, 1) {
            return Err(Denied {
                status: 429,
                message: "Too many requests",
                www_authenticate: None,
                result: None,
                retry_after: Some((limiter.burst, retry_after)),
            });
        }
    }
    Ok(Some(identity))
}
