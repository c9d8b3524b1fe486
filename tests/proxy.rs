//! The proxy path over HTTP: routing, load balancing, health checks, upstream
//! failures as JSON, forwarding headers, framing checks, route policy.

mod common;

use common::{json_body, raw_request, Gateway, Upstream};
use serde_json::Value;
use std::time::Duration;

async fn get_json(url: &str) -> (u16, Value) {
    let resp = common::client().get(url).send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn upstream_block(name: &str, backends: &[String], extra: &str) -> String {
    format!("  {name}: {{backends: [{}]{extra}}}\n", backends.join(", "))
}

/// A gateway with one upstream (`api`: backend `a`) behind one open route, `/`.
async fn open_gateway(a: &Upstream) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block("api", &[a.address()], ""),
    ))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_longest_matching_prefix_chooses_the_upstream() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}{}routes:\n  - {{path: /api/, upstream: a, auth: none}}\n  - {{path: /api/v2/, upstream: b, auth: none}}\n",
        upstream_block("a", &[a.address()], ""),
        upstream_block("b", &[b.address()], ""),
    ))
    .await;

    let (status, body) = get_json(&gw.url("/api/v1/users?x=1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["backend"], "a");
    assert_eq!(body["target"], "/api/v1/users?x=1");
    let (_, body) = get_json(&gw.url("/api/v2/users")).await;
    assert_eq!(body["backend"], "b");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_no_route_matches_gets_404_json() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /api/, upstream: a, auth: none}}\n  - {{path: /w/, upstream: a, auth: none, methods: [POST]}}\n",
        upstream_block("a", &[a.address()], ""),
    ))
    .await;

    let (status, body) = get_json(&gw.url("/elsewhere")).await;
    assert_eq!(status, 404);
    assert_eq!(body["status"]["success"], false);
    assert_eq!(body["status"]["code"], 404);
    let (status, body) = get_json(&gw.url("/w/1")).await;
    assert_eq!(status, 405);
    assert_eq!(body["status"]["code"], 405);
    assert_eq!(a.served(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_spread_round_robin_over_the_backends() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block("api", &[a.address(), b.address()], ""),
    ))
    .await;

    for _ in 0..10 {
        let (status, _) = get_json(&gw.url("/x")).await;
        assert_eq!(status, 200);
    }
    assert_eq!(a.served(), 5);
    assert_eq!(b.served(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_failing_its_health_check_is_ejected_and_traffic_still_served() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block(
            "api",
            &[a.address(), b.address()],
            ", health_check: {path: /healthz, interval: 200ms}"
        ),
    ))
    .await;

    b.set_healthy(false);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before_b = b.served();
    for _ in 0..10 {
        let (status, body) = get_json(&gw.url("/x")).await;
        assert_eq!(status, 200);
        assert_eq!(body["backend"], "a");
    }
    assert_eq!(b.served(), before_b, "an ejected backend gets no traffic");
    let metrics = common::client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(&format!(
        "portcullis_upstream_backend_healthy{{backend=\"{}\",upstream=\"api\"}} 0",
        b.address()
    )));

    // With no healthy backend left: 503 JSON, and the gateway is not ready.
    a.set_healthy(false);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (status, body) = get_json(&gw.url("/x")).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"]["code"], 503);
    let (status, body) = get_json(&gw.admin("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(body["unhealthy_upstreams"][0], "api");

    // Readmitted when healthy again.
    b.set_healthy(true);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (status, body) = get_json(&gw.url("/x")).await;
    assert_eq!(status, 200);
    assert_eq!(body["backend"], "b");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_upstream_gives_502_json() {
    let dead = common::RefusingPort::new();
    let gw = Gateway::start(&format!(
        "upstreams:\n  dead: {{backends: [{}]}}\nroutes:\n  - {{path: /, upstream: dead, auth: none}}\n",
        dead.address
    ))
    .await;
    let (status, body) = get_json(&gw.url("/x")).await;
    assert_eq!(status, 502);
    assert_eq!(body["status"]["code"], 502);
    assert_eq!(body["status"]["success"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_is_retried_once_on_another_backend() {
    let a = Upstream::start("a").await;
    let dead = common::RefusingPort::new();
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block("api", &[dead.address.clone(), a.address()], ""),
    ))
    .await;
    for _ in 0..6 {
        let (status, body) = get_json(&gw.url("/x")).await;
        assert_eq!(status, 200, "every request lands on the live backend");
        assert_eq!(body["backend"], "a");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_upstream_gives_504_json_after_the_read_timeout() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block(
            "api",
            &[a.address()],
            ", timeouts: {connect: 1s, read: 300ms}"
        ),
    ))
    .await;
    let (status, body) = get_json(&gw.url("/slow?ms=3000")).await;
    assert_eq!(status, 504);
    assert_eq!(body["status"]["code"], 504);
    let (status, _) = get_json(&gw.url("/slow?ms=10")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_headers_are_added_and_spoofed_or_hop_by_hop_ones_removed() {
    let a = Upstream::start("a").await;
    let gw = open_gateway(&a).await;
    let raw = raw_request(
        gw.port,
        b"GET /echo HTTP/1.1\r\nHost: svc.local\r\nX-Auth-User-Id: admin\r\nX-Auth-Role: ADMIN\r\n\
          X-Forwarded-For: 6.6.6.6\r\nConnection: close, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n\
          TE: trailers\r\nX-Keep: yes\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let answered_id = raw
        .lines()
        .find_map(|line| line.strip_prefix("x-request-id: "))
        .expect("the response names its request id");
    let seen = &json_body(&raw)["headers"];
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    // A new id (a UUID: the client is not trusted), the same both ways.
    assert_eq!(seen["x-request-id"], answered_id);
    assert_eq!(answered_id.len(), 36, "{answered_id}");
    assert_eq!(seen["host"], "svc.local");
    assert_eq!(seen["x-keep"], "yes");
    for gone in ["x-auth-user-id", "x-auth-role", "x-hop", "keep-alive", "te"] {
        assert!(
            seen.get(gone).is_none(),
            "{gone} must not reach the upstream: {seen}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_request_body_reaches_the_upstream_whole_and_chunked() {
    let a = Upstream::start("a").await;
    let gw = open_gateway(&a).await;
    let raw = raw_request(
        gw.port,
        b"POST /echo HTTP/1.1\r\nHost: svc.local\r\nConnection: close\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let echo = json_body(&raw);
    assert_eq!(echo["body_len"], 11, "{echo}");
    // The gateway removes the client's framing header; Pingora frames the
    // body it forwards itself.
    assert_eq!(echo["headers"]["transfer-encoding"], "chunked", "{echo}");
    assert!(echo["headers"].get("content-length").is_none(), "{echo}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h2c_upgrade_is_not_forwarded_and_the_request_is_served_as_http1() {
    let a = Upstream::start("a").await;
    let gw = open_gateway(&a).await;
    let raw = raw_request(
        gw.port,
        b"GET /echo HTTP/1.1\r\nHost: svc.local\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    )
    .await;
    // Had the upstream switched to HTTP/2, every later byte on the
    // connection would pass the gateway unchecked.
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let seen = &json_body(&raw)["headers"];
    for gone in ["upgrade", "http2-settings"] {
        assert!(
            seen.get(gone).is_none(),
            "{gone} must not reach the upstream: {seen}"
        );
    }
    assert_ne!(seen["connection"], "upgrade", "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn x_forwarded_for_is_extended_only_behind_a_trusted_proxy() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        "limits: {{trusted_proxies: [127.0.0.1]}}\nupstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block("api", &[a.address()], ""),
    ))
    .await;
    let resp = common::client()
        .get(gw.url("/x"))
        .header("X-Forwarded-For", "203.0.113.7")
        .header("X-Request-Id", "edge-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "edge-42");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["headers"]["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
    assert_eq!(body["headers"]["x-request-id"], "edge-42");
}

/// A gateway whose server.request_ids and server.forwarded_headers are
/// turned off (by a reload), with `limits` and an open route on `/` and a
/// required one on `/private/`.
async fn gateway_leaving_ids_and_forwarding_to_a_proxy(limits: &str, up: &Upstream) -> Gateway {
    let gw = Gateway::start(&format!(
        "{limits}upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n  - {{path: /private/, upstream: api}}\n",
        upstream_block("api", &[up.address()], ""),
    ))
    .await;
    gw.reload_with_server_keys("request_ids: false, forwarded_headers: false")
        .await;
    gw
}

/// GET /x with the headers a proxy in front sets.
async fn get_with_forwarding_headers(
    gw: &Gateway,
    xff: &str,
    request_id: &str,
) -> reqwest::Response {
    common::client()
        .get(gw.url("/x"))
        .header("X-Forwarded-For", xff)
        .header("X-Forwarded-Proto", "https")
        .header("X-Request-Id", request_id)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_and_forwarded_headers_can_be_left_to_a_proxy_in_front() {
    let a = Upstream::start("a").await;
    let gw = gateway_leaving_ids_and_forwarding_to_a_proxy("", &a).await;

    // An untrusted client's own copies go; the gateway sets none of its own.
    let resp = get_with_forwarding_headers(&gw, "6.6.6.6", "client-made").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-request-id").is_none());
    let seen = &resp.json::<Value>().await.unwrap()["headers"];
    for gone in ["x-forwarded-for", "x-forwarded-proto", "x-request-id"] {
        assert!(
            seen.get(gone).is_none(),
            "{gone} reached the upstream: {seen}"
        );
    }
    assert_eq!(seen["host"], format!("127.0.0.1:{}", gw.port));

    // The gateway's own answers (a refusal, the auth API) and refused heads
    // carry no id either.
    let resp = common::client()
        .get(gw.url("/private/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("x-request-id").is_none());
    let resp = common::client()
        .post(gw.url("/auth/v1/token/generate"))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("x-request-id").is_none());
    let raw = raw_request(gw.port, b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(!raw.to_ascii_lowercase().contains("x-request-id"), "{raw}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_forwarding_left_to_a_trusted_proxy_its_headers_pass_unchanged() {
    let a = Upstream::start("a").await;
    let trusted = "limits: {trusted_proxies: [127.0.0.1]}\n";
    let gw = gateway_leaving_ids_and_forwarding_to_a_proxy(trusted, &a).await;
    let resp = get_with_forwarding_headers(&gw, "203.0.113.7", "edge-42").await;
    assert_eq!(resp.headers()["x-request-id"], "edge-42");
    let seen = &resp.json::<Value>().await.unwrap()["headers"];
    assert_eq!(seen["x-forwarded-for"], "203.0.113.7", "not extended");
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(seen["x-request-id"], "edge-42");

    // Without an id from the proxy, the request has none.
    let resp = common::client().get(gw.url("/x")).send().await.unwrap();
    assert!(resp.headers().get("x-request-id").is_none());
    let seen = &resp.json::<Value>().await.unwrap()["headers"];
    assert!(seen.get("x-request-id").is_none(), "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_api_bodies_over_the_limit_get_413() {
    let gw = Gateway::start("limits: {body_max: 1KiB}\n").await;
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4096));
    let resp = common::client()
        .post(gw.url("/auth/v1/token/generate"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"]["code"], 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_required_route_refuses_a_request_without_a_token() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /api/, upstream: api}}\n",
        upstream_block("api", &[a.address()], ""),
    ))
    .await;
    let resp = common::client()
        .get(gw.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"]["code"], 401);
    assert_eq!(a.served(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_reports_health_readiness_and_metrics() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{name: everything, path: /, upstream: api, auth: none}}\n",
        upstream_block("api", &[a.address()], ""),
    ))
    .await;
    let (status, _) = get_json(&gw.admin("/healthz")).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&gw.admin("/readyz")).await;
    assert_eq!(status, 200);
    assert_eq!(body["ready"], true);
    for _ in 0..3 {
        get_json(&gw.url("/x")).await;
    }
    // Pingora counts a request just after its response is written: wait for the last.
    let mut metrics = String::new();
    for _ in 0..40 {
        metrics = common::client()
            .get(gw.admin("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("route=\"everything\",status=\"200\"} 3")
            && metrics.contains("portcullis_request_duration_seconds_count{route=\"everything\"} 3")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(metrics.contains("portcullis_build_info{version="));
    assert!(
        metrics.contains(
            "portcullis_requests_total{method=\"GET\",route=\"everything\",status=\"200\"} 3"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_request_duration_seconds_count{route=\"everything\"} 3"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auth_body_that_trickles_in_too_slowly_gets_408() {
    use tokio::io::AsyncReadExt;
    let gw = Gateway::start("limits: {body_read_timeout: 500ms}\n").await;
    let mut s = common::connect_and_send(
        gw.port,
        b"POST /auth/v1/token/generate HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\"",
    )
    .await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    assert!(
        read.is_ok(),
        "the gateway answers and closes instead of waiting"
    );
    let raw = String::from_utf8_lossy(&out);
    assert!(raw.starts_with("HTTP/1.1 408"), "{raw}");
    assert_eq!(json_body(&raw)["status"]["code"], 408);
}

/// GET `path` with a bearer token and a header spelled in mixed case; the
/// raw answer and what the upstream saw.
async fn get_with_mixed_case_header(gw: &Gateway, path: &str, token: &str) -> (String, Value) {
    let raw = raw_request(
        gw.port,
        format!(
            "GET {path} HTTP/1.1\r\nHost: svc.local\r\nAuthorization: Bearer {token}\r\n\
             X-Custom-Thing: 1\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let seen = json_body(&raw);
    (raw, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn header_names_leave_in_lower_case_unless_their_case_is_preserved() {
    let a = Upstream::start("a").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api}}\n",
        upstream_block("api", &[a.address()], ""),
    ))
    .await;
    let token = gw.mint("user-7", &[]);
    let names = |seen: &Value| -> Vec<String> {
        seen["header_names"]
            .as_array()
            .expect("the upstream lists the names it got")
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect()
    };

    // By default, as HAProxy and Envoy send them: lower case, title case for
    // the few standard names Pingora knows.
    let (raw, seen) = get_with_mixed_case_header(&gw, "/x", &token).await;
    let sent = names(&seen);
    for name in [
        "Host",
        "x-custom-thing",
        "x-auth-user-id",
        "x-forwarded-for",
        "x-request-id",
    ] {
        assert!(sent.iter().any(|n| n == name), "{name} not in {sent:?}");
    }
    assert!(raw.contains("\r\nx-served-by: a\r\n"), "{raw}");
    assert!(
        raw.contains("\r\nContent-Type: application/json\r\n"),
        "{raw}"
    );
    assert_eq!(seen["headers"]["x-auth-user-id"], "user-7");

    // Preserved: each name as the client or the upstream wrote it; the
    // gateway's own headers and the route's policy are the same.
    gw.reload_with_server_keys("preserve_header_case: true")
        .await;
    let (raw, seen) = get_with_mixed_case_header(&gw, "/x", &token).await;
    let sent = names(&seen);
    assert!(sent.iter().any(|n| n == "X-Custom-Thing"), "{sent:?}");
    assert!(!sent.iter().any(|n| n == "x-custom-thing"), "{sent:?}");
    assert!(raw.contains("\r\nX-Served-By: a\r\n"), "{raw}");
    assert_eq!(seen["headers"]["x-auth-user-id"], "user-7");
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["headers"]["x-custom-thing"], "1");
    assert!(seen["headers"].get("connection").is_none(), "{seen}");
    let answered_id = raw
        .lines()
        .find_map(|line| line.strip_prefix("x-request-id: "))
        .expect("the response names its request id");
    assert_eq!(seen["headers"]["x-request-id"], answered_id);
}

/// A backend that accepts every request's switch to WebSocket and then
/// sends back whatever arrives; the head it got is kept for the test.
async fn upgrading_backend() -> (String, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the gateway closed before a whole head");
            head.extend_from_slice(&buf[..n]);
        }
        let _ = head_tx.send(String::from_utf8_lossy(&head).into_owned());
        conn.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )
        .await
        .unwrap();
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if conn.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    (address, head_rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_upgrade_passes_through_and_both_directions_flow() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (backend, head_rx) = upgrading_backend().await;
    let gw = Gateway::start(&format!(
        "upstreams:\n{}routes:\n  - {{path: /, upstream: api, auth: none}}\n",
        upstream_block("api", &[backend], ""),
    ))
    .await;
    let mut s = common::connect_and_send(
        gw.port,
        b"GET /live HTTP/1.1\r\nHost: svc.local\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    // The backend was asked to switch, with the gateway's headers added.
    let sent = head_rx.await.unwrap().to_ascii_lowercase();
    assert!(
        answer.starts_with("http/1.1 101 "),
        "{answer}\nthe backend got:\n{sent}"
    );
    assert!(answer.contains("\r\nupgrade: websocket\r\n"), "{answer}");
    assert!(answer.contains("\r\nsec-websocket-accept: "), "{answer}");
    assert!(sent.contains("\r\nconnection: upgrade\r\n"), "{sent}");
    assert!(sent.contains("\r\nupgrade: websocket\r\n"), "{sent}");
    assert!(
        sent.contains("\r\nsec-websocket-key: dghlihnhbxbszsbub25jzq==\r\n"),
        "{sent}"
    );
    assert!(
        sent.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"),
        "{sent}"
    );

    for message in [&b"hello"[..], b"and back again"] {
        s.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut echoed))
            .await
            .expect("the echo in time")
            .unwrap();
        assert_eq!(echoed, message);
    }
}
