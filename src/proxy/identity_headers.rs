//! Identity headers on the upstream request: the verified claims a route
//! forwards (its `forward_claims`, else X-Auth-User-Id/Brand/Device-Id/Role),
//! and the credential itself removed when the route says `forward_token:
//! false`. Client-sent copies of these headers were removed before.

use super::credentials::X_API_KEY;
use crate::config::Route;
use crate::gateway::DEFAULT_FORWARD_CLAIMS;
use crate::tokens::Identity;
use bytes::Bytes;
use pingora_http::RequestHeader;
use std::borrow::Cow;

/// The identity headers a route sets, as (lower-case name, claim): its
/// `forward_claims`, else the defaults. Built once per config snapshot.
pub fn forwarded(route: &Route) -> Vec<(Bytes, String)> {
    match &route.forward_claims {
        Some(map) => map
            .iter()
            .map(|(header, claim)| (Bytes::from(header.to_ascii_lowercase()), claim.clone()))
            .collect(),
        None => DEFAULT_FORWARD_CLAIMS
            .iter()
            .map(|(header, claim)| (Bytes::from_static(header.as_bytes()), claim.to_string()))
            .collect(),
    }
}

/// Removes the client's own copies of any identity header (`names`: every
/// one any route sets), so that no client can pose as a verified user.
/// One pass over the request's names finds them; most requests carry none.
pub fn remove_client_copies(upstream: &mut RequestHeader, names: &[http::HeaderName]) {
    let sent: Vec<http::HeaderName> = upstream
        .headers
        .keys()
        .filter(|name| names.contains(name))
        .cloned()
        .collect();
    for name in &sent {
        upstream.remove_header(name);
    }
}

/// Sets `forwarded` (the route's `forwarded` list) from `identity`.
pub fn add(
    upstream: &mut RequestHeader,
    route: &Route,
    forwarded: &[(Bytes, String)],
    identity: &Identity,
) {
    for (header, claim) in forwarded {
        set(upstream, header, identity, claim);
    }
    if !route.forward_token {
        upstream.remove_header(&http::header::AUTHORIZATION);
        upstream.remove_header(X_API_KEY);
        for h in &route.token_headers {
            upstream.remove_header(h.as_str());
        }
    }
}

/// The value of `claim` for this identity. The names of this gateway's own
/// claims (`uid`, `org`, `dev`, `rol`) read the verified identity, so that a
/// trusted issuer's token forwards its subject as `uid` too; any other name
/// reads the raw claim.
fn claim_value<'a>(identity: &'a Identity, claim: &str) -> Option<Cow<'a, str>> {
    let field = |s: &'a str| (!s.is_empty()).then_some(Cow::Borrowed(s));
    match claim {
        "uid" => field(identity.uid()),
        "org" => field(identity.brand()),
        "dev" => identity.device().and_then(field),
        "rol" => field(&identity.role),
        other => identity.claim_str(other),
    }
}

fn set(upstream: &mut RequestHeader, header: &Bytes, identity: &Identity, claim: &str) {
    if let Some(value) = claim_value(identity, claim) {
        // A claim that cannot be a header value (control characters) is left out.
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            // A `Bytes` name is shared, not copied (a `HeaderName` would be).
            let _ = upstream.insert_header(header.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
