//! Clients that hold connections without finishing requests: thousands of
//! idle connections and header tricklers (slowloris) must not stop the
//! gateway from serving everyone else.

mod common;

use common::{Gateway, Upstream};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Lets this test process hold many sockets (the soft limit may be 1024).
fn raise_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain struct passed by pointer to get/setrlimit.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

async fn gateway(up: &Upstream) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /, upstream: api, auth: none}}\n",
        up.address()
    ))
    .await
}

async fn gateway_with_header_deadline_of_1s(up: &Upstream) -> Gateway {
    Gateway::start(&format!(
        "limits: {{header_read_timeout: 1s}}\nupstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /, upstream: api, auth: none}}\n",
        up.address()
    ))
    .await
}

async fn served(gw: &Gateway) -> bool {
    matches!(
        common::client()
            .get(gw.url("/still-served"))
            .send()
            .await
            .map(|r| r.status().as_u16()),
        Ok(200)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_idle_connections_do_not_stop_new_requests() {
    let available = raise_open_file_limit();
    // Room for the test's own sockets and the harness; the gateway raises its own limit.
    let wanted: usize = 10_000.min(available.saturating_sub(512) as usize);
    assert!(
        wanted >= 1_000,
        "the machine allows only {available} open files"
    );
    let up = Upstream::start("api").await;
    let gw = gateway(&up).await;

    let mut idle = Vec::with_capacity(wanted);
    for _ in 0..wanted {
        match tokio::net::TcpStream::connect(("127.0.0.1", gw.port)).await {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connection {} refused: {e}", idle.len()),
        }
    }
    assert_eq!(idle.len(), wanted);
    for _ in 0..5 {
        assert!(
            served(&gw).await,
            "a new client is served beside {wanted} idle connections"
        );
    }
    drop(idle);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_tricklers_do_not_stop_other_clients() {
    raise_open_file_limit();
    let up = Upstream::start("api").await;
    let gw = gateway(&up).await;

    // 500 clients that send a request header one line at a time, slowly.
    let mut tricklers = Vec::new();
    for _ in 0..500 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
            .await
            .expect("connect");
        s.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\n")
            .await
            .expect("write");
        tricklers.push(s);
    }
    for round in 0..3 {
        for s in &mut tricklers {
            let _ = s
                .write_all(format!("X-Trickle-{round}: 1\r\n").as_bytes())
                .await;
        }
        assert!(
            served(&gw).await,
            "served while 500 clients trickle headers (round {round})"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        up.served(),
        3,
        "only the complete requests reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_that_takes_longer_than_the_header_deadline_gets_408_json() {
    let up = Upstream::start("api").await;
    let gw = gateway_with_header_deadline_of_1s(&up).await;
    let mut s = connect_and_send(&gw, b"GET /slow HTTP/1.1\r\nHost: a\r\n").await;
    // A new line every 300 ms keeps every single read well inside any
    // per-read timeout; only a total deadline stops it.
    let started = std::time::Instant::now();
    let answer = trickle(&mut s, |i| format!("X-Trickle-{i}: 1\r\n").into_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert_eq!(common::json_body(&answer)["status"]["code"], 408);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut off by the deadline, not by the trickler giving up"
    );
    assert_eq!(up.served(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_never_sends_a_request_is_closed_at_the_header_deadline() {
    let up = Upstream::start("api").await;
    let gw = gateway_with_header_deadline_of_1s(&up).await;
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect");
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(8), s.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed without an answer: {read:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_waits_the_idle_timeout_not_the_header_deadline() {
    let up = Upstream::start("api").await;
    let gw = gateway_with_header_deadline_of_1s(&up).await;
    let mut s = connect_and_send(&gw, b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let first = read_for(&mut s, Duration::from_millis(800)).await;
    assert!(first.starts_with("HTTP/1.1 200 "), "{first}");
    // Idle between requests for twice the header deadline.
    tokio::time::sleep(Duration::from_secs(2)).await;
    s.write_all(b"GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .expect("the connection is still open");
    let second = read_for(&mut s, Duration::from_secs(2)).await;
    assert!(second.starts_with("HTTP/1.1 200 "), "{second}");
    assert_eq!(up.served(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_is_closed_once_idle_for_the_keepalive_timeout() {
    let up = Upstream::start("api").await;
    let gw = gateway(&up).await;
    gw.reload_with_server_keys("keepalive_timeout: 1s").await;
    let mut s = connect_and_send(&gw, b"GET /0 HTTP/1.1\r\nHost: a\r\n\r\n").await;
    // Requests about 300 ms apart keep it open well past the timeout: each
    // wait for the next request has the whole timeout again.
    for i in 1..=4 {
        let answer = read_for(&mut s, Duration::from_millis(300)).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "request {i}: {answer}");
        s.write_all(format!("GET /{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await
            .expect("the connection is still open");
    }
    let last = read_for(&mut s, Duration::from_millis(300)).await;
    assert!(last.starts_with("HTTP/1.1 200 "), "{last}");
    // Then idle: closed without an answer.
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(8), s.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed without an answer: {read:?}"
    );
    assert_eq!(up.served(), 5);
}

/// Sends `piece(i)` every 300 ms (at most 40 times) until the gateway
/// answers a JSON body or closes; returns what it answered.
async fn trickle(s: &mut tokio::net::TcpStream, piece: impl Fn(usize) -> Vec<u8>) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    for i in 0..40 {
        let _ = s.write_all(&piece(i)).await;
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await
        {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.ends_with(b"}") {
                break;
            }
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

async fn connect_and_send(gw: &Gateway, bytes: &[u8]) -> tokio::net::TcpStream {
    common::connect_and_send(gw.port, bytes).await
}

/// What arrives on `s` until it closes or is quiet for `quiet`.
async fn read_for(s: &mut tokio::net::TcpStream, quiet: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(quiet, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxied_body_that_trickles_past_its_deadline_gets_408_json() {
    let up = Upstream::start("api").await;
    let gw = Gateway::start(&format!(
        "limits: {{proxy_body_read_timeout: 1s}}\nupstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /, upstream: api, auth: none}}\n",
        up.address()
    ))
    .await;
    let mut s = connect_and_send(
        &gw,
        b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n",
    )
    .await;
    // One byte every 300 ms: each read is quick, the whole body is not.
    let started = std::time::Instant::now();
    let answer = trickle(&mut s, |_| b"x".to_vec()).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert_eq!(common::json_body(&answer)["status"]["code"], 408);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "cut off by the deadline"
    );

    let whole = common::client()
        .post(gw.url("/upload"))
        .body("y".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        whole.status(),
        200,
        "a body that arrives in time is forwarded"
    );
    let seen: serde_json::Value = whole.json().await.unwrap();
    assert_eq!(seen["body_len"], 100_000);
}
