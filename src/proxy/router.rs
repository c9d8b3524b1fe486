//! Route matching: optional host, longest path prefix, optional methods.
//! Built once per config snapshot; matching allocates nothing.

use crate::config::Route;
use std::sync::Arc;

/// What the router found for a request.
pub enum RouteMatch<'a> {
    Found(&'a Arc<Route>),
    /// A route matches host and path but not the method.
    MethodNotAllowed,
    NotFound,
}

pub struct Router {
    /// Longest prefix first; at equal length host-bound routes first, then
    /// method-bound ones, so the most specific route is tried first.
    routes: Vec<Entry>,
}

struct Entry {
    host: Option<String>,
    prefix: String,
    methods: Option<Vec<http::Method>>,
    route: Arc<Route>,
}

impl Router {
    pub fn new(routes: &[Route]) -> Self {
        let mut entries: Vec<Entry> = routes
            .iter()
            .map(|r| Entry {
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                prefix: r.path.clone(),
                methods: r.methods.as_ref().map(|ms| {
                    ms.iter()
                        .filter_map(|m| {
                            http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()
                        })
                        .collect()
                }),
                route: Arc::new(r.clone()),
            })
            .collect();
        entries.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then(b.host.is_some().cmp(&a.host.is_some()))
                .then(b.methods.is_some().cmp(&a.methods.is_some()))
        });
        Router { routes: entries }
    }

    /// `host` is the request's Host without its port, any case.
    pub fn find(&self, host: Option<&str>, path: &str, method: &http::Method) -> RouteMatch<'_> {
        let mut method_mismatch = false;
        for e in &self.routes {
            if !path.starts_with(e.prefix.as_str()) {
                continue;
            }
            if let Some(h) = &e.host {
                match host {
                    Some(req) if req.eq_ignore_ascii_case(h) => {}
                    _ => continue,
                }
            }
            if let Some(ms) = &e.methods {
                if !ms.contains(method) {
                    method_mismatch = true;
                    continue;
                }
            }
            return RouteMatch::Found(&e.route);
        }
        if method_mismatch {
            RouteMatch::MethodNotAllowed
        } else {
            RouteMatch::NotFound
        }
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

/// The Host header's name part: no port, no trailing dot.
pub fn host_name(host: &str) -> &str {
    let h = if host.starts_with('[') {
        // [v6]:port
        host.split_once(']').map(|(a, _)| &a[1..]).unwrap_or(host)
    } else {
        host.rsplit_once(':').map(|(a, _)| a).unwrap_or(host)
    };
    h.trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(yaml: &str) -> Route {
        serde_norway::from_str(yaml).unwrap()
    }

    fn found<'a>(m: RouteMatch<'a>) -> Option<&'a str> {
        match m {
            RouteMatch::Found(r) => Some(r.label()),
            _ => None,
        }
    }

    #[test]
    fn the_longest_prefix_wins() {
        let r = Router::new(&[
            route("{name: api, path: /api/, upstream: a}"),
            route("{name: v2, path: /api/v2/, upstream: a}"),
            route("{name: root, path: /, upstream: a}"),
        ]);
        let get = http::Method::GET;
        assert_eq!(found(r.find(None, "/api/v2/users", &get)), Some("v2"));
        assert_eq!(found(r.find(None, "/api/v1/users", &get)), Some("api"));
        assert_eq!(found(r.find(None, "/other", &get)), Some("root"));
    }

    #[test]
    fn a_host_bound_route_only_matches_its_host() {
        let r = Router::new(&[
            route("{name: shop, path: /, host: Shop.Example, upstream: a}"),
            route("{name: any, path: /, upstream: a}"),
        ]);
        let get = http::Method::GET;
        assert_eq!(
            found(r.find(Some("shop.example"), "/x", &get)),
            Some("shop")
        );
        assert_eq!(
            found(r.find(Some("other.example"), "/x", &get)),
            Some("any")
        );
        assert_eq!(found(r.find(None, "/x", &get)), Some("any"));
    }

    #[test]
    fn methods_narrow_a_route_and_a_mismatch_is_reported() {
        let r = Router::new(&[route(
            "{name: w, path: /w/, methods: [post, PUT], upstream: a}",
        )]);
        assert_eq!(found(r.find(None, "/w/1", &http::Method::POST)), Some("w"));
        assert!(matches!(
            r.find(None, "/w/1", &http::Method::GET),
            RouteMatch::MethodNotAllowed
        ));
        assert!(matches!(
            r.find(None, "/nope", &http::Method::GET),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("example.com:8080"), "example.com");
        assert_eq!(host_name("example.com."), "example.com");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("example.com"), "example.com");
    }
}
