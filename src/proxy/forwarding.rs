//! Headers on the way upstream: who the client is (X-Forwarded-For, believed
//! only from trusted proxies), the scheme, a request id, and the removal of
//! hop-by-hop headers that belong to the client's connection, not the request.
//! The first two are the operator's choice (`server.forwarded_headers`), the
//! id is there when the request has one (`server.request_ids`).

use super::header_edit::HeaderEdit;
use super::request_id::RequestId;
use http::{HeaderName, HeaderValue};
use ipnet::IpNet;
use std::net::IpAddr;

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers that describe one connection (RFC 9110 section 7.6.1), the
/// HTTP/2 upgrade's settings, and `Transfer-Encoding`: Pingora frames the
/// upstream body itself (chunked when a body has no Content-Length).
const HOP_BY_HOP: [HeaderName; 8] = [
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("proxy-authorization"),
    HeaderName::from_static("proxy-authenticate"),
    HeaderName::from_static("http2-settings"),
    http::header::TE,
    http::header::TRAILER,
    http::header::TRANSFER_ENCODING,
];

pub fn is_trusted(peer: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    peer.is_some_and(|ip| trusted.iter().any(|n| n.contains(&ip)))
}

/// The client's address: the socket peer, or, when the peer is a trusted
/// proxy, the right-most address in X-Forwarded-For that is not itself trusted.
pub fn client_ip(peer: Option<IpAddr>, xff: Option<&str>, trusted: &[IpNet]) -> Option<IpAddr> {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let Some(xff) = xff else { return peer };
    let mut last = peer;
    for part in xff.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) => {
                last = Some(ip);
                if !trusted.iter().any(|n| n.contains(&ip)) {
                    return Some(ip);
                }
            }
            Err(_) => return last,
        }
    }
    last
}

/// Removes hop-by-hop headers, including those the client's `Connection`
/// names. This is the only place that does it: Pingora's own upstream
/// request policy, which did the same before the upstream request filter, is
/// off (`Cluster::peer`), so the work is done once. A WebSocket handshake
/// (HTTP/1.1, `Connection: upgrade`, `Upgrade: websocket`) keeps those two
/// headers, as under Pingora's default policy; any other `Upgrade` (h2c among
/// them) is removed, because after a protocol switch the bytes would pass the
/// gateway unchecked.
pub fn strip_hop_by_hop(req: &mut impl HeaderEdit, downstream_is_http11: bool) {
    // One pass over the names first: most requests carry none of these,
    // and looking each one up by name costs more than the pass.
    let present = req.headers().keys().any(|name| {
        *name == http::header::CONNECTION
            || *name == http::header::UPGRADE
            || HOP_BY_HOP.contains(name)
    });
    if !present {
        return;
    }
    let mut named: Vec<HeaderName> = Vec::new();
    let mut upgrade = false;
    for v in req.headers().get_all(http::header::CONNECTION) {
        if let Ok(s) = v.to_str() {
            for token in s.split(',') {
                let t = token.trim().to_ascii_lowercase();
                if t == "upgrade" {
                    upgrade = true;
                } else if !t.is_empty() && t != "close" && t != "keep-alive" {
                    // keep-alive is in HOP_BY_HOP; a token that is no
                    // header name names nothing to remove.
                    if let Ok(name) = HeaderName::from_bytes(t.as_bytes()) {
                        named.push(name);
                    }
                }
            }
        }
    }
    for h in &HOP_BY_HOP {
        req.unset(h);
    }
    for h in named {
        // never let a client use Connection to strip framing or routing headers
        if !matches!(h.as_str(), "content-length" | "host") {
            req.unset(&h);
        }
    }
    let websocket = upgrade
        && downstream_is_http11
        && req
            .headers()
            .get(http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if websocket {
        req.set(
            &http::header::CONNECTION,
            HeaderValue::from_static("upgrade"),
        );
        // One value, whatever else the client listed.
        req.set(
            &http::header::UPGRADE,
            HeaderValue::from_static("websocket"),
        );
    } else {
        req.unset(&http::header::CONNECTION);
        req.unset(&http::header::UPGRADE);
    }
}

/// Sets X-Forwarded-For and X-Forwarded-Proto on the upstream request
/// (`server.forwarded_headers`, on by default).
pub fn add_forwarded(req: &mut impl HeaderEdit, peer: Option<IpAddr>, peer_trusted: bool) {
    // A client's own X-Forwarded-For is read only when its sender is trusted.
    let incoming = || {
        req.headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let xff = match (peer, peer_trusted) {
        (Some(p), true) => match incoming() {
            chain if chain.is_empty() => Some(address_value(p)),
            chain => HeaderValue::try_from(format!("{chain}, {p}")).ok(),
        },
        (Some(p), false) => Some(address_value(p)),
        (None, true) => HeaderValue::try_from(incoming()).ok(),
        (None, false) => None,
    };
    // Setting replaces every client copy; with nothing to set they go.
    match xff {
        Some(xff) if !xff.is_empty() => req.set(&X_FORWARDED_FOR, xff),
        _ => req.unset(&X_FORWARDED_FOR),
    }
    let https = peer_trusted
        && req
            .headers()
            .get(X_FORWARDED_PROTO)
            .is_some_and(|v| v.as_bytes() == b"https");
    let proto = HeaderValue::from_static(if https { "https" } else { "http" });
    req.set(&X_FORWARDED_PROTO, proto);
}

/// An address as a header value; IPv4 (every request's peer, mostly)
/// written digit by digit rather than through `fmt`.
fn address_value(ip: IpAddr) -> HeaderValue {
    let value = match ip {
        IpAddr::V4(v4) => {
            let mut text = [0u8; 15];
            let mut len = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                let mut digits = itoa::Buffer::new();
                let digits = digits.format(octet).as_bytes();
                text[len..len + digits.len()].copy_from_slice(digits);
                len += digits.len();
            }
            HeaderValue::from_bytes(&text[..len])
        }
        IpAddr::V6(v6) => HeaderValue::try_from(v6.to_string()),
    };
    // Digits, dots, colons and hex are always a valid value.
    value.unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// With `server.forwarded_headers` off: a trusted proxy's X-Forwarded-For
/// and X-Forwarded-Proto pass as they came; an untrusted client's go, so an
/// upstream never takes a client's word for its address or scheme.
pub fn remove_untrusted_forwarded(req: &mut impl HeaderEdit, peer_trusted: bool) {
    if !peer_trusted {
        req.unset(&X_FORWARDED_FOR);
        req.unset(&X_FORWARDED_PROTO);
    }
}

/// The upstream request carries the request's id as X-Request-Id, or none
/// when it has none (ids off and no trusted proxy's): a client's copy goes.
pub fn set_request_id(req: &mut impl HeaderEdit, request_id: &RequestId) {
    if request_id.is_empty() {
        req.unset(&X_REQUEST_ID);
    } else {
        req.set(&X_REQUEST_ID, request_id.header());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora_http::RequestHeader;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }
    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }
    /// An id as a trusted proxy sends it.
    fn rid(id: &'static str) -> RequestId {
        RequestId::for_request(Some(&http::HeaderValue::from_static(id)), true, true)
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.1"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), None, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), Some("garbage"), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn hop_by_hop_headers_and_connection_named_ones_are_removed() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("Connection", "keep-alive, X-Secret-Hop")
            .unwrap();
        req.insert_header("Keep-Alive", "timeout=5").unwrap();
        req.insert_header("X-Secret-Hop", "1").unwrap();
        req.insert_header("TE", "trailers").unwrap();
        req.insert_header("Accept", "*/*").unwrap();
        strip_hop_by_hop(&mut req, true);
        for h in ["connection", "keep-alive", "x-secret-hop", "te"] {
            assert!(req.headers.get(h).is_none(), "{h} should be gone");
        }
        assert!(req.headers.get("accept").is_some());
    }

    #[test]
    fn websocket_upgrades_keep_their_upgrade_headers() {
        let mut req = RequestHeader::build("GET", b"/ws", None).unwrap();
        req.insert_header("Connection", "Upgrade").unwrap();
        req.insert_header("Upgrade", "websocket").unwrap();
        strip_hop_by_hop(&mut req, true);
        assert_eq!(req.headers.get("connection").unwrap(), "upgrade");
        assert_eq!(req.headers.get("upgrade").unwrap(), "websocket");
    }

    #[test]
    fn other_upgrades_and_their_settings_are_removed() {
        for (upgrade, http11) in [
            ("h2c", true),
            ("websocket, h2c", true),
            ("websocket", false),
        ] {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.insert_header("Connection", "Upgrade, HTTP2-Settings")
                .unwrap();
            req.insert_header("Upgrade", upgrade).unwrap();
            req.insert_header("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
                .unwrap();
            strip_hop_by_hop(&mut req, http11);
            for h in ["connection", "upgrade", "http2-settings"] {
                assert!(req.headers.get(h).is_none(), "{upgrade} {http11}: {h} kept");
            }
        }
    }

    #[test]
    fn an_upgrade_header_without_connection_upgrade_is_no_upgrade() {
        let mut req = RequestHeader::build("GET", b"/ws", None).unwrap();
        req.insert_header("Upgrade", "websocket").unwrap();
        strip_hop_by_hop(&mut req, true);
        assert!(req.headers.get("upgrade").is_none());
        assert!(req.headers.get("connection").is_none());
    }

    #[test]
    fn framing_is_left_for_pingora_to_write_and_content_length_cannot_be_named_away() {
        let mut req = RequestHeader::build("POST", b"/", None).unwrap();
        req.insert_header("Transfer-Encoding", "chunked").unwrap();
        strip_hop_by_hop(&mut req, true);
        assert!(req.headers.get("transfer-encoding").is_none());

        let mut req = RequestHeader::build("POST", b"/", None).unwrap();
        req.insert_header("Connection", "content-length, host")
            .unwrap();
        req.insert_header("Content-Length", "3").unwrap();
        req.insert_header("Host", "api.example").unwrap();
        strip_hop_by_hop(&mut req, true);
        assert_eq!(req.headers.get("content-length").unwrap(), "3");
        assert_eq!(req.headers.get("host").unwrap(), "api.example");
    }

    #[test]
    fn forwarding_headers_replace_what_an_untrusted_client_sent() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("X-Forwarded-For", "1.1.1.1").unwrap();
        req.insert_header("X-Forwarded-Proto", "https").unwrap();
        add_forwarded(&mut req, ip("203.0.113.5"), false);
        set_request_id(&mut req, &rid("rid-1"));
        assert_eq!(req.headers.get("x-forwarded-for").unwrap(), "203.0.113.5");
        assert_eq!(req.headers.get("x-forwarded-proto").unwrap(), "http");
        assert_eq!(req.headers.get("x-request-id").unwrap(), "rid-1");
    }

    #[test]
    fn a_client_forwarded_for_that_is_not_text_is_replaced_too() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        let raw = http::HeaderValue::from_bytes(b"1.1.1.1\xff").unwrap();
        req.insert_header("X-Forwarded-For", raw).unwrap();
        add_forwarded(&mut req, ip("203.0.113.5"), false);
        let sent: Vec<_> = req.headers.get_all("x-forwarded-for").iter().collect();
        assert_eq!(sent, ["203.0.113.5"]);
        // With no peer address there is nothing to say: the client's goes.
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("X-Forwarded-For", "1.1.1.1").unwrap();
        add_forwarded(&mut req, None, false);
        assert!(req.headers.get("x-forwarded-for").is_none());
    }

    #[test]
    fn a_request_without_hop_by_hop_headers_keeps_every_header() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("Accept", "*/*").unwrap();
        req.insert_header("Authorization", "Bearer x").unwrap();
        strip_hop_by_hop(&mut req, true);
        assert_eq!(req.headers.len(), 2);
    }

    #[test]
    fn a_trusted_proxy_chain_is_extended() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("X-Forwarded-For", "198.51.100.7")
            .unwrap();
        req.insert_header("X-Forwarded-Proto", "https").unwrap();
        add_forwarded(&mut req, ip("10.0.0.2"), true);
        assert_eq!(
            req.headers.get("x-forwarded-for").unwrap(),
            "198.51.100.7, 10.0.0.2"
        );
        assert_eq!(req.headers.get("x-forwarded-proto").unwrap(), "https");
    }

    #[test]
    fn with_forwarded_headers_off_only_a_trusted_proxys_pass() {
        let client_sent = || {
            let mut req = RequestHeader::build("GET", b"/", None).unwrap();
            req.insert_header("X-Forwarded-For", "198.51.100.7")
                .unwrap();
            req.insert_header("X-Forwarded-Proto", "https").unwrap();
            req
        };
        let mut from_client = client_sent();
        remove_untrusted_forwarded(&mut from_client, false);
        assert!(from_client.headers.get("x-forwarded-for").is_none());
        assert!(from_client.headers.get("x-forwarded-proto").is_none());
        let mut from_proxy = client_sent();
        remove_untrusted_forwarded(&mut from_proxy, true);
        assert_eq!(
            from_proxy.headers.get("x-forwarded-for").unwrap(),
            "198.51.100.7"
        );
        assert_eq!(
            from_proxy.headers.get("x-forwarded-proto").unwrap(),
            "https"
        );
    }

    #[test]
    fn a_plain_header_map_gets_the_same_edits_as_a_head_that_keeps_case() {
        let mut head = RequestHeader::build("GET", b"/", None).unwrap();
        for (name, value) in [
            ("Connection", "close, X-Hop"),
            ("X-Hop", "secret"),
            ("Keep-Alive", "timeout=5"),
            ("X-Forwarded-For", "198.51.100.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Request-Id", "client-made"),
            ("Accept", "*/*"),
        ] {
            head.append_header(name, value).unwrap();
        }
        let mut map = head.headers.clone();
        strip_hop_by_hop(&mut head, true);
        add_forwarded(&mut head, ip("10.0.0.2"), true);
        set_request_id(&mut head, &rid("edge-1"));
        strip_hop_by_hop(&mut map, true);
        add_forwarded(&mut map, ip("10.0.0.2"), true);
        set_request_id(&mut map, &rid("edge-1"));
        assert_eq!(map, head.headers);
        assert_eq!(map["x-forwarded-for"], "198.51.100.7, 10.0.0.2");
        assert!(map.get("x-hop").is_none());
    }

    #[test]
    fn a_request_without_an_id_sends_none_upstream() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("X-Request-Id", "client-made").unwrap();
        set_request_id(&mut req, &RequestId::none());
        assert!(req.headers.get("x-request-id").is_none());
        set_request_id(&mut req, &rid("edge-1"));
        assert_eq!(req.headers.get("x-request-id").unwrap(), "edge-1");
    }

    #[test]
    fn addresses_are_written_as_their_usual_text() {
        for text in [
            "0.0.0.0",
            "9.10.99.100",
            "203.0.113.5",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let value = address_value(text.parse().unwrap());
            assert_eq!(value.to_str().unwrap(), text);
        }
    }
}
