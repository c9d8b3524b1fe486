//! Tokens the gateway issues carry the header and claims of API.md section 4,
//! and other libraries can read and verify them.

use super::support::*;
use crate::config::{Algorithm, Dur};
use crate::tokens::{new_family_id, MintRequest, Role, TokenError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

#[test]
fn a_user_token_carries_the_documented_header_and_claims() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let before = now();
    let minted = svc.mint(&user_request()).expect("mints");

    assert_eq!(
        segment(&minted.token, 0),
        json!({"alg": "HS256", "kid": "k1", "typ": "JWT"})
    );
    let c = segment(&minted.token, 1);
    assert_eq!(c["iss"], "portcullis");
    assert_eq!(c["aud"], "api");
    assert_eq!(c["sub"], "u-42");
    assert_eq!(c["uid"], "u-42");
    assert_eq!(c["rol"], "USER");
    assert_eq!(c["org"], "DEMO", "brand is written upper case");
    assert_eq!(c["dev"], "device-1");
    assert_eq!(c["idv"], json!(["MOBILE|+15550100"]));
    assert_eq!(c["fam"], "fam-1");
    assert_eq!(c["jti"], minted.jti.as_str());
    let iat = c["iat"].as_u64().expect("iat");
    assert!(iat >= before && iat <= now());
    assert_eq!(
        c["exp"].as_u64(),
        Some(iat + 15 * 60),
        "access_ttl by default"
    );
    assert_eq!(minted.exp, Some(iat + 15 * 60));
}

#[test]
fn a_web_token_has_a_null_device_and_a_view_token_lives_for_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = tokens_config(vec![hmac_entry(dir.path(), "k1", Algorithm::HS256, SECRET)]);
    cfg.session_ttl = Dur::secs(120);
    let svc = service(&cfg);
    let minted = svc
        .mint(&MintRequest {
            role: Role::View,
            device: None,
            ..user_request()
        })
        .expect("mints");
    let c = segment(&minted.token, 1);
    assert_eq!(c["dev"], Value::Null);
    assert_eq!(c["rol"], "VIEW");
    assert_eq!(
        c["exp"].as_u64(),
        Some(c["iat"].as_u64().expect("iat") + 120)
    );
}

#[test]
fn an_auth_key_has_no_exp_unless_a_ttl_is_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let key = svc
        .mint(&MintRequest {
            role: Role::Auth,
            ..user_request()
        })
        .expect("mints");
    assert_eq!(key.exp, None);
    assert!(segment(&key.token, 1).get("exp").is_none());

    let key = svc
        .mint(&MintRequest {
            role: Role::Auth,
            ttl: Some(Duration::from_secs(3600)),
            ..user_request()
        })
        .expect("mints");
    let c = segment(&key.token, 1);
    assert_eq!(
        c["exp"].as_u64(),
        Some(c["iat"].as_u64().expect("iat") + 3600)
    );
}

#[test]
fn jtis_and_family_ids_are_unique_and_carry_128_bits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let jti = svc.mint(&user_request()).expect("mints").jti;
        assert_eq!(URL_SAFE_NO_PAD.decode(&jti).expect("base64url").len(), 16);
        assert!(seen.insert(jti));
        let fam = new_family_id();
        assert_eq!(URL_SAFE_NO_PAD.decode(&fam).expect("base64url").len(), 16);
        assert!(seen.insert(fam));
    }
}

#[test]
fn empty_fields_and_zero_ttls_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let cases = [
        MintRequest {
            uid: String::new(),
            ..user_request()
        },
        MintRequest {
            brand: String::new(),
            ..user_request()
        },
        MintRequest {
            family: String::new(),
            ..user_request()
        },
        MintRequest {
            ttl: Some(Duration::ZERO),
            ..user_request()
        },
    ];
    for req in cases {
        assert!(
            matches!(svc.mint(&req), Err(TokenError::InvalidRequest(_))),
            "{req:?}"
        );
    }
}

#[test]
fn jsonwebtoken_verifies_tokens_minted_with_each_algorithm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_pem();
    let (p256, p384, ed) = (p256_pem(), p384_pem(), ed25519_pem());
    use jsonwebtoken::{Algorithm as A, DecodingKey as D};
    let cases: Vec<(Algorithm, &Pem, A, D)> = vec![
        (
            Algorithm::RS256,
            rsa,
            A::RS256,
            D::from_rsa_pem(rsa.public.as_bytes()).expect("pem"),
        ),
        (
            Algorithm::PS384,
            rsa,
            A::PS384,
            D::from_rsa_pem(rsa.public.as_bytes()).expect("pem"),
        ),
        (
            Algorithm::ES256,
            &p256,
            A::ES256,
            D::from_ec_pem(p256.public.as_bytes()).expect("pem"),
        ),
        (
            Algorithm::ES384,
            &p384,
            A::ES384,
            D::from_ec_pem(p384.public.as_bytes()).expect("pem"),
        ),
        (
            Algorithm::EdDSA,
            &ed,
            A::EdDSA,
            D::from_ed_pem(ed.public.as_bytes()).expect("pem"),
        ),
    ];
    for (alg, pem, theirs, decoding) in cases {
        let svc = service(&tokens_config(vec![private_entry(
            dir.path(),
            "k",
            alg,
            pem,
        )]));
        let minted = svc.mint(&user_request()).expect("mints");
        let mut validation = jsonwebtoken::Validation::new(theirs);
        validation.set_audience(&["api"]);
        validation.set_issuer(&["portcullis"]);
        let data = jsonwebtoken::decode::<Value>(&minted.token, &decoding, &validation)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(data.claims["uid"], "u-42");
        assert_eq!(data.header.kid.as_deref(), Some("k"));
    }
}

#[test]
fn jsonwebtoken_verifies_hs256_tokens_with_the_shared_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let minted = svc.mint(&user_request()).expect("mints");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["api"]);
    let data = jsonwebtoken::decode::<Value>(
        &minted.token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .expect("verifies");
    assert_eq!(data.claims["jti"], minted.jti.as_str());
}
