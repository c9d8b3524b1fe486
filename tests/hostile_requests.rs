//! Request smuggling shapes and malformed heads sent over raw TCP: each gets
//! a 4xx JSON envelope and a closed connection, the upstream never sees the
//! request, and the gateway goes on serving.

mod common;

use common::{json_body, raw_request, Gateway, Upstream};

async fn gateway(up: &Upstream) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /, upstream: api, auth: none}}\n",
        up.address()
    ))
    .await
}

/// Sends `raw`, expects `status` with the JSON envelope and the connection
/// closed by the gateway.
async fn assert_refused(gw: &Gateway, raw: &[u8], status: u16) {
    let answer = raw_request(gw.port, raw).await;
    let shown = String::from_utf8_lossy(raw);
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status} ")),
        "{shown:?} got {answer:?}"
    );
    assert!(answer.contains("connection: close"), "{shown:?}: {answer}");
    let body = json_body(&answer);
    assert_eq!(body["status"]["code"], status, "{shown:?}: {answer}");
    assert_eq!(body["status"]["success"], false);
    assert!(body["status"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_smuggling_shape_gets_400_json_and_never_reaches_the_upstream() {
    let up = Upstream::start("api").await;
    let gw = gateway(&up).await;
    let shapes: &[&[u8]] = &[
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 40\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: -4\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        b"POST /x HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        // obs-fold hiding a second value
        b"POST /x HTTP/1.1\r\nHost: a\r\nX-Note: one\r\n Content-Length: 4\r\n\r\nabcd",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        // bare LF line endings
        b"GET /x HTTP/1.1\nHost: a\n\n",
        b"GET /x HTTP/1.1\r\nHost: a\nX-Other: 1\r\n\r\n",
        // whitespace before the colon
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length : 4\r\n\r\nabcd",
        // two Host fields (routing ambiguity) and none in HTTP/1.1
        b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /x HTTP/1.1\r\nAccept: */*\r\n\r\n",
        // not HTTP/1.x
        b"GET /x HTTP/2.0\r\nHost: a\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
    ];
    for raw in shapes {
        assert_refused(&gw, raw, 400).await;
    }
    assert_eq!(up.served(), 0, "the upstream never saw any of them");
    let ok = common::client().get(gw.url("/after")).send().await.unwrap();
    assert_eq!(ok.status(), 200, "the gateway goes on serving");
    let metrics = gw.metrics_text().await;
    assert!(
        metrics.contains("requests_refused_total{reason=\"framing\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("requests_refused_total{reason=\"malformed\"}"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_chunk_sizes_get_400_json() {
    let up = Upstream::start("api").await;
    let gw = gateway(&up).await;
    for body in [
        &b"zz\r\nabc\r\n0\r\n\r\n"[..],
        b"-1\r\nabc\r\n0\r\n\r\n",
        b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    ] {
        let mut raw = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(body);
        let answer = raw_request(gw.port, &raw).await;
        assert!(
            answer.starts_with("HTTP/1.1 400 "),
            "{:?} got {answer:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(json_body(&answer)["status"]["code"], 400, "{answer}");
    }
    let ok = common::client().get(gw.url("/after")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_limits_are_431_json() {
    let up = Upstream::start("api").await;
    let gw = Gateway::start(&format!(
        "limits: {{max_header_count: 5, max_header_bytes: 1KiB}}\nupstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /, upstream: api, auth: none}}\n",
        up.address()
    ))
    .await;
    let mut many = String::from("GET /x HTTP/1.1\r\nHost: a\r\n");
    for i in 0..10 {
        many.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    assert_refused(&gw, many.as_bytes(), 431).await;
    let big = format!(
        "GET /x HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "y".repeat(2048)
    );
    assert_refused(&gw, big.as_bytes(), 431).await;
    // Refused before the head ends: the gateway does not buffer on.
    let endless = format!("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: {}", "y".repeat(2048));
    assert_refused(&gw, endless.as_bytes(), 431).await;
    assert_eq!(up.served(), 0);
}

/// Pingora serves pipelined requests one connection at a time by default:
/// the first is answered, the rest dropped with the connection (RFC 9112
/// section 9.3.2 lets the client retry). So a smuggled second request in the
/// same packet never reaches the upstream unjudged.
#[tokio::test(flavor = "multi_thread")]
async fn a_pipelined_second_request_never_reaches_the_upstream_unjudged() {
    let up = Upstream::start("api").await;
    let gw = gateway(&up).await;
    let answer = raw_request(
        gw.port,
        b"GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 200 ").count(), 1, "{answer}");
    assert!(answer.contains("\"target\":\"/one\""), "{answer}");
    assert_eq!(up.served(), 1, "only the first request was forwarded");
}
