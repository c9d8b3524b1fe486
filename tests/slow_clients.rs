//! Clients that hold connections without finishing requests: thousands of
//! idle connections and header tricklers (slowloris) must not stop the
//! gateway from serving everyone else.

mod common;

use common::{Gateway, Upstream};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

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
