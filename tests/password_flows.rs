//! Passwords over HTTP, through the real gateway: registration with a
//! password then login by password, the codes of password/validate,
//! password/change, password/forget and token/expire, lockout and the
//! `portcullis user` CLI, revoked tokens refused at a protected route,
//! `POST /user/login` with its exact bodies and its API key, one answer for
//! unknown account and wrong password, and a storm of password checks that
//! leaves the proxy path free.

mod common;

use common::{Gateway, Upstream, Webhook};
use serde_json::{json, Value};
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

const M: &str = "/auth/v1";
const W: &str = "/auth/v1/web";
const PASSWORD: &str = "correct horse";
const NEW: &str = "battery staple";

async fn gateway(up: &Upstream, hook: &Webhook) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\n\
         routes:\n  - {{path: /api/, upstream: api}}\n  - {{path: /keys/, upstream: api, api_key: true}}\n\
         otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
         limits: {{rate: {{auth_per_ip: null, auth_per_identifier: null}}}}\n\
         login: {{brand: pwd, token_ttl: 1h}}\n\
         brands:\n  DEMO: {{}}\n  \
         PWD: {{password_enabled: true, password: {{min_length: 8, max_attempts: 3}}, lockout: {{enabled: true, window: 30m, period: 30m}}}}\n",
        up.address(),
        hook.url()
    ))
    .await
}

async fn post(gw: &Gateway, path: &str, body: Value) -> (u16, Value) {
    post_as(gw, path, None, body).await
}

async fn post_as(gw: &Gateway, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = common::client()
        .post(gw.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn code(v: &Value) -> i64 {
    v["status"]["code"].as_i64().unwrap_or(-1)
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object").clone() {
        if v.is_null() {
            base.as_object_mut().expect("object").remove(&k);
        } else {
            base[k] = v;
        }
    }
    base
}

/// A mobile body on PWD for this address.
fn ann(email: &str) -> Value {
    json!({"identifierType": "EMAIL", "identifierValue": email, "brand": "pwd", "deviceId": "device-1"})
}

fn web(email: &str) -> Value {
    json!({"identifierType": "EMAIL", "identifierValue": email, "brand": "PWD"})
}

async fn session(gw: &Gateway, prefix: &str, body: Value) -> String {
    let (status, opened) = post(gw, &format!("{prefix}/token/generate"), body).await;
    assert_eq!(status, 200, "{opened}");
    opened["user"]["sessionId"]
        .as_str()
        .expect("sessionId")
        .to_string()
}

/// The code of a session: otp/generate, then the webhook's catch.
async fn otp_of(gw: &Gateway, hook: &Webhook, prefix: &str, body: &Value, session: &str) -> String {
    let (status, sent) = post(
        gw,
        &format!("{prefix}/otp/generate"),
        with(body.clone(), json!({"sessionId": session})),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let to = body["identifierValue"].as_str().unwrap_or_default();
    hook.last_code_for(to).expect("a code was delivered")
}

/// token/generate with a first password, then the OTP.
async fn register(gw: &Gateway, hook: &Webhook, body: &Value, password: &str) -> Value {
    let staged = with(
        body.clone(),
        json!({"password": password, "confirmPassword": password}),
    );
    let id = session(gw, M, staged).await;
    let otp = otp_of(gw, hook, M, body, &id).await;
    let (status, done) = post(
        gw,
        &format!("{M}/otp/validate"),
        with(body.clone(), json!({"sessionId": id, "otp": otp})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    done
}

async fn password_login(gw: &Gateway, prefix: &str, body: &Value, password: &str) -> (u16, Value) {
    let id = session(gw, prefix, body.clone()).await;
    post(
        gw,
        &format!("{prefix}/password/validate"),
        with(body.clone(), json!({"sessionId": id, "password": password})),
    )
    .await
}

async fn protected(gw: &Gateway, token: &str) -> u16 {
    common::client()
        .get(gw.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Polls a protected route until the token is refused (the verified-token
/// cache re-checks revocation every couple of seconds); the bound only
/// keeps a broken build from hanging.
async fn refused_within_seconds(gw: &Gateway, token: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if protected(gw, token).await == 401 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// `portcullis user <args> -c <config>` in the gateway's folder.
fn user_cli(gw: &Gateway, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = common::portcullis()
        .arg("user")
        .args(args)
        .arg("-c")
        .arg(&gw.config_path)
        .current_dir(gw.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run portcullis user");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("portcullis user finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_registered_with_the_otp_logs_in_on_mobile_and_web() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let body = ann("ann@example.com");
    let done = register(&gw, &hook, &body, PASSWORD).await;
    assert_eq!(done["user"]["userRegisteredForPassword"], true);

    let (_, opened) = post(&gw, &format!("{M}/token/generate"), body.clone()).await;
    assert_eq!(opened["user"]["userRegisteredForPassword"], true);
    let (status, answer) = password_login(&gw, M, &body, PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["user"],
        json!({"appRegistered": false, "sessionId": null, "role": "USER", "userRegisteredForPassword": true})
    );
    assert!(answer["auth"]["key"].is_string(), "mobile gets a key");
    assert_eq!(
        protected(&gw, answer["auth"]["token"].as_str().unwrap()).await,
        200
    );

    let (status, answer) = password_login(&gw, W, &web("ann@example.com"), PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["auth"]["key"], Value::Null);
    assert_eq!(
        protected(&gw, answer["auth"]["token"].as_str().unwrap()).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_generate_answers_the_first_password_codes() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let body = ann("new@example.com");
    let demo = with(
        body.clone(),
        json!({"brand": "DEMO", "password": PASSWORD, "confirmPassword": PASSWORD}),
    );
    let cases = [
        (body.clone(), 400, 1520),
        (
            with(
                body.clone(),
                json!({"password": PASSWORD, "confirmPassword": NEW}),
            ),
            400,
            1521,
        ),
        (
            with(
                body.clone(),
                json!({"password": "short", "confirmPassword": "short"}),
            ),
            400,
            1542,
        ),
        (demo, 400, 1524),
    ];
    for (req, status, number) in cases {
        let (s, answer) = post(&gw, &format!("{M}/token/generate"), req.clone()).await;
        assert_eq!((s, code(&answer)), (status, number), "{req}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn password_validate_answers_every_code() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let body = ann("ann@example.com");
    register(&gw, &hook, &body, PASSWORD).await;
    let id = session(&gw, M, body.clone()).await;
    let base = with(
        body.clone(),
        json!({"sessionId": id, "password": "wrong horse"}),
    );
    let cases = [
        (with(base.clone(), json!({"password": null})), 400, 1519),
        (
            with(base.clone(), json!({"identifierType": "PHONE"})),
            400,
            1546,
        ),
        (with(base.clone(), json!({"brand": "ACME"})), 400, 1504),
        (with(base.clone(), json!({"brand": "DEMO"})), 400, 1524),
        (with(base.clone(), json!({"sessionId": "gone"})), 401, 1505),
        (
            with(base.clone(), json!({"deviceId": "device-2"})),
            401,
            1508,
        ),
        (
            with(base.clone(), json!({"identifierValue": "bob@example.com"})),
            401,
            1541,
        ),
        (base.clone(), 401, 1528),
        (base.clone(), 401, 1528),
        (base.clone(), 429, 1530),
        (with(base.clone(), json!({"password": PASSWORD})), 429, 1530),
    ];
    for (req, status, number) in cases {
        let (s, answer) = post(&gw, &format!("{M}/password/validate"), req.clone()).await;
        assert_eq!((s, code(&answer)), (status, number), "{req}");
    }
    let resp = common::client()
        .post(gw.url(&format!("{M}/password/validate")))
        .header("content-type", "text/plain")
        .body(base.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let resp = common::client()
        .get(gw.url(&format!("{W}/password/validate")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_account_and_wrong_password_are_indistinguishable() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let known = ann("ann@example.com");
    register(&gw, &hook, &known, PASSWORD).await;
    // An unknown account reaches password/validate through a session that
    // staged a password which no OTP ever committed.
    let stranger = ann("nobody@example.com");
    let staged = with(
        stranger.clone(),
        json!({"password": PASSWORD, "confirmPassword": PASSWORD}),
    );

    let mut answers = Vec::new();
    for (body, open) in [(known.clone(), known.clone()), (stranger.clone(), staged)] {
        let id = session(&gw, M, open).await;
        let resp = common::client()
            .post(gw.url(&format!("{M}/password/validate")))
            .header("content-type", "application/json")
            .body(with(body, json!({"sessionId": id, "password": "wrong horse"})).to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let mut headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(name, _)| *name != "date" && *name != "x-request-id")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        headers.sort();
        let body = resp.bytes().await.unwrap();
        answers.push((status, headers, body));
    }
    assert_eq!(
        answers[0], answers[1],
        "same status, headers and body bytes"
    );
    assert_eq!(answers[0].0, 401);
    let body: Value = serde_json::from_slice(&answers[0].2).unwrap();
    assert_eq!(code(&body), 1528);
}

#[tokio::test(flavor = "multi_thread")]
async fn lockout_and_the_user_cli() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let who = ["--brand", "pwd", "--email", "Op@Example.com"];

    let (ok, out) = user_cli(
        &gw,
        &[&["add"][..], &who, &["--password-stdin"]].concat(),
        Some("short\n"),
    );
    assert!(!ok, "the brand's policy applies: {out}");
    let (ok, out) = user_cli(
        &gw,
        &[&["add"][..], &who, &["--password-stdin"]].concat(),
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}");
    let (ok, out) = user_cli(&gw, &[&["add"][..], &who].concat(), None);
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = user_cli(&gw, &[&["show"][..], &who].concat(), None);
    assert!(ok, "{out}");
    assert!(out.contains("identifier: EMAIL|op@example.com"), "{out}");
    assert!(out.contains("password:   set"), "{out}");
    assert!(out.contains("locked:     no"), "{out}");
    assert!(!out.contains("$argon2"), "never a hash: {out}");

    let body = ann("op@example.com");
    for _ in 0..2 {
        assert_eq!(password_login(&gw, M, &body, "wrong horse").await.0, 401);
    }
    let (status, answer) = password_login(&gw, M, &body, "wrong horse").await;
    assert_eq!((status, code(&answer)), (429, 1530));
    let (status, answer) = password_login(&gw, M, &body, PASSWORD).await;
    assert_eq!(
        (status, code(&answer)),
        (429, 1530),
        "even the right password"
    );
    let (_, out) = user_cli(&gw, &[&["show"][..], &who].concat(), None);
    assert!(out.contains("locked:     yes, until"), "{out}");
    let metrics = common::client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("account_lockouts_total{brand=\"PWD\"} 1"),
        "{metrics}"
    );
    assert!(gw
        .log()
        .contains("account locked after too many wrong passwords"));

    let (ok, out) = user_cli(&gw, &[&["unlock"][..], &who].concat(), None);
    assert!(ok, "{out}");
    let (status, answer) = password_login(&gw, M, &body, PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["auth"]["token"].as_str().unwrap().to_string();

    let (ok, out) = user_cli(&gw, &[&["lock"][..], &who].concat(), None);
    assert!(ok, "{out}");
    let (status, answer) = password_login(&gw, M, &body, PASSWORD).await;
    assert_eq!((status, code(&answer)), (429, 1530), "an operator's lock");
    let (_, out) = user_cli(&gw, &[&["show"][..], &who].concat(), None);
    assert!(out.contains("without end"), "{out}");

    let (ok, out) = user_cli(&gw, &[&["delete"][..], &who].concat(), None);
    assert!(ok, "{out}");
    assert!(
        refused_within_seconds(&gw, &token).await,
        "a deleted account's token fails"
    );
    let (ok, out) = user_cli(&gw, &[&["show"][..], &who].concat(), None);
    assert!(!ok && out.contains("no such account"), "{out}");
    let login = post(
        &gw,
        "/user/login",
        json!({"emailId": "op@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(login.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_revokes_the_old_token_at_protected_routes() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let body = ann("ann@example.com");
    let first = register(&gw, &hook, &body, PASSWORD).await;
    let old = first["auth"]["token"].as_str().unwrap().to_string();
    assert_eq!(protected(&gw, &old).await, 200, "cached as valid first");

    let change = |password: &str, new: &str, confirm: &str| json!({"password": password, "newPassword": new, "confirmPassword": confirm});
    let path = format!("{M}/password/change");
    let cases = [
        (None, change(PASSWORD, NEW, NEW), 400, 1519),
        (Some("not.a.token"), change(PASSWORD, NEW, NEW), 401, 1529),
        (
            Some(old.as_str()),
            change(PASSWORD, NEW, "battery stapler"),
            400,
            1521,
        ),
        (
            Some(old.as_str()),
            change(PASSWORD, "short", "short"),
            400,
            1542,
        ),
        (
            Some(old.as_str()),
            change(PASSWORD, PASSWORD, PASSWORD),
            400,
            1527,
        ),
        (
            Some(old.as_str()),
            change("wrong horse", NEW, NEW),
            401,
            1528,
        ),
    ];
    for (bearer, req, status, number) in cases {
        let (s, answer) = post_as(&gw, &path, bearer, req.clone()).await;
        assert_eq!((s, code(&answer)), (status, number), "{req}");
    }
    let (status, answer) = post_as(&gw, &path, Some(&old), change(PASSWORD, NEW, NEW)).await;
    assert_eq!(status, 200, "{answer}");

    assert!(
        refused_within_seconds(&gw, &old).await,
        "the old token gets 401"
    );
    let key = first["auth"]["key"].as_str().unwrap();
    let (status, answer) = post(
        &gw,
        &format!("{M}/token/regenerate"),
        with(body.clone(), json!({"key": key})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1597),
        "and so does the old key"
    );
    assert_eq!(password_login(&gw, M, &body, PASSWORD).await.0, 401);
    let (status, fresh) = password_login(&gw, M, &body, NEW).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(
        protected(&gw, fresh["auth"]["token"].as_str().unwrap()).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn password_forget_resets_through_the_otp() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let body = ann("ann@example.com");
    register(&gw, &hook, &body, PASSWORD).await;
    let id = session(&gw, M, body.clone()).await;
    let path = format!("{M}/password/forget");
    let base = with(
        body.clone(),
        json!({"sessionId": id, "password": NEW, "confirmPassword": NEW}),
    );
    let cases = [
        (
            with(
                base.clone(),
                json!({"password": null, "confirmPassword": null}),
            ),
            400,
            1520,
        ),
        (
            with(base.clone(), json!({"confirmPassword": PASSWORD})),
            400,
            1521,
        ),
        (
            with(
                base.clone(),
                json!({"password": "short", "confirmPassword": "short"}),
            ),
            400,
            1542,
        ),
        (with(base.clone(), json!({"brand": "demo"})), 400, 1524),
        (with(base.clone(), json!({"sessionId": "gone"})), 401, 1505),
    ];
    for (req, status, number) in cases {
        let (s, answer) = post(&gw, &path, req.clone()).await;
        assert_eq!((s, code(&answer)), (status, number), "{req}");
    }
    let (status, answer) = post(&gw, &path, base).await;
    assert_eq!(status, 200, "{answer}");
    let otp = otp_of(&gw, &hook, M, &body, &id).await;
    let (status, _) = post(
        &gw,
        &format!("{M}/otp/validate"),
        with(body.clone(), json!({"sessionId": id, "otp": otp})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(password_login(&gw, M, &body, PASSWORD).await.0, 401);
    assert_eq!(password_login(&gw, M, &body, NEW).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_token_and_its_key() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let body = ann("ann@example.com");
    let done = register(&gw, &hook, &body, PASSWORD).await;
    let token = done["auth"]["token"].as_str().unwrap().to_string();
    let key = done["auth"]["key"].as_str().unwrap();
    assert_eq!(protected(&gw, &token).await, 200);

    let (status, answer) =
        post_as(&gw, &format!("{M}/token/expire"), Some(&token), json!({})).await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"status": {"success": true, "code": 200, "message": "SUCCESS"}})
        )
    );
    assert!(
        refused_within_seconds(&gw, &token).await,
        "the token gets 401"
    );
    let (status, answer) = post(
        &gw,
        &format!("{M}/token/regenerate"),
        with(body.clone(), json!({"key": key})),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1597),
        "the key of its family is revoked"
    );

    let (status, answer) = post(&gw, &format!("{W}/token/expire"), json!({"token": token})).await;
    assert_eq!((status, code(&answer)), (400, 1531), "already revoked");
    let (status, answer) = post(&gw, &format!("{W}/token/expire"), json!({})).await;
    assert_eq!((status, code(&answer)), (400, 1519));
}

#[tokio::test(flavor = "multi_thread")]
async fn user_login_answers_exactly_as_the_contract_and_its_api_key_opens_key_routes() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    register(&gw, &hook, &ann("ann@example.com"), PASSWORD).await;

    let (status, answer) = post(
        &gw,
        "/user/login",
        json!({"emailId": "ann@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["responseCode"], 200);
    assert_eq!(answer["responseMessage"], "Success");
    let data = &answer["responseData"];
    assert_eq!(data["emailId"], "ann@example.com");
    assert!(
        (3595..=3600).contains(&data["expiry"].as_u64().unwrap_or(0)),
        "{data}"
    );
    let token = data["token"].as_str().unwrap();
    let api_key = data["apiKey"].as_str().unwrap();
    assert_eq!(protected(&gw, token).await, 200);
    let resp = common::client()
        .get(gw.url("/keys/list"))
        .header("x-api-key", api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "an AUTH key at an api_key route"
    );
    assert_eq!(
        protected(&gw, api_key).await,
        401,
        "a key is not a bearer token"
    );

    assert_eq!(
        post(
            &gw,
            "/user/login",
            json!({"emailId": "bob@example.com", "password": PASSWORD})
        )
        .await,
        (
            404,
            json!({"responseCode": 404, "responseMessage": "Please provide valid user details"})
        )
    );
    assert_eq!(
        post(
            &gw,
            "/user/login",
            json!({"emailId": "ann@example.com", "password": "wrong horse"})
        )
        .await,
        (
            405,
            json!({"responseCode": 405, "responseMessage": "Please provide valid password"})
        )
    );
    let (status, answer) = post(&gw, "/user/login", json!({"emailId": "ann@example.com"})).await;
    assert_eq!((status, answer["responseCode"].as_i64()), (400, Some(400)));
    assert!(answer["responseMessage"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storm_of_password_checks_leaves_the_proxy_path_free() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let token = gw.mint("user-1", &[]);
    assert_eq!(protected(&gw, &token).await, 200);

    // The gateway runs one worker thread. Each check is an argon2id verify
    // of 19 MiB; were it on the worker, proxied requests would queue behind
    // all of them.
    const STORM: usize = 24;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut storm = Vec::new();
    for i in 0..STORM {
        let (url, done) = (gw.url("/user/login"), done.clone());
        storm.push(tokio::spawn(async move {
            let resp = reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap()
                .post(url)
                .header("content-type", "application/json")
                .body(
                    json!({"emailId": format!("storm{i}@example.com"), "password": PASSWORD})
                        .to_string(),
                )
                .send()
                .await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            resp.map(|r| r.status().as_u16()).unwrap_or(0)
        }));
    }
    while done.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..5 {
        assert_eq!(protected(&gw, &token).await, 200);
    }
    let finished = done.load(std::sync::atomic::Ordering::SeqCst);
    assert!(finished < STORM, "the proxied requests were answered while checks were still running ({finished}/{STORM} done)");
    for check in storm {
        assert_eq!(check.await.unwrap(), 404);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_wrong_passwords_lock_the_account_at_exactly_the_threshold() {
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let gw = gateway(&up, &hook).await;
    let (ok, out) = user_cli(
        &gw,
        &[
            "add",
            "--brand",
            "pwd",
            "--email",
            "storm@example.com",
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}");

    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let url = gw.url("/user/login");
            tokio::spawn(async move {
                common::client()
                    .post(url)
                    .header("content-type", "application/json")
                    .body(
                        json!({"emailId": "storm@example.com", "password": "wrong horse"})
                            .to_string(),
                    )
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let mut wrong = 0;
    let mut locked = 0;
    for a in attempts {
        match a.await.expect("task").expect("answer") {
            405 => wrong += 1,
            429 => locked += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    // max_attempts is 3 on PWD: the third failure locks, and answers as locked.
    assert_eq!(wrong, 2, "exactly max_attempts - 1 wrong-password answers");
    assert_eq!(locked, 48);
    let (status, _) = post(
        &gw,
        "/user/login",
        json!({"emailId": "storm@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 429, "locked even with the right password");
}
