//! Identity headers on the upstream request: the verified claims a route
//! forwards (its `forward_claims`, else X-Auth-User-Id/Brand/Device-Id/Role),
//! and the credential itself removed when the route says `forward_token:
//! false`. Client-sent copies of these headers were removed before.

use super::credentials::X_API_KEY;
use super::header_edit::HeaderEdit;
use crate::config::Route;
use crate::gateway::DEFAULT_FORWARD_CLAIMS;
use crate::tokens::Identity;
use http::{HeaderName, HeaderValue};
use std::sync::OnceLock;

/// The identity headers a route sets, as (name, claim): its
/// `forward_claims`, else the defaults. Built once per config snapshot.
/// Names were checked with the config; one that is no header name sets nothing.
pub fn forwarded(route: &Route) -> Vec<(HeaderName, String)> {
    match &route.forward_claims {
        Some(map) => map
            .iter()
            .filter_map(|(header, claim)| Some((header_name(header)?, claim.clone())))
            .collect(),
        None => DEFAULT_FORWARD_CLAIMS
            .iter()
            .filter_map(|(header, claim)| Some((header_name(header)?, claim.to_string())))
            .collect(),
    }
}

/// Where a route's credential can travel, removed from the upstream request
/// when the route does not forward it: Authorization, X-Api-Key and the
/// route's `token_headers`.
pub fn credential_headers(route: &Route) -> Vec<HeaderName> {
    let mut names = vec![
        http::header::AUTHORIZATION,
        HeaderName::from_static(X_API_KEY),
    ];
    names.extend(route.token_headers.iter().filter_map(|h| header_name(h)));
    names
}

/// A configured name (any case; `HeaderName` keeps names lower case).
fn header_name(text: &str) -> Option<HeaderName> {
    HeaderName::from_bytes(text.as_bytes()).ok()
}

/// Removes the client's own copies of any identity header (`names`: every
/// one any route sets), so that no client can pose as a verified user.
/// One pass over the request's names finds them; most requests carry none.
pub fn remove_client_copies(upstream: &mut impl HeaderEdit, names: &[HeaderName]) {
    let sent: Vec<HeaderName> = upstream
        .headers()
        .keys()
        .filter(|name| names.contains(name))
        .cloned()
        .collect();
    for name in &sent {
        upstream.unset(name);
    }
}

/// Sets `forwarded` (the route's `forwarded` list) from `identity` and,
/// unless the route forwards the credential, removes it.
pub fn add(
    upstream: &mut impl HeaderEdit,
    route: &Route,
    forwarded: &[(HeaderName, String)],
    credential_headers: &[HeaderName],
    identity: &Identity,
) {
    for (header, claim) in forwarded {
        // A claim that cannot be a header value (control characters) is left out.
        if let Some(value) = claim_value(identity, claim) {
            upstream.set(header, value);
        }
    }
    if !route.forward_token {
        for h in credential_headers {
            upstream.unset(h);
        }
    }
}

/// The value of `claim` for this identity, as a header value. The names of
/// this gateway's own claims (`uid`, `org`, `dev`, `rol`) read the verified
/// identity (an empty field forwards nothing), so that a trusted issuer's
/// token forwards its subject as `uid` too; they are made into header values
/// once per identity, since a cached identity serves many requests. Any
/// other name reads the raw claim.
fn claim_value(identity: &Identity, claim: &str) -> Option<HeaderValue> {
    let once = |cell: &OnceLock<Option<HeaderValue>>, text: Option<&str>| {
        let made = || HeaderValue::from_str(text.filter(|t| !t.is_empty())?).ok();
        cell.get_or_init(made).clone()
    };
    let made = &identity.header_values;
    match claim {
        "uid" => once(&made.uid, Some(identity.uid())),
        "org" => once(&made.brand, Some(identity.brand())),
        "dev" => once(&made.device, identity.device()),
        "rol" => once(&made.role, Some(&identity.role)),
        other => HeaderValue::from_str(&identity.claim_str(other)?).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora_http::RequestHeader;

    #[test]
    fn client_copies_of_identity_headers_are_removed_and_nothing_else() {
        let names = [
            http::HeaderName::from_static("x-auth-user-id"),
            http::HeaderName::from_static("x-auth-brand"),
        ];
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("X-Auth-User-Id", "u-forged").unwrap();
        req.append_header("X-Auth-User-Id", "u-forged-2").unwrap();
        req.insert_header("Accept", "*/*").unwrap();
        remove_client_copies(&mut req, &names);
        assert!(req.headers.get("x-auth-user-id").is_none());
        assert_eq!(req.headers.get("accept").unwrap(), "*/*");
        assert_eq!(req.headers.len(), 1);
    }
}
