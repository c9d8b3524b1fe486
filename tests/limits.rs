//! Rate limits over HTTP: 429 JSON with Retry-After and RateLimit headers,
//! and a client address taken from X-Forwarded-For only behind a trusted proxy.

mod common;

use common::Gateway;
use serde_json::Value;

async fn post_auth(gw: &Gateway, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = common::client()
        .post(gw.url("/auth/v1/token/generate"))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", ip);
    }
    req.send().await.expect("request")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_over_the_auth_limit_gets_429_with_retry_headers() {
    let gw = Gateway::start("limits: {rate: {auth_per_ip: {rps: 0.5, burst: 3}}}\n").await;
    for _ in 0..3 {
        assert_ne!(post_auth(&gw, None).await.status().as_u16(), 429);
    }
    let resp = post_auth(&gw, None).await;
    assert_eq!(resp.status().as_u16(), 429);
    let h = resp.headers();
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(h["ratelimit-limit"], "3");
    assert_eq!(h["ratelimit-remaining"], "0");
    assert!(h.contains_key("ratelimit-reset"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"]["code"], 429);
    let metrics = common::client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("portcullis_rate_limited_total{limit=\"auth_per_ip\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    // Untrusted peer: X-Forwarded-For is ignored, all requests share one bucket.
    let gw = Gateway::start("limits: {rate: {auth_per_ip: {rps: 0.5, burst: 2}}}\n").await;
    let mut limited = 0;
    for i in 0..4 {
        if post_auth(&gw, Some(&format!("198.51.100.{i}")))
            .await
            .status()
            == 429
        {
            limited += 1;
        }
    }
    assert_eq!(limited, 2);

    // Trusted peer: each forwarded client has its own bucket.
    let gw = Gateway::start(
        "limits: {trusted_proxies: [127.0.0.0/8], rate: {auth_per_ip: {rps: 0.5, burst: 2}}}\n",
    )
    .await;
    for i in 0..4 {
        assert_ne!(
            post_auth(&gw, Some(&format!("198.51.100.{i}")))
                .await
                .status(),
            429
        );
    }
    for _ in 0..2 {
        post_auth(&gw, Some("203.0.113.9")).await;
    }
    assert_eq!(post_auth(&gw, Some("203.0.113.9")).await.status(), 429);
}
