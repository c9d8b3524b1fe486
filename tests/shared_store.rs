//! Two gateway processes on one real `redis-server` behave as one gateway:
//! a login started on one is finished on the other, a code is accepted
//! once across both, concurrent wrong codes on both kill the session after
//! exactly `max_attempts`, shared rate limits add up across them, a
//! revocation reaches both within seconds, a Redis outage answers 503 and
//! passes by itself, and `portcullis migrate` copies users idempotently.

mod common;

use common::{Gateway, RedisServer, Upstream, Webhook};
use portcullis::store::{
    Clock, Contact, Identifier, IdentifierType, NewUser, RedisSettings, RedisStore, SqliteStore,
    Store, SystemClock,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MOBILE: &str = "+4915112345678";
const MAX_ATTEMPTS: usize = 5;
const PREFIX: &str = "it:";

/// A gateway on `redis` with a webhook for codes and one protected route.
async fn gateway(up: &Upstream, hook: &Webhook, redis: &RedisServer, limits: &str) -> Gateway {
    Gateway::start(&format!(
        "store: {{kind: redis, url: \"{}\", key_prefix: \"{PREFIX}\", pool_size: 2, connect_timeout: 300ms, command_timeout: 300ms}}\n\
         upstreams:\n  api: {{backends: [{}]}}\n\
         routes:\n  - {{path: /api/, upstream: api}}\n\
         otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
         limits: {{rate: {limits}}}\n\
         brands:\n  DEMO: {{otp: {{max_attempts: {MAX_ATTEMPTS}, max_sends: 50, send_window: 1h}}}}\n",
        redis.url(),
        up.address(),
        hook.url()
    ))
    .await
}

const NO_LIMITS: &str = "{auth_per_ip: null, auth_per_identifier: null}";

/// Two gateways on one Redis, with everything they talk to.
struct Pair {
    a: Gateway,
    b: Gateway,
    hook: Webhook,
    redis: RedisServer,
    _up: Upstream,
}

async fn pair(limits: &str) -> Pair {
    let (up, hook, redis) = (
        Upstream::start("api").await,
        Webhook::start().await,
        RedisServer::start(),
    );
    let a = gateway(&up, &hook, &redis, limits).await;
    let b = gateway(&up, &hook, &redis, limits).await;
    Pair {
        a,
        b,
        hook,
        redis,
        _up: up,
    }
}

async fn post(gw: &Gateway, endpoint: &str, body: Value) -> (u16, Value) {
    let resp = common::client()
        .post(gw.url(&format!("/auth/v1/{endpoint}")))
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

fn who() -> Value {
    json!({"identifierType": "MOBILE", "identifierValue": MOBILE, "brand": "demo", "deviceId": "device-1"})
}

fn with(extra: Value) -> Value {
    let mut base = who();
    for (k, v) in extra.as_object().expect("object").clone() {
        base[k] = v;
    }
    base
}

async fn open_session(gw: &Gateway) -> String {
    let (status, opened) = post(gw, "token/generate", who()).await;
    assert_eq!(status, 200, "{opened}");
    opened["user"]["sessionId"]
        .as_str()
        .expect("sessionId")
        .to_string()
}

async fn send_code(gw: &Gateway, hook: &Webhook, session: &str) -> String {
    let (status, sent) = post(gw, "otp/generate", with(json!({"sessionId": session}))).await;
    assert_eq!(status, 200, "{sent}");
    hook.last_code_for(MOBILE.trim_start_matches('+'))
        .or_else(|| hook.last_code_for(MOBILE))
        .expect("a code was delivered")
}

async fn validate(gw: &Gateway, session: &str, otp: &str) -> (u16, Value) {
    post(
        gw,
        "otp/validate",
        with(json!({"sessionId": session, "otp": otp})),
    )
    .await
}

/// A code that is not `otp` (same length).
fn wrong(otp: &str) -> String {
    otp.chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect()
}

async fn protected(gw: &Gateway, token: &str) -> u16 {
    common::client()
        .get(gw.url("/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn ready(gw: &Gateway) -> u16 {
    common::client()
        .get(gw.admin("/readyz"))
        .send()
        .await
        .expect("readyz")
        .status()
        .as_u16()
}

fn store_on(redis: &RedisServer) -> RedisStore {
    RedisStore::open(
        &RedisSettings {
            url: redis.url(),
            key_prefix: PREFIX.into(),
            pool_size: 1,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        },
        Arc::new(SystemClock),
    )
    .expect("open the store")
}

/// Polls `check` every 100 ms until it holds or `within` has passed.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_opened_on_one_instance_is_finished_on_the_other() {
    let p = pair(NO_LIMITS).await;
    let session = open_session(&p.a).await;
    let otp = send_code(&p.b, &p.hook, &session).await;
    let (status, done) = validate(&p.a, &session, &otp).await;
    assert_eq!(status, 200, "{done}");
    let token = done["auth"]["token"].as_str().expect("token");
    assert_eq!(protected(&p.b, token).await, 200, "B serves A's token");
    assert_eq!(protected(&p.a, token).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_accepted_on_one_instance_is_refused_on_the_other() {
    let p = pair(NO_LIMITS).await;
    let session = open_session(&p.a).await;
    let otp = send_code(&p.a, &p.hook, &session).await;
    let (status, done) = validate(&p.a, &session, &otp).await;
    assert_eq!(status, 200, "{done}");
    let (status, again) = validate(&p.b, &session, &otp).await;
    assert_ne!(status, 200, "{again}");
    assert_eq!(
        code(&again),
        1505,
        "the session is gone everywhere: {again}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_wrong_codes_across_both_instances_kill_the_session_after_max_attempts() {
    let p = pair(NO_LIMITS).await;
    let session = open_session(&p.a).await;
    let otp = send_code(&p.b, &p.hook, &session).await;
    let bad = wrong(&otp);
    let tries = (0..20).map(|i| {
        let gw = if i % 2 == 0 { &p.a } else { &p.b };
        validate(gw, &session, &bad)
    });
    let answers: Vec<i64> = futures_util::future::join_all(tries)
        .await
        .iter()
        .map(|(_, body)| code(body))
        .collect();
    let count = |c: i64| answers.iter().filter(|&&a| a == c).count();
    assert_eq!(count(1506), MAX_ATTEMPTS - 1, "wrong code: {answers:?}");
    assert_eq!(count(1518), 1, "exactly one try exhausts: {answers:?}");
    assert_eq!(
        count(1505),
        20 - MAX_ATTEMPTS,
        "then no session: {answers:?}"
    );
    let (_, late) = validate(&p.a, &session, &otp).await;
    assert_eq!(code(&late), 1505, "the right code comes too late: {late}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_auth_limits_add_up_across_instances() {
    let p =
        pair("{auth_per_ip: null, auth_per_identifier: {rps: 0.01, burst: 4}, shared: true}").await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let gw = if i % 2 == 0 { &p.a } else { &p.b };
        statuses.push(post(gw, "token/generate", who()).await.0);
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 200, 429, 429],
        "burst 4 in all"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_reaches_both_instances_within_seconds() {
    let p = pair(NO_LIMITS).await;
    let session = open_session(&p.a).await;
    let otp = send_code(&p.a, &p.hook, &session).await;
    let (_, done) = validate(&p.a, &session, &otp).await;
    let token = done["auth"]["token"].as_str().expect("token").to_string();
    assert_eq!(protected(&p.a, &token).await, 200);
    assert_eq!(protected(&p.b, &token).await, 200, "B has it cached now");

    // Logout (token/expire) is issue 5; revoke the way it will: through the
    // store, here from the test process.
    let store = store_on(&p.redis);
    let users = store.list_users(None, 10).await.expect("store answers");
    let [user] = users.as_slice() else {
        panic!("the login created one user: {users:?}");
    };
    let cut_off = (SystemClock.now_ms() / 1000 + 1) * 1000;
    store
        .revoke_user_before(&user.uid, cut_off)
        .await
        .expect("revoke");
    let started = Instant::now();
    for gw in [&p.a, &p.b] {
        assert!(
            eventually(Duration::from_secs(5), || async {
                protected(gw, &token).await == 401
            })
            .await,
            "a revoked token is refused within seconds"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_answers_503_keeps_verified_tokens_and_passes_without_restarts() {
    let mut p = pair(NO_LIMITS).await;
    let session = open_session(&p.a).await;
    let otp = send_code(&p.a, &p.hook, &session).await;
    let (_, done) = validate(&p.a, &session, &otp).await;
    let token = done["auth"]["token"].as_str().expect("token").to_string();
    assert_eq!(ready(&p.a).await, 200);

    p.redis.stop();
    for gw in [&p.a, &p.b] {
        let started = Instant::now();
        let (status, body) = post(gw, "token/generate", who()).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(code(&body), 503);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "answered after {:?}",
            started.elapsed()
        );
        assert_eq!(ready(gw).await, 503, "not ready while Redis is down");
        assert_eq!(
            protected(gw, &token).await,
            200,
            "verified tokens still pass (revocation fails open on the proxy)"
        );
    }
    let metrics = common::client()
        .get(p.a.admin("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("portcullis_store_errors_total{") && !l.ends_with(" 0")),
        "the outage is counted:\n{metrics}"
    );

    p.redis.restart();
    for gw in [&p.a, &p.b] {
        assert!(
            eventually(Duration::from_secs(10), || async { ready(gw).await == 200 }).await,
            "ready again without a restart:\n{}",
            gw.log()
        );
    }
    let session = open_session(&p.b).await;
    let otp = send_code(&p.a, &p.hook, &session).await;
    let (status, done) = validate(&p.b, &session, &otp).await;
    assert_eq!(status, 200, "logins work again: {done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_password_from_url_env_works_and_never_reaches_the_log() {
    const PASSWORD: &str = "s3cret-redis-pass-7731";
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let redis = RedisServer::start_with_password(PASSWORD);
    let gw = Gateway::start_with_env(
        &format!(
            "store: {{kind: redis, url_env: PORTCULLIS_TEST_REDIS_URL, key_prefix: \"{PREFIX}\"}}\n\
             upstreams:\n  api: {{backends: [{}]}}\n\
             routes:\n  - {{path: /api/, upstream: api}}\n\
             otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
             limits: {{rate: {NO_LIMITS}}}\n\
             brands:\n  DEMO: {{}}\n",
            up.address(),
            hook.url()
        ),
        &[("PORTCULLIS_TEST_REDIS_URL", &redis.url())],
    )
    .await;
    let session = open_session(&gw).await;
    let otp = send_code(&gw, &hook, &session).await;
    let (status, done) = validate(&gw, &session, &otp).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(ready(&gw).await, 200);
    let mut redis = redis;
    redis.stop();
    assert_eq!(post(&gw, "token/generate", who()).await.0, 503);
    assert_eq!(ready(&gw).await, 503);
    let log = gw.log();
    assert!(
        !log.contains(PASSWORD),
        "the Redis password was logged:\n{log}"
    );
    assert!(!log.contains(&otp), "the code was logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_copies_users_from_sqlite_to_redis_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("portcullis.db");
    let sqlite = SqliteStore::open(&path, Arc::new(SystemClock))
        .await
        .expect("open sqlite");
    let mut uids = Vec::new();
    for i in 0..3 {
        let (user, _) = sqlite
            .find_or_create_user(NewUser {
                brand: "demo".into(),
                identifiers: vec![Identifier::new(
                    IdentifierType::Email,
                    format!("m{i}@example.com"),
                )],
                contact: Contact::default(),
                password_hash: Some(format!("$argon2id$m{i}")),
            })
            .await
            .expect("register");
        uids.push(user.uid);
    }
    drop(sqlite);
    let redis = RedisServer::start();
    let migrate = || {
        common::portcullis()
            .arg("migrate")
            .arg("--from")
            .arg(format!("sqlite:{}", path.display()))
            .args(["--to", &redis.url(), "--key-prefix", PREFIX])
            .output()
            .expect("run migrate")
    };
    for _ in 0..2 {
        let out = migrate();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("copied 3 user(s)"), "{stdout}");
    }
    let store = store_on(&redis);
    let users = store.list_users(None, 10).await.expect("list");
    assert_eq!(users.len(), 3);
    for (i, uid) in uids.iter().enumerate() {
        let found = store
            .find_user(
                "demo",
                &Identifier::new(IdentifierType::Email, format!("m{i}@example.com")),
            )
            .await
            .expect("find")
            .expect("migrated");
        assert_eq!(&found.uid, uid);
        assert_eq!(found.password_hash, Some(format!("$argon2id$m{i}")));
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it, written to `dir`.
fn tls_files(dir: &std::path::Path) -> common::redis_server::TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "portcullis test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca certificate");
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "redis test server");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    let files = common::redis_server::TlsFiles {
        cert: dir.join("redis.pem"),
        key: dir.join("redis.key"),
        ca: dir.join("ca.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).expect("write cert");
    std::fs::write(&files.key, key.serialize_pem()).expect("write key");
    std::fs::write(&files.ca, ca.pem()).expect("write ca");
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_works_over_rediss_with_a_verified_certificate() {
    let certs = tempfile::tempdir().expect("temp dir");
    let files = tls_files(certs.path());
    let ca = files.ca.display().to_string();
    let redis = RedisServer::start_with_tls(files);
    assert!(redis.url().starts_with("rediss://"));
    let (up, hook) = (Upstream::start("api").await, Webhook::start().await);
    let body = format!(
        "store: {{kind: redis, url: \"{}\", key_prefix: \"{PREFIX}\"}}\n\
         secrets: {{otp_pepper_env: TEST_OTP_PEPPER}}\n\
         upstreams:\n  api: {{backends: [{}]}}\n\
         routes:\n  - {{path: /api/, upstream: api}}\n\
         otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
         limits: {{rate: {NO_LIMITS}}}\n\
         brands:\n  DEMO: {{}}\n",
        redis.url(),
        up.address(),
        hook.url()
    );
    const PEPPER: (&str, &str) = ("TEST_OTP_PEPPER", "a-pepper-of-at-least-32-bytes-for-tests");
    // The gateway trusts the test CA the way operators add a private CA:
    // through the system trust store's SSL_CERT_FILE.
    let gw = Gateway::start_with_env(&body, &[("SSL_CERT_FILE", &ca), PEPPER]).await;
    let session = open_session(&gw).await;
    let otp = send_code(&gw, &hook, &session).await;
    let (status, done) = validate(&gw, &session, &otp).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(ready(&gw).await, 200);

    // Without the CA the certificate is not trusted: not ready, 503.
    let untrusting = Gateway::start_with_env(&body, &[PEPPER]).await;
    assert_eq!(ready(&untrusting).await, 503);
    assert_eq!(post(&untrusting, "token/generate", who()).await.0, 503);
}
