//! Token checks on proxied routes, over HTTP: identity headers upstream,
//! every refusal with its status, challenge and JSON, roles, token headers,
//! cookies, API keys, device binding, per-subject limits, JWKS publishing,
//! and trusted issuers whose JWKS rotates or goes down.

mod common;

use base64::Engine;
use common::{portcullis, Gateway, JwksServer, Upstream, TEST_SECRET};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token signed with the test key, with any claims the test wants.
fn signed(claims: Value) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("test-1".into());
    encode(&header, &claims, &EncodingKey::from_secret(TEST_SECRET)).unwrap()
}

fn user_claims() -> Value {
    json!({"iss": "portcullis", "aud": "api", "sub": "u1", "uid": "u1", "jti": "j1",
           "iat": now(), "exp": now() + 600, "rol": "USER", "org": "DEMO", "dev": null, "idv": []})
}

async fn gateway_with(up: &Upstream, routes: &str, extra: &str) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n{routes}{extra}",
        up.address()
    ))
    .await
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn get(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = common::client().get(gw.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_token_reaches_the_upstream_with_identity_headers_not_spoofed_ones() {
    let up = Upstream::start("api").await;
    let gw = gateway_with(&up, "  - {path: /api/, upstream: api}\n", "").await;
    let token = gw.mint("user-42", &["--device", "phone-1"]);

    let a = get(
        &gw,
        "/api/me",
        &[
            ("authorization", &bearer(&token)),
            ("x-auth-user-id", "admin"),
            ("x-auth-role", "ADMIN"),
        ],
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let seen = &a.body["headers"];
    assert_eq!(seen["x-auth-user-id"], "user-42");
    assert_eq!(seen["x-auth-brand"], "DEMO");
    assert_eq!(seen["x-auth-role"], "USER");
    assert_eq!(seen["x-auth-device-id"], "phone-1");
    assert_eq!(
        seen["authorization"],
        bearer(&token),
        "forward_token defaults to true"
    );

    // The same token again is a cache hit: the identity's header values were
    // made once and serve every later request.
    let again = get(&gw, "/api/me", &[("authorization", &bearer(&token))]).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    for name in [
        "x-auth-user-id",
        "x-auth-brand",
        "x-auth-role",
        "x-auth-device-id",
    ] {
        assert_eq!(again.body["headers"][name], seen[name], "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_refusal_has_its_status_challenge_and_json() {
    let up = Upstream::start("api").await;
    let gw = gateway_with(&up, "  - {name: api, path: /api/, upstream: api}\n", "").await;
    let expired = signed(
        json!({"iss": "portcullis", "aud": "api", "sub": "u1", "uid": "u1",
        "iat": now() - 7200, "exp": now() - 3600, "rol": "USER", "org": "DEMO"}),
    );
    let wrong_key = {
        let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some("test-1".into());
        encode(
            &header,
            &user_claims(),
            &EncodingKey::from_secret(b"another-secret-another-secret-0000"),
        )
        .unwrap()
    };
    let alg_none = {
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": "test-1"})),
            b64(&user_claims())
        )
    };
    let wrong_audience = signed(
        json!({"iss": "portcullis", "aud": "elsewhere", "sub": "u1", "uid": "u1",
        "iat": now(), "exp": now() + 600, "rol": "USER", "org": "DEMO"}),
    );

    let a = get(&gw, "/api/x", &[]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.headers["www-authenticate"], "Bearer");
    assert_eq!(a.body["status"]["code"], 401);

    for (what, token) in [
        ("garbage", "not-a-jwt".to_string()),
        ("expired", expired),
        ("wrong key", wrong_key),
        ("alg none", alg_none),
        ("wrong audience", wrong_audience),
    ] {
        let a = get(&gw, "/api/x", &[("authorization", &bearer(&token))]).await;
        assert_eq!(a.status, 401, "{what}");
        assert_eq!(
            a.headers["www-authenticate"], "Bearer error=\"invalid_token\"",
            "{what}"
        );
        assert_eq!(a.body["status"]["success"], false, "{what}");
        assert_eq!(a.body["status"]["code"], 401, "{what}");
    }

    // Valid tokens of roles the route does not accept: 403.
    for role in ["VIEW", "AUTH"] {
        let token = gw.mint("u1", &["--role", role, "--ttl", "5m"]);
        let a = get(&gw, "/api/x", &[("authorization", &bearer(&token))]).await;
        assert_eq!(a.status, 403, "{role}");
        assert_eq!(a.body["status"]["code"], 403);
    }
    assert_eq!(up.served(), 0, "nothing refused reached the upstream");

    let metrics = common::client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (result, n) in [
        ("missing", 1),
        ("expired", 1),
        ("invalid", 4),
        ("forbidden", 2),
    ] {
        let line =
            format!("portcullis_auth_decisions_total{{result=\"{result}\",route=\"api\"}} {n}");
        assert!(metrics.contains(&line), "missing {line}\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_choose_roles_token_headers_and_claims_to_forward() {
    let up = Upstream::start("api").await;
    let gw = gateway_with(
        &up,
        "  - {path: /view/, upstream: api, roles: [VIEW, USER]}\n\
         \x20 - {path: /cap/, upstream: api, token_headers: [cap_authorization], forward_token: false,\n\
         \x20    forward_claims: {X-User: uid, X-Identifiers: idv}}\n\
         \x20 - {path: /optional/, upstream: api, auth: optional}\n",
        "",
    )
    .await;
    let view = gw.mint("u7", &["--role", "VIEW", "--ttl", "5m"]);
    assert_eq!(
        get(&gw, "/view/x", &[("authorization", &bearer(&view))])
            .await
            .status,
        200
    );

    let user = gw.mint(
        "u7",
        &[
            "--identifier",
            "EMAIL|a@example.com",
            "--identifier",
            "MOBILE|+4912345678",
        ],
    );
    let a = get(&gw, "/cap/x", &[("cap_authorization", &user)]).await;
    assert_eq!(a.status, 200);
    let seen = &a.body["headers"];
    assert_eq!(seen["x-user"], "u7");
    assert_eq!(
        seen["x-identifiers"],
        "EMAIL|a@example.com,MOBILE|+4912345678"
    );
    assert!(
        seen.get("cap_authorization").is_none(),
        "forward_token: false removes the token"
    );
    assert!(
        seen.get("x-auth-user-id").is_none(),
        "only the route's claims are forwarded"
    );

    let a = get(&gw, "/optional/x", &[]).await;
    assert_eq!(a.status, 200, "optional: no token passes");
    assert!(a.body["headers"].get("x-auth-user-id").is_none());
    let a = get(&gw, "/optional/x", &[("authorization", &bearer(&user))]).await;
    assert_eq!(a.body["headers"]["x-auth-user-id"], "u7");
    let a = get(
        &gw,
        "/optional/x",
        &[("authorization", "Bearer forged.token.here")],
    )
    .await;
    assert_eq!(a.status, 401, "optional: a bad token is still refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_api_keys_and_device_binding() {
    let up = Upstream::start("api").await;
    let gw = gateway_with(
        &up,
        "  - {path: /keyed/, upstream: api, api_key: true}\n\
         \x20 - {path: /device/, upstream: api, device_header: cap_device_id}\n\
         \x20 - {path: /web/, upstream: api}\n",
        "",
    )
    .await;
    // The harness config has no cookie; a second gateway with one.
    let key = gw.mint("u9", &["--role", "AUTH"]);
    assert_eq!(
        get(&gw, "/keyed/x", &[("x-api-key", &key)]).await.status,
        200
    );
    let user = gw.mint("u9", &["--device", "d-1"]);
    assert_eq!(
        get(&gw, "/keyed/x", &[("x-api-key", &user)]).await.status,
        401,
        "a USER token is not an API key"
    );
    assert_eq!(
        get(&gw, "/keyed/x", &[("x-api-key", "nonsense")])
            .await
            .status,
        401
    );

    let ok = get(
        &gw,
        "/device/x",
        &[("authorization", &bearer(&user)), ("cap_device_id", "d-1")],
    )
    .await;
    assert_eq!(ok.status, 200);
    let other = get(
        &gw,
        "/device/x",
        &[("authorization", &bearer(&user)), ("cap_device_id", "d-2")],
    )
    .await;
    assert_eq!(other.status, 403);
    let none = get(&gw, "/device/x", &[("authorization", &bearer(&user))]).await;
    assert_eq!(none.status, 403);

    let secret = gw.dir.path().join("signing.secret");
    let with_cookie = Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /web/, upstream: api}}\n\
         tokens:\n  cookie: session_token\n  signing: [{{kid: test-1, alg: HS256, secret_file: {}}}]\n",
        up.address(),
        secret.display()
    ))
    .await;
    let cookie = format!("theme=dark; session_token={user}");
    assert_eq!(
        get(&with_cookie, "/web/x", &[("cookie", &cookie)])
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subject_over_its_route_limit_gets_429() {
    let up = Upstream::start("api").await;
    let gw = gateway_with(
        &up,
        "  - {path: /api/, upstream: api, rate: {rps: 0.5, burst: 2}}\n",
        "",
    )
    .await;
    let alice = gw.mint("alice", &[]);
    let bob = gw.mint("bob", &[]);
    for _ in 0..2 {
        assert_eq!(
            get(&gw, "/api/x", &[("authorization", &bearer(&alice))])
                .await
                .status,
            200
        );
    }
    let a = get(&gw, "/api/x", &[("authorization", &bearer(&alice))]).await;
    assert_eq!(a.status, 429);
    assert!(a.headers.contains_key("retry-after"));
    assert_eq!(a.headers["ratelimit-limit"], "2");
    assert_eq!(a.body["status"]["code"], 429);
    assert_eq!(
        get(&gw, "/api/x", &[("authorization", &bearer(&bob))])
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jwks_endpoint_publishes_public_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = portcullis()
        .args(["keygen", "--alg", "ES256", "--kid", "ec-1", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = dir.path().join("hs.secret");
    std::fs::write(&secret, TEST_SECRET).unwrap();
    let gw = Gateway::start(&format!(
        "tokens:\n  signing:\n    - {{kid: ec-1, alg: ES256, private_key: {}}}\n    - {{kid: hs-1, alg: HS256, secret_file: {}}}\n",
        dir.path().join("ec-1.key.pem").display(),
        secret.display()
    ))
    .await;
    let a = get(&gw, "/.well-known/jwks.json", &[]).await;
    assert_eq!(a.status, 200);
    let keys = a.body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "only the asymmetric key: {keys:?}");
    assert_eq!(keys[0]["kid"], "ec-1");
    assert_eq!(keys[0]["kty"], "EC");
    assert!(keys[0].get("d").is_none(), "no private part");
    assert!(!a.body.to_string().contains("integration-test-secret"));
}

/// An EC key pair made by `portcullis keygen`, as (private PEM, public JWK).
fn ec_key(kid: &str) -> (Vec<u8>, Value) {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use p256::pkcs8::DecodePublicKey;
    let dir = tempfile::tempdir().unwrap();
    let out = portcullis()
        .args(["keygen", "--alg", "ES256", "--kid", kid, "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let private = std::fs::read(dir.path().join(format!("{kid}.key.pem"))).unwrap();
    let public = std::fs::read_to_string(dir.path().join(format!("{kid}.pub.pem"))).unwrap();
    let point = p256::PublicKey::from_public_key_pem(&public)
        .unwrap()
        .to_encoded_point(false);
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                     "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())});
    (private, jwk)
}

fn idp_token(private_pem: &[u8], kid: &str, sub: &str) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    let claims = json!({"iss": "https://idp.test", "aud": "api", "sub": sub, "iat": now(),
                        "exp": now() + 600, "rol": "USER"});
    encode(
        &header,
        &claims,
        &EncodingKey::from_ec_pem(private_pem).unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_issuer_keys_rotate_survive_an_outage_and_resist_kid_floods() {
    let (key_a, jwk_a) = ec_key("idp-a");
    let (key_b, jwk_b) = ec_key("idp-b");
    let idp = JwksServer::start(&json!({"keys": [jwk_a]}).to_string()).await;
    let up = Upstream::start("api").await;
    let gw = gateway_with(
        &up,
        "  - {path: /api/, upstream: api}\n",
        &format!(
            "tokens:\n  signing: [{{kid: test-1, alg: HS256, secret_file: {}}}]\n  trusted_issuers:\n    - {{issuer: \"https://idp.test\", jwks_url: \"{}\", audiences: [api], algorithms: [ES256], refresh: 1h}}\n",
            write_secret().display(),
            idp.url()
        ),
    )
    .await;

    let a = get(
        &gw,
        "/api/x",
        &[(
            "authorization",
            &bearer(&idp_token(&key_a, "idp-a", "ext-1")),
        )],
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["headers"]["x-auth-user-id"], "ext-1");

    // The IdP rotates to a new key: the gateway follows without a restart.
    idp.set(&json!({"keys": [jwk_b]}).to_string());
    tokio::time::sleep(Duration::from_secs(6)).await; // past the unknown-kid refetch interval
    let token_b = idp_token(&key_b, "idp-b", "ext-2");
    let a = get(&gw, "/api/x", &[("authorization", &bearer(&token_b))]).await;
    assert_eq!(a.status, 200, "{:?}", a.body);

    // A flood of unknown kids costs at most a handful of fetches.
    let before = idp.fetches();
    let mut flood = Vec::new();
    for i in 0..200 {
        let t = idp_token(&key_b, &format!("unknown-{i}"), "ext-3");
        let url = gw.url("/api/x");
        flood.push(tokio::spawn(async move {
            common::client()
                .get(url)
                .bearer_auth(t)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for f in flood {
        assert_eq!(f.await.unwrap().unwrap(), 401);
    }
    assert!(
        idp.fetches() - before <= 3,
        "{} fetches for 200 unknown kids",
        idp.fetches() - before
    );

    // The IdP goes down: known keys keep verifying.
    idp.stop();
    let fresh = idp_token(&key_b, "idp-b", "ext-4");
    let a = get(&gw, "/api/x", &[("authorization", &bearer(&fresh))]).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
}

fn write_secret() -> std::path::PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("signing.secret");
    std::fs::write(&path, TEST_SECRET).unwrap();
    path
}
