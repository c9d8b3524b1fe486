//! The wire before any flow: routing, method, content type, size, JSON, and
//! hostile bodies. Every answer is a JSON envelope, never a panic.

use super::*;
use crate::metrics::METRICS;

fn raw(method: http::Method, path: &str, content_type: Option<&str>, body: &[u8]) -> ApiRequest {
    ApiRequest {
        method,
        path: path.into(),
        content_type: content_type.map(str::to_owned),
        authorization: None,
        client_ip: None,
        body: bytes::Bytes::copy_from_slice(body),
    }
}

#[tokio::test]
async fn unknown_endpoints_are_a_404_envelope() {
    let h = harness().await;
    for path in [
        "/auth/v1/token/mint",
        "/auth/v1/web/nothing",
        "/auth/v1/web",
        "/auth/v2/token/generate",
    ] {
        let (status, answer) = h.post(path, &json!({})).await;
        assert_eq!((status, code(&answer)), (404, 404), "{path}");
        assert_eq!(answer["status"]["success"], false);
    }
}

#[tokio::test]
async fn every_endpoint_of_the_contract_is_served() {
    let h = harness().await;
    for path in [
        "/auth/v1/password/validate",
        "/auth/v1/web/password/change",
        "/auth/v1/password/forget",
        "/auth/v1/web/token/expire",
    ] {
        let (status, answer) = h.post(path, &json!({})).await;
        assert_eq!((status, code(&answer)), (400, 1519), "{path}: {answer}");
    }
    let (status, answer) = h.post("/user/login", &json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(answer["responseCode"], 400);
}

#[tokio::test]
async fn only_post_is_allowed() {
    let h = harness().await;
    let response = h
        .api
        .handle(raw(http::Method::GET, "/auth/v1/token/generate", None, b""))
        .await;
    assert_eq!(response.status, 405);
    assert!(response.headers.contains(&("allow".into(), "POST".into())));
    let answer: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(code(&answer), 405);
}

#[tokio::test]
async fn the_body_must_be_declared_json() {
    let h = harness().await;
    let body = mobile("919999900050").to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, answer) = h
            .send(raw(
                http::Method::POST,
                "/auth/v1/token/generate",
                content_type,
                body.as_bytes(),
            ))
            .await;
        assert_eq!((status, code(&answer)), (415, 415), "{content_type:?}");
        assert_eq!(
            answer["status"]["message"],
            "Content-Type must be application/json"
        );
    }
    let (status, _) = h
        .send(raw(
            http::Method::POST,
            "/auth/v1/token/generate",
            Some("application/json; charset=UTF-8"),
            body.as_bytes(),
        ))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_1519() {
    let h = harness().await;
    let deep = "[".repeat(60_000);
    let deep_object = "{\"a\":".repeat(5_000) + "1" + &"}".repeat(5_000);
    let bodies: [&[u8]; 7] = [
        b"",
        b"identifierType=MOBILE",
        b"{\"identifierType\":\"MOBILE\"",
        b"\xff\xfe\x00{}",
        b"{\"brand\":\"DEMO\xc0\"}",
        deep.as_bytes(),
        deep_object.as_bytes(),
    ];
    for body in bodies {
        let (status, answer) = h
            .send(request(
                "/auth/v1/otp/validate",
                bytes::Bytes::copy_from_slice(body),
            ))
            .await;
        assert_eq!((status, code(&answer)), (400, 1519));
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let mut cfg = config();
    cfg.limits.body_max = crate::config::Size(1024);
    let h = harness_with(cfg).await;
    let body = with(
        &mobile("919999900051"),
        json!({"padding": "x".repeat(2000)}),
    );
    let (status, answer) = h.post("/auth/v1/token/generate", &body).await;
    assert_eq!((status, code(&answer)), (413, 413));
}

#[tokio::test]
async fn hostile_values_get_their_documented_code() {
    let mut cfg = config();
    cfg.limits.body_max = crate::config::Size(1 << 20);
    let h = harness_with(cfg).await;
    let ann = mobile("919999900052");
    let cases = [
        json!(null),
        json!("MOBILE"),
        json!(919999900052u64),
        with(&ann, json!({"identifierValue": 919999900052u64})),
        with(&ann, json!({"identifierValue": "9".repeat(100_000)})),
        with(&ann, json!({"identifierType": ["MOBILE"]})),
        with(&ann, json!({"identifierType": "M".repeat(10_000)})),
        with(&ann, json!({"brand": {"name": "DEMO"}})),
        with(&ann, json!({"brand": true})),
        with(&ann, json!({"deviceId": 1.5})),
        with(&ann, json!({"deviceId": "nul\u{0}byte"})),
    ];
    for body in cases {
        let (status, answer) = h.post("/auth/v1/token/generate", &body).await;
        let shown: String = body.to_string().chars().take(80).collect();
        assert_eq!((status, code(&answer)), (400, 1519), "{shown}");
    }
    let (status, _) = h
        .post("/auth/v1/token/generate", &with(&ann, json!({"email": 12})))
        .await;
    assert_eq!(status, 200, "mobile and email are only read for USERNAME");
}

#[tokio::test]
async fn every_answer_is_counted_by_endpoint_family_and_code() {
    let h = harness().await;
    let counter = || {
        METRICS
            .auth_api_requests_total
            .with_label_values(&["token/generate", "web", "1504"])
            .get()
    };
    let before = counter();
    h.post(
        "/auth/v1/web/token/generate",
        &with(&web_email("a@b.co"), json!({"brand": "NOPE"})),
    )
    .await;
    h.post(
        "/auth/v1/web/token/generate",
        &json!([with(&web_email("a@b.co"), json!({"brand": "NOPE"}))]),
    )
    .await;
    assert!(counter() >= before + 2);
    let unknown = METRICS
        .auth_api_requests_total
        .with_label_values(&["unknown", "mobile", "404"]);
    let before = unknown.get();
    h.post("/auth/v1/whatever", &json!({})).await;
    assert!(unknown.get() > before);
}
