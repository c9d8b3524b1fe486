//! What operators watch: `/metrics` read with a Prometheus text parser before
//! and after traffic, and JSON log lines.

mod common;

use common::{Gateway, Upstream};
use prometheus_parse::{Scrape, Value};

async fn scrape(gw: &Gateway) -> Scrape {
    let text = common::client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid Prometheus text")
}

/// The value of the sample `name` whose labels include all of `labels`.
fn sample(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => f64::NAN,
        })
}

/// One route, `open`, for every path, no auth, to `backend`.
fn open_route(backend: &str) -> String {
    format!(
        "upstreams:\n  api: {{backends: [{backend}]}}\nroutes:\n  - {{name: open, path: /, upstream: api, auth: none}}\n"
    )
}

/// A gateway with `body` that logs JSON lines.
async fn json_logging(body: &str) -> Gateway {
    Gateway::start_with_args(body, &["--log-format", "json"]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_and_histograms_move_with_traffic() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{name: open, path: /open/, upstream: api, auth: none}}\n  - {{name: closed, path: /closed/, upstream: api}}\n",
        up.address()
    ))
    .await;

    let before = scrape(&gw).await;
    assert_eq!(sample(&before, "portcullis_build_info", &[]), Some(1.0));
    assert_eq!(
        sample(&before, "portcullis_requests_total", &[("route", "open")]),
        None
    );
    assert_eq!(
        sample(
            &before,
            "portcullis_upstream_backend_healthy",
            &[("upstream", "api")]
        ),
        Some(1.0)
    );

    let client = common::client();
    for _ in 0..5 {
        client.get(gw.url("/open/x")).send().await.unwrap();
    }
    for _ in 0..2 {
        client.get(gw.url("/closed/x")).send().await.unwrap();
    }

    // Pingora counts a request after its response is written: wait for the last one.
    let mut after = scrape(&gw).await;
    for _ in 0..20 {
        let closed = sample(&after, "portcullis_requests_total", &[("route", "closed")]);
        if closed == Some(2.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        after = scrape(&gw).await;
    }
    let requests = |route, status| {
        sample(
            &after,
            "portcullis_requests_total",
            &[("route", route), ("method", "GET"), ("status", status)],
        )
    };
    assert_eq!(requests("open", "200"), Some(5.0));
    assert_eq!(requests("closed", "401"), Some(2.0));
    assert_eq!(
        sample(
            &after,
            "portcullis_request_duration_seconds_count",
            &[("route", "open")]
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &after,
            "portcullis_upstream_duration_seconds_count",
            &[("upstream", "api")]
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &after,
            "portcullis_auth_decisions_total",
            &[("route", "closed"), ("result", "missing")]
        ),
        Some(2.0)
    );
    for s in &after.samples {
        assert!(
            s.metric.starts_with("portcullis_"),
            "unexpected metric {}",
            s.metric
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_are_one_object_per_line_without_query_strings() {
    let up = Upstream::start("up").await;
    let gw = json_logging(&open_route(&up.address())).await;
    common::client()
        .get(gw.url("/search?api_key=do-not-log-me"))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = gw.log();
    let mut access = None;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["target"] == "access" {
            access = Some(v);
        }
    }
    let access = access.expect("an access line");
    assert_eq!(access["path"], "/search");
    assert_eq!(access["status"], 200);
    assert_eq!(access["route"], "open");
    assert!(access["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        !log.contains("do-not-log-me"),
        "query strings never reach the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_log_can_be_turned_off() {
    let up = Upstream::start("up").await;
    let gw = json_logging(&open_route(&up.address())).await;
    let access_lines = |log: String| log.matches("\"target\":\"access\"").count();
    common::client().get(gw.url("/x")).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(access_lines(gw.log()), 1, "on by default");

    gw.reload_with_server_keys("access_log: false").await;
    common::client().get(gw.url("/x")).send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(access_lines(gw.log()), 1, "no access line once turned off");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_proxy_attempt_is_logged_without_its_query_string() {
    let dead = common::RefusingPort::new();
    let gw = Gateway::start(&open_route(&dead.address)).await;
    let resp = common::client()
        .get(gw.url("/callback?code=SECRET-CODE-1&access_token=SECRET-TOKEN-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = gw.log();
    let failure = log
        .lines()
        .find(|l| l.contains("Fail to proxy"))
        .unwrap_or_else(|| panic!("Pingora logs the failed attempt:\n{log}"));
    assert!(failure.contains("GET /callback"), "{failure}");
    assert!(
        !log.contains("SECRET"),
        "query strings never reach the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn at_debug_level_no_credential_reaches_the_log() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start_with_env(&open_route(&up.address()), &[("RUST_LOG", "debug")]).await;
    let resp = common::client()
        .get(gw.url("/x"))
        .header("Authorization", "Bearer SECRET-BEARER-3")
        .header("Cookie", "session=SECRET-COOKIE-4")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A refused login: the gateway's own debug line for it shows the level is on.
    let login = common::client()
        .post(gw.url("/user/login"))
        .json(
            &serde_json::json!({"emailId": "nobody@example.com", "password": "SECRET-PASSWORD-5"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = gw.log();
    assert!(
        log.contains("DEBUG"),
        "the gateway logs at debug level:\n{log}"
    );
    assert!(!log.contains("SECRET"), "no credential in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_is_in_the_access_log_not_an_error_line() {
    let up = Upstream::start("up").await;
    let gw = json_logging(&open_route(&up.address())).await;
    let client =
        common::connect_and_send(gw.port, b"GET /slow?ms=600 HTTP/1.1\r\nHost: a\r\n\r\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(client); // gone before the upstream answers
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let log = gw.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let access = lines
        .iter()
        .find(|v| v["target"] == "access" && v["path"] == "/slow")
        .unwrap_or_else(|| panic!("an access line for the abandoned request:\n{log}"));
    assert!(access["error"].is_string(), "{access}");
    assert!(
        !lines.iter().any(|v| v["level"] == "ERROR"),
        "no error line for a client's going away:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_answer_the_client_reset_is_logged_without_its_query_string() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start_with_env(&open_route(&up.address()), &[("RUST_LOG", "debug")]).await;
    // Ask for /metrics and reset the connection at once: the reset lands
    // behind the request, so the gateway reads the request and then finds it
    // cannot write the answer. Should the answer get out first (a busy
    // machine can order it so), the attempt is repeated, for at most 20 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut noted = false;
    let mut attempt = 0;
    while !noted && std::time::Instant::now() < deadline {
        attempt += 1;
        let request =
            format!("GET /metrics?access_token=SECRET-ADMIN-{attempt} HTTP/1.1\r\nHost: a\r\n\r\n");
        let client = common::connect_and_send(gw.admin_port, request.as_bytes()).await;
        client.set_zero_linger().unwrap();
        drop(client); // closing with a zero linger resets the connection
        if attempt % 5 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            noted = gw.log().contains("admin: could not answer");
        }
    }
    let log = gw.log();
    assert!(noted, "no reset came while an answer was written:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("admin: could not answer"))
        .unwrap();
    assert!(line.contains("GET /metrics"), "{line}");
    assert!(
        !log.contains("SECRET"),
        "query strings never reach the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_request_that_does_not_parse_leaves_no_credential_in_the_log() {
    let up = Upstream::start("up").await;
    let gw = Gateway::start_with_env(&open_route(&up.address()), &[("RUST_LOG", "debug")]).await;
    let answer = common::raw_request(
        gw.admin_port,
        b"GET /metrics?access_token=SECRET-QUERY-6 HTTP/1.1\r\nAuthorization: Bearer SECRET-BEARER-7\r\nno colon here\r\n\r\n",
    )
    .await;
    assert!(!answer.contains("200 OK"), "{answer}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = gw.log();
    assert!(
        log.contains("admin: could not read a request"),
        "the admin listener notes the unreadable head:\n{log}"
    );
    assert!(!log.contains("SECRET"), "no credential in the log:\n{log}");
}
