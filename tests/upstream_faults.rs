//! Upstream faults over HTTP (issue 9): a backend that refuses, closes,
//! resets before or during its answer, hangs, answers slowly or answers
//! garbage gets the client a 502 or 504 JSON envelope within the configured
//! timeouts (never a hang, never a truncated answer passed off as whole), and
//! the gateway keeps serving a healthy backend afterwards. Health checks eject
//! a backend that stops listening and readmit it when it is back.

mod common;
#[path = "upstream_faults/faulty.rs"]
mod faulty;

use common::{Gateway, Upstream};
use faulty::{Fault, Faulty};
use serde_json::Value;
use std::time::Duration;

/// Read timeout of the faulty upstream; the client allows far longer, so a
/// gateway that ignores it shows up as a client timeout.
const READ_TIMEOUT: &str = "300ms";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .expect("client")
}

/// A gateway with `/bad/` on `backend` and `/good/` on a healthy upstream.
async fn gateway(backend: &str, good: &Upstream) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n\
         \x20 bad: {{backends: [{backend}], timeouts: {{connect: 300ms, read: {READ_TIMEOUT}, write: 300ms}}}}\n\
         \x20 good: {{backends: [{}]}}\n\
         routes:\n\
         \x20 - {{path: /bad/, upstream: bad, auth: none}}\n\
         \x20 - {{path: /good/, upstream: good, auth: none}}\n",
        good.address()
    ))
    .await
}

async fn get(gw: &Gateway, path: &str) -> (u16, String, Value) {
    let resp = client()
        .get(gw.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        content_type,
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// The fault gives `status` as a JSON envelope, twice (so a poisoned pooled
/// connection would show), and the healthy route still answers.
async fn fault_answers(fault: Fault, status: u16) {
    let good = Upstream::start("good").await;
    let bad = Faulty::start(fault).await;
    let gw = gateway(&bad.address(), &good).await;
    for attempt in 1..=2 {
        let (got, content_type, body) = get(&gw, "/bad/x").await;
        assert_eq!(got, status, "{fault:?} attempt {attempt}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert_eq!(body["status"]["success"], false);
        assert_eq!(body["status"]["code"], status);
    }
    let (got, _, body) = get(&gw, "/good/x").await;
    assert_eq!(got, 200, "the healthy route after {fault:?}");
    assert_eq!(body["backend"], "good");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_is_a_502() {
    let good = Upstream::start("good").await;
    let dead = common::RefusingPort::new();
    let gw = gateway(&dead.address, &good).await;
    let (status, _, body) = get(&gw, "/bad/x").await;
    assert_eq!(status, 502);
    assert_eq!(body["status"]["code"], 502);
    assert_eq!(get(&gw, "/good/x").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_closed_without_an_answer_is_a_502() {
    fault_answers(Fault::CloseSilently, 502).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_reset_before_the_answer_is_a_502() {
    fault_answers(Fault::Reset, 502).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_that_is_not_http_is_a_502() {
    fault_answers(Fault::Garbage, 502).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_impossible_status_line_is_a_502() {
    fault_answers(Fault::BadStatusLine, 502).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_never_answers_is_a_504_after_the_read_timeout() {
    fault_answers(Fault::Hang, 504).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_slower_than_the_read_timeout_is_a_504() {
    fault_answers(Fault::Slow(Duration::from_secs(3)), 504).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_slower_than_usual_but_within_the_read_timeout_passes() {
    let good = Upstream::start("good").await;
    let bad = Faulty::start(Fault::Slow(Duration::from_millis(50))).await;
    let gw = gateway(&bad.address(), &good).await;
    let (status, _, body) = get(&gw, "/bad/x").await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_in_the_middle_of_the_body_never_reaches_the_client_as_a_whole_answer() {
    let good = Upstream::start("good").await;
    let bad = Faulty::start(Fault::ResetMidBody).await;
    let gw = gateway(&bad.address(), &good).await;
    let resp = client().get(gw.url("/bad/x")).send().await;
    // The head may already be on its way (200) or the gateway may still turn
    // it into an error; either way the client must not get a complete body.
    match resp {
        Ok(resp) if resp.status() == 200 => {
            let body = resp.bytes().await;
            assert!(
                body.is_err(),
                "a truncated body was delivered as complete: {body:?}"
            );
        }
        Ok(resp) => assert!(
            [502, 504].contains(&resp.status().as_u16()),
            "{}",
            resp.status()
        ),
        Err(e) => assert!(!e.is_timeout(), "the gateway hung: {e}"),
    }
    assert_eq!(get(&gw, "/good/x").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backend_closing_idle_pooled_connections_does_not_fail_later_requests() {
    let good = Upstream::start("good").await;
    let bad = Faulty::start(Fault::CloseAfterAnswer).await;
    let gw = gateway(&bad.address(), &good).await;
    for round in 1..=5 {
        let (status, _, body) = get(&gw, "/bad/x").await;
        assert_eq!(status, 200, "round {round}: {body}");
        // Let the backend close the connection the gateway keeps pooled.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        bad.connections() >= 5,
        "each request needed a new connection"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_eject_a_backend_that_stops_listening_and_readmit_it_when_back() {
    let a = Upstream::start("a").await;
    let b = Upstream::start("b").await;
    let b_port = b.port;
    let gw = Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}, {}], health_check: {{path: /healthz, interval: 200ms}}, \
         timeouts: {{connect: 300ms, read: 1s}}}}\nroutes:\n  - {{path: /, upstream: api, auth: none}}\n",
        a.address(),
        b.address()
    ))
    .await;

    b.stop();
    drop(b);
    wait_for(&gw, "b ejected", |backends| {
        backends.iter().all(|name| name == "a")
    })
    .await;

    // Back on the same port: readmitted.
    let b = Upstream::start_on("b", b_port).await;
    wait_for(&gw, "b readmitted", |backends| {
        backends.iter().any(|name| name == "b")
    })
    .await;
    assert!(b.served() > 0);
}

/// Polls until ten requests in a row are all 200 and their backends satisfy
/// `done`; gives up after a generous deadline.
async fn wait_for(gw: &Gateway, what: &str, done: impl Fn(&[String]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut backends = Vec::new();
        for _ in 0..10 {
            let (status, _, body) = get(gw, "/x").await;
            assert!(
                [200, 502, 503].contains(&status),
                "{what}: unexpected {status} {body}"
            );
            if status == 200 {
                backends.push(body["backend"].as_str().unwrap_or_default().to_string());
            }
        }
        if backends.len() == 10 && done(&backends) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached, last backends {backends:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
