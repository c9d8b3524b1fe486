//! Tokens of trusted issuers, checked against the issuer's JWKS served by a
//! test server: key rotation is followed without rebuilding the service, known
//! keys keep working while the provider is down, and a flood of unknown kids
//! costs only a handful of fetches.

use super::jwks_server::JwksServer;
use super::support::*;
use crate::config::{Algorithm, Dur, TrustedIssuer};
use crate::metrics::METRICS;
use crate::tokens::{TokenService, VerifyError};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn ec_jwk(kid: &str, pem: &Pem) -> Value {
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(&pem.public).expect("p256 pem");
    let point = key.to_encoded_point(false);
    json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")),
    })
}

fn rsa_jwk(kid: &str, pem: &Pem) -> Value {
    let key = rsa::RsaPublicKey::from_public_key_pem(&pem.public).expect("rsa pem");
    json!({
        "kty": "RSA", "kid": kid, "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be()),
    })
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

fn issuer(name: &str, url: &str, algorithms: Vec<Algorithm>) -> TrustedIssuer {
    TrustedIssuer {
        issuer: name.into(),
        jwks_url: url.into(),
        audiences: vec!["api".into()],
        algorithms,
        refresh: Dur::secs(600),
        roles_claim: "realm_access.roles".into(),
    }
}

fn gateway(dir: &std::path::Path, issuers: Vec<TrustedIssuer>) -> TokenService {
    let mut cfg = tokens_config(vec![hmac_entry(dir, "k1", Algorithm::HS256, SECRET)]);
    cfg.trusted_issuers = issuers;
    service(&cfg)
}

fn their_claims(iss: &str) -> Value {
    let now = now();
    json!({
        "iss": iss, "aud": ["api", "account"], "sub": "ext-1", "iat": now, "exp": now + 600,
        "jti": format!("ext-{}", rand::random::<u64>()),
        "realm_access": {"roles": ["reader", "writer"]},
    })
}

fn es256_token(iss: &str, kid: Option<&str>, pem: &Pem) -> String {
    signed_elsewhere(
        jsonwebtoken::Algorithm::ES256,
        kid,
        &their_claims(iss),
        &jsonwebtoken::EncodingKey::from_ec_pem(pem.private.as_bytes()).expect("ec pem"),
    )
}

fn fetches(iss: &str, result: &str) -> u64 {
    METRICS
        .jwks_fetches_total
        .with_label_values(&[iss, result])
        .get()
}

#[tokio::test]
async fn a_trusted_token_verifies_with_roles_from_the_configured_claim() {
    let iss = "https://idp-roles.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    );

    let id = svc
        .verify(&es256_token(iss, Some("a"), &key))
        .await
        .expect("verifies");
    assert_eq!(id.uid(), "ext-1");
    assert!(!id.own);
    assert_eq!(id.own_role, None);
    assert_eq!(id.issuer, iss);
    assert_eq!(id.roles, vec!["reader", "writer"]);
    assert_eq!(id.role, "reader,writer");
    assert_eq!(idp.hits(), 1, "the first token loads the key set");
    assert_eq!(fetches(iss, "ok"), 1);
}

#[tokio::test]
async fn key_rotation_at_the_issuer_is_followed_without_rebuilding() {
    let iss = "https://idp-rotation.test";
    let (old, new) = (p256_pem(), p256_pem());
    let idp = JwksServer::start(jwks(&[ec_jwk("old", &old)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    )
    .with_unknown_kid_refetch_interval(Duration::ZERO);

    assert!(svc
        .verify(&es256_token(iss, Some("old"), &old))
        .await
        .is_ok());
    idp.serve(jwks(&[ec_jwk("new", &new)]));
    let id = svc
        .verify(&es256_token(iss, Some("new"), &new))
        .await
        .expect("new key verifies");
    assert_eq!(id.kid.as_deref(), Some("new"));
    assert_eq!(idp.hits(), 2, "one refetch for the new kid");
    // The old key is gone from the set: its fresh tokens no longer verify.
    assert_eq!(
        svc.verify(&es256_token(iss, Some("old"), &old)).await.err(),
        Some(VerifyError::invalid("the issuer has no key with that kid"))
    );
}

#[tokio::test]
async fn known_keys_keep_verifying_while_the_issuer_is_down() {
    let iss = "https://idp-down.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    )
    .with_unknown_kid_refetch_interval(Duration::ZERO);
    assert!(svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok());

    idp.stop().await;
    assert!(
        svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok(),
        "a fresh token, known key"
    );
    let unknown = es256_token(iss, Some("b"), &p256_pem());
    assert_eq!(
        svc.verify(&unknown)
            .await
            .map(|_| ())
            .err()
            .map(|e| e.kind()),
        Some("invalid")
    );
    assert_eq!(
        fetches(iss, "error"),
        1,
        "the refetch for kid b failed and was counted"
    );
    assert!(
        svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok(),
        "last good set kept"
    );
}

#[tokio::test]
async fn an_issuer_never_reached_makes_its_tokens_unavailable_not_invalid() {
    let iss = "https://idp-never.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    idp.stop().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    );
    let result = svc.verify(&es256_token(iss, Some("a"), &key)).await;
    assert_eq!(
        result.map(|_| ()).err().map(|e| e.kind()),
        Some("unavailable")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_a_handful_of_fetches() {
    let iss = "https://idp-flood.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::from_millis(200)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // No rate limit between fetches: only single flight keeps the count down.
    let svc = Arc::new(
        gateway(
            dir.path(),
            vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
        )
        .with_unknown_kid_refetch_interval(Duration::ZERO),
    );
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (svc, token) = (
            svc.clone(),
            es256_token(iss, Some(&format!("ghost-{i}")), &key),
        );
        flood.spawn(async move { svc.verify(&token).await.map(|_| ()) });
    }
    while let Some(result) = flood.join_next().await {
        assert_eq!(
            result.expect("task").err().map(|e| e.kind()),
            Some("invalid")
        );
    }
    let cold = idp.hits();
    assert!(
        (1..=3).contains(&cold),
        "{cold} fetches for 200 concurrent unknown kids"
    );
    assert_eq!(fetches(iss, "ok"), cold as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kids_refetch_at_most_once_per_interval() {
    let iss = "https://idp-ratelimit.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = Arc::new(
        gateway(
            dir.path(),
            vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
        )
        .with_unknown_kid_refetch_interval(Duration::from_secs(60)),
    );
    assert!(svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok());
    for i in 0..50 {
        let token = es256_token(iss, Some(&format!("ghost-{i}")), &key);
        assert!(svc.verify(&token).await.is_err());
    }
    assert_eq!(idp.hits(), 1, "the set was fetched less than a minute ago");
}

#[tokio::test]
async fn only_the_issuers_configured_algorithms_are_accepted() {
    let iss = "https://idp-algs.test";
    let (ec, rsa) = (p256_pem(), rsa_pem());
    let idp = JwksServer::start(
        jwks(&[ec_jwk("ec", &ec), rsa_jwk("rsa", rsa)]),
        Duration::ZERO,
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    );
    let rs256 = signed_elsewhere(
        jsonwebtoken::Algorithm::RS256,
        Some("rsa"),
        &their_claims(iss),
        &jsonwebtoken::EncodingKey::from_rsa_pem(rsa.private.as_bytes()).expect("pem"),
    );
    assert_eq!(
        svc.verify(&rs256).await.err(),
        Some(VerifyError::invalid("alg is not accepted for this issuer"))
    );
    assert!(svc.verify(&es256_token(iss, Some("ec"), &ec)).await.is_ok());

    // With RS256 allowed, a JWK without alg serves RS256 but not PS256.
    let iss2 = "https://idp-algs2.test";
    let svc = gateway(
        dir.path(),
        vec![issuer(iss2, &idp.url, vec![Algorithm::RS256])],
    );
    let rs256 = signed_elsewhere(
        jsonwebtoken::Algorithm::RS256,
        Some("rsa"),
        &their_claims(iss2),
        &jsonwebtoken::EncodingKey::from_rsa_pem(rsa.private.as_bytes()).expect("pem"),
    );
    assert!(svc.verify(&rs256).await.is_ok());
    let ps256 = signed_elsewhere(
        jsonwebtoken::Algorithm::PS256,
        Some("rsa"),
        &their_claims(iss2),
        &jsonwebtoken::EncodingKey::from_rsa_pem(rsa.private.as_bytes()).expect("pem"),
    );
    assert!(svc.verify(&ps256).await.is_err());
}

#[tokio::test]
async fn the_issuer_claim_picks_the_key_set_and_audience_is_checked() {
    let iss = "https://idp-aud.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    );
    let signing = jsonwebtoken::EncodingKey::from_ec_pem(key.private.as_bytes()).expect("pem");
    let mut other_aud = their_claims(iss);
    other_aud["aud"] = json!("someone-else");
    let token = signed_elsewhere(
        jsonwebtoken::Algorithm::ES256,
        Some("a"),
        &other_aud,
        &signing,
    );
    assert_eq!(
        svc.verify(&token).await.map(|_| ()).err().map(|e| e.kind()),
        Some("invalid")
    );

    let stranger = es256_token("https://not-configured.test", Some("a"), &key);
    assert_eq!(
        svc.verify(&stranger).await.err(),
        Some(VerifyError::invalid("the issuer is not trusted"))
    );
    // A trusted issuer's key cannot vouch for this gateway's own issuer name.
    let own_name = es256_token("portcullis", Some("a"), &key);
    assert_eq!(
        svc.verify(&own_name)
            .await
            .map(|_| ())
            .err()
            .map(|e| e.kind()),
        Some("invalid")
    );
    // Without a kid, the issuer's only key applies.
    assert!(svc.verify(&es256_token(iss, None, &key)).await.is_ok());
}

#[tokio::test]
async fn the_refresh_task_loads_keys_ahead_and_stops_on_request() {
    let iss = "https://idp-refresh.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = Arc::new(gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = svc.spawn_refresh(stopped);
    for _ in 0..100 {
        if idp.hits() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(idp.hits(), 1, "fetched once at start");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok());
    assert_eq!(idp.hits(), 1, "verification used the preloaded set");

    stop.send(true).expect("task listening");
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops promptly")
        .expect("no panic");
}

#[tokio::test]
async fn a_broken_jwks_document_keeps_the_last_good_set() {
    let iss = "https://idp-broken.test";
    let key = p256_pem();
    let idp = JwksServer::start(jwks(&[ec_jwk("a", &key)]), Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = gateway(
        dir.path(),
        vec![issuer(iss, &idp.url, vec![Algorithm::ES256])],
    )
    .with_unknown_kid_refetch_interval(Duration::ZERO);
    assert!(svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok());

    for broken in [
        "<html>maintenance</html>".to_string(),
        json!({"keys": []}).to_string(),
        json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}).to_string(),
    ] {
        idp.serve(broken);
        let unknown = es256_token(iss, Some("z"), &p256_pem());
        assert!(svc.verify(&unknown).await.is_err());
        assert!(svc.verify(&es256_token(iss, Some("a"), &key)).await.is_ok());
    }
    assert_eq!(idp.hits(), 4);
    assert_eq!(fetches(iss, "error"), 3);
}
