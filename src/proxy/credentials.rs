//! Finding what a request presents as proof: a bearer token in
//! `Authorization`, then in the route's extra `token_headers`, then in the
//! configured cookie; and, where a route allows it, an AUTH key in
//! `X-API-Key`.

use crate::config::Route;
use http::HeaderMap;

pub const X_API_KEY: &str = "x-api-key";

/// What the request carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    Token(&'a str),
    ApiKey(&'a str),
}

/// The token of an `Authorization: Bearer <token>` value (scheme in any case).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// A token header's value: `Bearer <token>` or the bare token.
fn token_in_header(value: &str) -> Option<&str> {
    bearer(value).or_else(|| {
        let v = value.trim();
        (!v.is_empty() && !v.contains(' ')).then_some(v)
    })
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name)
                .then(|| v.trim().trim_matches('"'))
                .filter(|v| !v.is_empty())
        })
}

/// The first credential the request presents for this route.
pub fn find<'a>(
    headers: &'a HeaderMap,
    route: &Route,
    cookie_name: Option<&str>,
) -> Option<Credential<'a>> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(t) = text("authorization").and_then(bearer) {
        return Some(Credential::Token(t));
    }
    for h in &route.token_headers {
        if let Some(t) = text(h).and_then(token_in_header) {
            return Some(Credential::Token(t));
        }
    }
    if let Some(t) = cookie_name.and_then(|name| cookie(headers, name)) {
        return Some(Credential::Token(t));
    }
    if route.api_key {
        if let Some(k) = text(X_API_KEY).map(str::trim).filter(|k| !k.is_empty()) {
            return Some(Credential::ApiKey(k));
        }
    }
    None
}

/// Whether the request carries anything in the places a token could be,
/// even if it is not a usable bearer token (decides `error="invalid_token"`).
pub fn presented_something(headers: &HeaderMap, route: &Route) -> bool {
    headers.contains_key(http::header::AUTHORIZATION)
        || route
            .token_headers
            .iter()
            .any(|h| headers.contains_key(h.as_str()))
        || (route.api_key && headers.contains_key(X_API_KEY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(yaml: &str) -> Route {
        serde_norway::from_str(yaml).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_other_schemes_are_not_tokens() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Some("abc.def.ghi"));
        assert_eq!(bearer("bearer   abc"), Some("abc"));
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn authorization_comes_before_route_headers_and_the_cookie() {
        let r = route("{path: /, upstream: a, token_headers: [cap_authorization]}");
        let h = headers(&[
            ("cap_authorization", "Bearer from-header"),
            ("authorization", "Bearer from-authorization"),
            ("cookie", "tok=from-cookie"),
        ]);
        assert_eq!(
            find(&h, &r, Some("tok")),
            Some(Credential::Token("from-authorization"))
        );
        let h = headers(&[
            ("cap_authorization", "bare-token"),
            ("cookie", "tok=from-cookie"),
        ]);
        assert_eq!(
            find(&h, &r, Some("tok")),
            Some(Credential::Token("bare-token"))
        );
        let h = headers(&[("cookie", "a=1; tok=from-cookie; b=2")]);
        assert_eq!(
            find(&h, &r, Some("tok")),
            Some(Credential::Token("from-cookie"))
        );
        assert_eq!(find(&h, &r, None), None);
    }

    #[test]
    fn api_keys_count_only_where_the_route_allows_them() {
        let h = headers(&[("x-api-key", "key-1")]);
        let open = route("{path: /, upstream: a, api_key: true}");
        let closed = route("{path: /, upstream: a}");
        assert_eq!(find(&h, &open, None), Some(Credential::ApiKey("key-1")));
        assert_eq!(find(&h, &closed, None), None);
    }
}
