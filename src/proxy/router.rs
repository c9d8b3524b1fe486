//! Route matching: optional host, longest path prefix, optional methods.
//! Built once per config snapshot; matching allocates nothing and costs one
//! hash look-up per distinct prefix length.

use crate::config::Route;
use std::collections::HashMap;
use std::sync::Arc;

/// What the router found for a request.
pub enum RouteMatch<'a> {
    Found(&'a Arc<Route>),
    /// A route matches host and path but not the method.
    MethodNotAllowed,
    NotFound,
}

pub struct Router {
    /// Routes grouped by prefix length, longest first. Within a prefix the
    /// most specific route comes first (host-bound, then method-bound), so a
    /// request costs one hash look-up per distinct prefix length, not one
    /// comparison per route.
    by_length: Vec<(usize, PrefixMap)>,
    count: usize,
}

/// The routes of one prefix length, by prefix.
type PrefixMap = HashMap<Box<str>, Vec<Entry>, foldhash::fast::RandomState>;

struct Entry {
    host: Option<String>,
    methods: Option<Vec<http::Method>>,
    route: Arc<Route>,
}

impl Entry {
    fn specificity(&self) -> (bool, bool) {
        (self.host.is_some(), self.methods.is_some())
    }
}

impl Router {
    pub fn new(routes: &[Route]) -> Self {
        let mut by_length: Vec<(usize, PrefixMap)> = Vec::new();
        for r in routes {
            let entry = Entry {
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                methods: r.methods.as_ref().map(|ms| {
                    ms.iter()
                        .filter_map(|m| {
                            http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()
                        })
                        .collect()
                }),
                route: Arc::new(r.clone()),
            };
            let len = r.path.len();
            let slot = match by_length.iter().position(|(l, _)| *l == len) {
                Some(i) => i,
                None => {
                    by_length.push((len, HashMap::default()));
                    by_length.len() - 1
                }
            };
            by_length[slot]
                .1
                .entry(r.path.clone().into_boxed_str())
                .or_default()
                .push(entry);
        }
        by_length.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        for (_, map) in &mut by_length {
            for list in map.values_mut() {
                list.sort_by_key(|e| std::cmp::Reverse(e.specificity()));
            }
        }
        Router {
            by_length,
            count: routes.len(),
        }
    }

    /// `host` is the request's Host without its port, any case.
    pub fn find(&self, host: Option<&str>, path: &str, method: &http::Method) -> RouteMatch<'_> {
        let mut method_mismatch = false;
        for (len, map) in &self.by_length {
            let Some(prefix) = path.get(..*len) else {
                continue;
            };
            let Some(list) = map.get(prefix) else {
                continue;
            };
            for e in list {
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
        }
        if method_mismatch {
            RouteMatch::MethodNotAllowed
        } else {
            RouteMatch::NotFound
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
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
    fn another_method_falls_back_to_a_shorter_prefix_before_405() {
        let r = Router::new(&[
            route("{name: writes, path: /w/, methods: [POST], upstream: a}"),
            route("{name: root, path: /, upstream: a}"),
        ]);
        assert_eq!(
            found(r.find(None, "/w/1", &http::Method::POST)),
            Some("writes")
        );
        assert_eq!(
            found(r.find(None, "/w/1", &http::Method::GET)),
            Some("root")
        );
    }

    #[test]
    fn many_routes_of_one_length_and_non_ascii_paths() {
        let routes: Vec<Route> = (0..50)
            .map(|i| route(&format!("{{name: s{i}, path: /s-{i:02}/, upstream: a}}")))
            .collect();
        let r = Router::new(&routes);
        assert_eq!(r.len(), 50);
        assert_eq!(
            found(r.find(None, "/s-37/x", &http::Method::GET)),
            Some("s37")
        );
        assert!(matches!(
            r.find(None, "/s-9é/x", &http::Method::GET),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            r.find(None, "/é", &http::Method::GET),
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
