//! The verified-token cache and the revocation hook: hits are counted and
//! exact, entries end with the token, and a revoked token survives in the
//! cache no longer than `revocation_check_interval`.

use super::support::*;
use crate::config::{Algorithm, Dur, Tokens};
use crate::metrics::METRICS;
use crate::tokens::{Revocations, TokenService, VerifyError};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn config(dir: &std::path::Path, recheck: Dur) -> Tokens {
    let mut cfg = tokens_config(vec![hmac_entry(dir, "k1", Algorithm::HS256, SECRET)]);
    cfg.cache.revocation_check_interval = recheck;
    cfg
}

fn with_hook(cfg: &Tokens, hook: Arc<SwitchableRevocations>, fail_open: bool) -> TokenService {
    let hook: Arc<dyn Revocations> = hook;
    TokenService::new(cfg, hook, fail_open).expect("loads")
}

fn cache_count(result: &str) -> u64 {
    METRICS
        .token_cache_requests_total
        .with_label_values(&[result])
        .get()
}

#[tokio::test]
async fn a_second_verification_is_a_cache_hit_returning_the_same_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    let svc = with_hook(&config(dir.path(), Dur::secs(60)), hook.clone(), false);
    let token = svc.mint(&user_request()).expect("mints").token;

    let (hits, misses) = (cache_count("hit"), cache_count("miss"));
    let first = svc.verify(&token).await.expect("verifies");
    let second = svc.verify(&token).await.expect("verifies");
    assert!(Arc::ptr_eq(&first, &second), "served from the cache");
    // Other tests run in parallel, so the global counters only grow by at least this much.
    assert!(cache_count("miss") > misses);
    assert!(cache_count("hit") > hits);
    assert_eq!(
        hook.calls.load(Ordering::SeqCst),
        1,
        "no look-up within the interval"
    );
    assert_eq!(svc.cache.len(), 1);
}

#[tokio::test]
async fn distinct_tokens_never_share_an_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let sign = hs256(SECRET.as_bytes());
    let header = json!({"alg": "HS256", "kid": "k1"});
    let alice = craft(
        &header,
        &claims_with(json!({"sub": "alice", "uid": "alice"})),
        &sign,
    );
    let bob = craft(
        &header,
        &claims_with(json!({"sub": "bob", "uid": "bob"})),
        &sign,
    );
    assert_eq!(svc.verify(&alice).await.expect("alice").uid(), "alice");
    assert_eq!(svc.verify(&bob).await.expect("bob").uid(), "bob");
    assert_eq!(
        svc.verify(&alice).await.expect("alice again").uid(),
        "alice"
    );
    // A prefix of a cached token is a different token, checked in full.
    assert!(svc.verify(&alice[..alice.len() - 2]).await.is_err());
}

#[tokio::test]
async fn a_failed_verification_is_not_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let bad = craft(
        &json!({"alg": "HS256", "kid": "k1"}),
        &claims(),
        hs256(b"wrong-secret-that-is-longer-than-32-bytes"),
    );
    for _ in 0..2 {
        assert_eq!(
            svc.verify(&bad).await.map(|_| ()).err().map(|e| e.kind()),
            Some("invalid")
        );
    }
    assert_eq!(svc.cache.len(), 0);
}

#[tokio::test]
async fn a_cached_token_stops_verifying_once_it_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path(), Dur::secs(60));
    cfg.leeway = Dur::secs(0);
    let svc = service(&cfg);
    let token = craft(
        &json!({"alg": "HS256", "kid": "k1"}),
        &claims_with(json!({"exp": now() + 2})),
        hs256(SECRET.as_bytes()),
    );
    assert!(svc.verify(&token).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(svc.verify(&token).await.err(), Some(VerifyError::Expired));
}

#[tokio::test]
async fn a_revoked_token_leaves_the_cache_within_the_check_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    let svc = with_hook(&config(dir.path(), Dur::millis(200)), hook.clone(), false);
    let token = svc.mint(&user_request()).expect("mints").token;
    assert!(svc.verify(&token).await.is_ok());

    hook.revoked.store(true, Ordering::SeqCst);
    assert!(
        svc.verify(&token).await.is_ok(),
        "trusted from the cache inside the interval"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(svc.verify(&token).await.err(), Some(VerifyError::Revoked));
    assert_eq!(
        svc.verify(&token).await.err(),
        Some(VerifyError::Revoked),
        "and stays revoked"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_first_sight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    hook.revoked.store(true, Ordering::SeqCst);
    let svc = with_hook(&config(dir.path(), Dur::secs(2)), hook, false);
    let minted = svc.mint(&user_request()).expect("mints");
    assert_eq!(
        svc.verify(&minted.token).await.err(),
        Some(VerifyError::Revoked)
    );
    let key = svc
        .mint(&crate::tokens::MintRequest {
            role: crate::tokens::Role::Auth,
            ..user_request()
        })
        .expect("mints");
    assert_eq!(
        svc.verify_key(&key.token).await.err(),
        Some(VerifyError::Revoked)
    );
}

#[tokio::test]
async fn a_failing_look_up_refuses_when_failing_closed_and_accepts_when_failing_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    hook.failing.store(true, Ordering::SeqCst);
    let cfg = config(dir.path(), Dur::secs(2));
    let closed = with_hook(&cfg, hook.clone(), false);
    let token = closed.mint(&user_request()).expect("mints").token;
    assert_eq!(
        closed
            .verify(&token)
            .await
            .map(|_| ())
            .err()
            .map(|e| e.kind()),
        Some("unavailable")
    );

    let open = with_hook(&cfg, hook.clone(), true);
    assert!(open.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_cached_token_is_unavailable_while_the_look_up_fails_closed_and_recovers_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    let svc = with_hook(&config(dir.path(), Dur::millis(100)), hook.clone(), false);
    let token = svc.mint(&user_request()).expect("mints").token;
    assert!(svc.verify(&token).await.is_ok());

    hook.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        svc.verify(&token).await.map(|_| ()).err().map(|e| e.kind()),
        Some("unavailable")
    );

    hook.failing.store(false, Ordering::SeqCst);
    assert!(svc.verify(&token).await.is_ok());
}

#[tokio::test]
async fn failing_open_looks_up_once_per_interval_not_once_per_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    let svc = with_hook(&config(dir.path(), Dur::millis(100)), hook.clone(), true);
    let token = svc.mint(&user_request()).expect("mints").token;
    assert!(svc.verify(&token).await.is_ok());
    hook.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..20 {
        assert!(svc.verify(&token).await.is_ok());
    }
    assert_eq!(
        hook.calls.load(Ordering::SeqCst),
        2,
        "the first sight and one re-check"
    );
}

#[tokio::test]
async fn the_login_api_fails_closed_by_default_while_the_proxy_fails_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Arc::new(SwitchableRevocations::default());
    hook.failing.store(true, Ordering::SeqCst);
    let mut cfg = config(dir.path(), Dur::secs(2));
    let svc = with_hook(&cfg, hook.clone(), true);
    let token = svc.mint(&user_request()).expect("mints").token;
    let key_request = crate::tokens::MintRequest {
        role: crate::tokens::Role::Auth,
        ..user_request()
    };
    let key = svc.mint(&key_request).expect("mints").token;
    assert!(svc.verify(&token).await.is_ok(), "the proxy fails open");
    assert_eq!(
        svc.verify_key(&key).await.err().map(|e| e.kind()),
        Some("unavailable"),
        "the login API fails closed"
    );

    cfg.revocation_unavailable.auth_api = crate::config::FailMode::Open;
    let open = with_hook(&cfg, hook, true);
    assert!(
        open.verify_key(&key).await.is_ok(),
        "unless told to fail open"
    );
}
