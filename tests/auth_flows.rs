//! The login API over HTTP, through the real gateway: mobile and web OTP
//! logins end to end with codes caught by a webhook receiver, the issued
//! token passing a protected route, regeneration, batch bodies, the error
//! codes of each endpoint, and users surviving a restart.

mod common;

use common::{Gateway, Upstream, Webhook};
use serde_json::{json, Value};

const MOBILE: &str = "+4915112345678";

async fn gateway(up: &Upstream, hook: &Webhook, brands: &str) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\n\
         routes:\n  - {{path: /api/, upstream: api}}\n\
         otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
         limits: {{rate: {{auth_per_ip: null, auth_per_identifier: null}}}}\n\
         brands:\n{brands}",
        up.address(),
        hook.url()
    ))
    .await
}

const DEMO: &str = "  DEMO: {otp: {max_attempts: 3, max_sends: 3, send_window: 1h}}\n  PWD: {password_enabled: true}\n";

async fn post(gw: &Gateway, path: &str, body: Value) -> (u16, Value) {
    let resp = common::client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn code(v: &Value) -> i64 {
    v["status"]["code"].as_i64().unwrap_or(-1)
}

fn who(family: &str) -> Value {
    let mut v = json!({"identifierType": "MOBILE", "identifierValue": MOBILE, "brand": "demo"});
    if family == "mobile" {
        v["deviceId"] = json!("device-1");
    }
    v
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object").clone() {
        base[k] = v;
    }
    base
}

/// token/generate → otp/generate → otp/validate; returns the validate answer.
async fn login(gw: &Gateway, hook: &Webhook, prefix: &str, family: &str) -> Value {
    let (status, opened) = post(gw, &format!("{prefix}/token/generate"), who(family)).await;
    assert_eq!(status, 200, "{opened}");
    let session = opened["user"]["sessionId"]
        .as_str()
        .expect("sessionId")
        .to_string();
    let (status, sent) = post(
        gw,
        &format!("{prefix}/otp/generate"),
        with(who(family), json!({"sessionId": session})),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let otp = hook
        .last_code_for(MOBILE.trim_start_matches('+'))
        .or_else(|| hook.last_code_for(MOBILE))
        .expect("a code was delivered");
    let (status, done) = post(
        gw,
        &format!("{prefix}/otp/validate"),
        with(who(family), json!({"sessionId": session, "otp": otp})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    done
}

async fn protected(gw: &Gateway, token: &str) -> (u16, Value) {
    let resp = common::client()
        .get(gw.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mobile_login_gets_a_token_that_passes_a_protected_route_and_a_key_that_regenerates() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;

    let (status, opened) = post(&gw, "/auth/v1/token/generate", who("mobile")).await;
    assert_eq!(status, 200);
    assert_eq!(
        opened["status"],
        json!({"success": true, "code": 200, "message": "SUCCESS"})
    );
    assert_eq!(opened["auth"], json!({"token": null, "key": null}));
    assert_eq!(opened["user"]["role"], "VIEW");
    assert_eq!(opened["user"]["userRegisteredForPassword"], false);
    assert!(opened["user"]["sessionId"]
        .as_str()
        .is_some_and(|s| s.len() >= 22));

    let done = login(&gw, &hook, "/auth/v1", "mobile").await;
    let delivery = hook.received().last().cloned().unwrap();
    assert_eq!(delivery["channel"], "SMS");
    assert_eq!(delivery["brand"], "DEMO");
    assert_eq!(delivery["otp"].as_str().map(str::len), Some(6));
    assert_eq!(done["user"]["role"], "USER");
    assert_eq!(done["user"]["sessionId"], Value::Null);
    let token = done["auth"]["token"].as_str().expect("token");
    let key = done["auth"]["key"].as_str().expect("mobile gets a key");

    let (status, seen) = protected(&gw, token).await;
    assert_eq!(status, 200);
    let uid = seen["headers"]["x-auth-user-id"]
        .as_str()
        .expect("user id upstream")
        .to_string();
    assert!(!uid.is_empty());
    assert_eq!(seen["headers"]["x-auth-device-id"], "device-1");

    let (status, fresh) = post(
        &gw,
        "/auth/v1/token/regenerate",
        with(who("mobile"), json!({"key": key})),
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["auth"]["key"], Value::Null);
    let (status, seen) = protected(&gw, fresh["auth"]["token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        seen["headers"]["x-auth-user-id"],
        uid.as_str(),
        "the same user"
    );

    // A key (no exp by default) is not an access token: refused as invalid on
    // a regular route. A wrong device cannot regenerate with it.
    assert_eq!(protected(&gw, key).await.0, 401);
    let (status, refused) = post(
        &gw,
        "/auth/v1/token/regenerate",
        with(
            who("mobile"),
            json!({"key": key, "deviceId": "someone-else"}),
        ),
    )
    .await;
    assert_eq!((status, code(&refused)), (401, 1597));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_login_gets_a_view_token_first_and_regenerates_from_its_token() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;

    let (status, opened) = post(&gw, "/auth/v1/web/token/generate", who("web")).await;
    assert_eq!(status, 200);
    let view = opened["auth"]["token"]
        .as_str()
        .expect("web gets a VIEW token");
    assert_eq!(
        protected(&gw, view).await.0,
        403,
        "VIEW tokens do not pass USER routes"
    );

    let done = login(&gw, &hook, "/auth/v1/web", "web").await;
    assert_eq!(done["auth"]["key"], Value::Null, "no key on web");
    let token = done["auth"]["token"].as_str().expect("token");
    assert_eq!(protected(&gw, token).await.0, 200);

    let (status, fresh) = post(
        &gw,
        "/auth/v1/web/token/regenerate",
        with(who("web"), json!({"expiredToken": token})),
    )
    .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        protected(&gw, fresh["auth"]["token"].as_str().unwrap())
            .await
            .0,
        200
    );

    let (status, refused) = post(
        &gw,
        "/auth/v1/web/token/regenerate",
        with(who("web"), json!({"expiredToken": "forged"})),
    )
    .await;
    assert_eq!((status, code(&refused)), (401, 1525));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_refuses_what_does_not_match_with_its_code() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;
    let m = "/auth/v1";

    let cases = [
        (with(who("mobile"), json!({"brand": "nope"})), 400, 1504),
        (
            with(who("mobile"), json!({"identifierType": "FAX"})),
            400,
            1546,
        ),
        (
            with(who("mobile"), json!({"identifierValue": "12"})),
            400,
            1519,
        ),
        (with(who("mobile"), json!({"deviceId": null})), 400, 1519),
        (
            json!({"identifierType": "USERNAME", "identifierValue": "neo", "brand": "demo", "deviceId": "d"}),
            400,
            1540,
        ),
        (
            with(
                who("mobile"),
                json!({"password": "Secret-123", "confirmPassword": "Secret-123"}),
            ),
            400,
            1524,
        ),
    ];
    for (body, http, expected) in cases {
        let (status, answer) = post(&gw, &format!("{m}/token/generate"), body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (http, expected),
            "{body} -> {answer}"
        );
        assert_eq!(answer["status"]["success"], false);
    }

    let (_, opened) = post(&gw, &format!("{m}/token/generate"), who("mobile")).await;
    let session = opened["user"]["sessionId"].as_str().unwrap().to_string();
    let step = |extra: Value| with(with(who("mobile"), json!({"sessionId": session})), extra);

    for (path, body, http, expected) in [
        (
            "otp/generate",
            step(json!({"sessionId": "no-such-session"})),
            401,
            1505,
        ),
        (
            "otp/generate",
            step(json!({"identifierValue": "+4915100000000"})),
            401,
            1541,
        ),
        (
            "otp/generate",
            step(json!({"deviceId": "other-device"})),
            401,
            1508,
        ),
        ("otp/generate", step(json!({"brand": "pwd"})), 401, 1509),
        ("otp/validate", step(json!({"otp": "123456"})), 400, 1537),
    ] {
        let (status, answer) = post(&gw, &format!("{m}/{path}"), body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (http, expected),
            "{path} {body} -> {answer}"
        );
    }

    // Wrong codes are counted; the last allowed try kills the session.
    assert_eq!(
        post(&gw, &format!("{m}/otp/generate"), step(json!({})))
            .await
            .0,
        200
    );
    let right = hook
        .last_code_for("4915112345678")
        .or_else(|| hook.last_code_for(MOBILE))
        .unwrap();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, answer) = post(
        &gw,
        &format!("{m}/otp/validate"),
        step(json!({"otp": wrong})),
    )
    .await;
    assert_eq!((status, code(&answer)), (401, 1506));
    post(
        &gw,
        &format!("{m}/otp/validate"),
        step(json!({"otp": wrong})),
    )
    .await;
    let (status, answer) = post(
        &gw,
        &format!("{m}/otp/validate"),
        step(json!({"otp": wrong})),
    )
    .await;
    assert_eq!((status, code(&answer)), (429, 1518));
    let (status, answer) = post(
        &gw,
        &format!("{m}/otp/validate"),
        step(json!({"otp": right})),
    )
    .await;
    assert_eq!(status, 401, "the right code is too late: {answer}");

    // The send limit per identifier, then a delivery failure.
    let (_, opened) = post(&gw, &format!("{m}/token/generate"), who("mobile")).await;
    let s2 = opened["user"]["sessionId"].as_str().unwrap().to_string();
    let send = || {
        post(
            &gw,
            "/auth/v1/otp/generate",
            with(who("mobile"), json!({"sessionId": s2})),
        )
    };
    let mut last = (0, Value::Null);
    for _ in 0..3 {
        last = send().await;
    }
    assert_eq!(
        code(&last.1),
        1534,
        "the 4th code within the window: {}",
        last.1
    );
    assert_eq!(last.0, 429);

    let other = json!({"identifierType": "EMAIL", "identifierValue": "mail@example.com", "brand": "demo", "deviceId": "d"});
    let (_, opened) = post(&gw, &format!("{m}/token/generate"), other.clone()).await;
    hook.set_failing(true);
    let (status, answer) = post(
        &gw,
        &format!("{m}/otp/generate"),
        with(other, json!({"sessionId": opened["user"]["sessionId"]})),
    )
    .await;
    assert_eq!((status, code(&answer)), (502, 1503));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wire_rejects_bad_requests_with_json() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;
    let client = common::client();

    let resp = client
        .post(gw.url("/auth/v1/token/generate"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    assert_eq!(code(&resp.json().await.unwrap()), 415);

    let resp = client
        .get(gw.url("/auth/v1/token/generate"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);

    let resp = client
        .post(gw.url("/auth/v1/no/such/endpoint"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(code(&resp.json().await.unwrap()), 404);

    for bad in ["{", "[1,2", "\"just a string\"", "{\"identifierType\": 5}"] {
        let resp = client
            .post(gw.url("/auth/v1/token/generate"))
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
        assert_eq!(code(&resp.json().await.unwrap()), 1519, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_answers_each_item_in_order() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;
    let (status, answers) = post(
        &gw,
        "/auth/v1/token/generate",
        json!([
            who("mobile"),
            with(who("mobile"), json!({"brand": "unknown"})),
            with(who("mobile"), json!({"identifierType": "X"}))
        ]),
    )
    .await;
    assert_eq!(status, 200);
    let items = answers.as_array().expect("an array");
    assert_eq!(items.len(), 3);
    assert_eq!(code(&items[0]), 200);
    assert!(items[0]["user"]["sessionId"].is_string());
    assert_eq!(code(&items[1]), 1504);
    assert_eq!(code(&items[2]), 1546);

    let (status, answer) = post(&gw, "/auth/v1/token/generate", json!([])).await;
    assert_eq!((status, code(&answer)), (400, 1519));
    let too_many: Vec<Value> = (0..51).map(|_| who("mobile")).collect();
    let (status, answer) = post(&gw, "/auth/v1/token/generate", Value::Array(too_many)).await;
    assert_eq!((status, code(&answer)), (400, 1519));
}

#[tokio::test(flavor = "multi_thread")]
async fn registered_users_survive_a_restart() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;
    let first = login(&gw, &hook, "/auth/v1", "mobile").await;
    let (_, seen) = protected(&gw, first["auth"]["token"].as_str().unwrap()).await;
    let uid = seen["headers"]["x-auth-user-id"]
        .as_str()
        .unwrap()
        .to_string();

    let gw = gw.restart().await;
    let again = login(&gw, &hook, "/auth/v1", "mobile").await;
    let (status, seen) = protected(&gw, again["auth"]["token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        seen["headers"]["x-auth-user-id"],
        uid.as_str(),
        "the same account after a restart"
    );
    // A token issued before the restart still verifies (same key, same store).
    assert_eq!(
        protected(&gw, first["auth"]["token"].as_str().unwrap())
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_code_token_key_session_or_secret_reaches_the_log() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook, DEMO).await;
    let mobile = login(&gw, &hook, "/auth/v1", "mobile").await;
    let web = login(&gw, &hook, "/auth/v1/web", "web").await;
    let token = mobile["auth"]["token"].as_str().unwrap().to_string();
    let key = mobile["auth"]["key"].as_str().unwrap().to_string();
    protected(&gw, &token).await;
    post(
        &gw,
        "/auth/v1/token/regenerate",
        with(who("mobile"), json!({"key": key})),
    )
    .await;
    post(
        &gw,
        "/auth/v1/otp/validate",
        with(who("mobile"), json!({"sessionId": "x", "otp": "987654"})),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = gw.log();
    assert!(log.contains("access"), "the log was captured: {log}");
    let mut secrets: Vec<String> = vec![
        token,
        key,
        web["auth"]["token"].as_str().unwrap().to_string(),
        String::from_utf8_lossy(common::TEST_SECRET).into_owned(),
        "987654".into(),
    ];
    for delivery in hook.received() {
        secrets.push(delivery["otp"].as_str().unwrap().to_string());
    }
    for secret in &secrets {
        // A token's signature alone must not appear either.
        let needle = secret.rsplit('.').next().unwrap_or(secret);
        assert!(!log.contains(needle), "a secret reached the log: {needle}");
    }
}
