//! `/.well-known/jwks.json`: the public halves of asymmetric keys, in a form
//! other libraries use to verify our tokens, and never an HMAC secret.

use super::support::*;
use crate::config::Algorithm;
use serde_json::Value;

#[test]
fn the_jwks_lists_public_halves_of_asymmetric_keys_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = service(&tokens_config(vec![
        private_entry(dir.path(), "rsa", Algorithm::RS256, rsa_pem()),
        private_entry(dir.path(), "ec", Algorithm::ES256, &p256_pem()),
        private_entry(dir.path(), "ec384", Algorithm::ES384, &p384_pem()),
        public_entry(dir.path(), "ed", Algorithm::EdDSA, &ed25519_pem()),
        hmac_entry(dir.path(), "hs", Algorithm::HS256, SECRET),
    ]));
    let text = String::from_utf8(svc.jwks_json().to_vec()).expect("utf-8");
    assert!(!text.contains(SECRET));
    let jwks: Value = serde_json::from_str(&text).expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    let kids: Vec<&str> = keys.iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids, ["rsa", "ec", "ec384", "ed"]);
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "no private member");
    }
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["e"], "AQAB");
    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(keys[1]["crv"], "P-256");
    assert_eq!(keys[1]["x"].as_str().map(str::len), Some(43));
    assert_eq!(keys[1]["y"].as_str().map(str::len), Some(43));
    assert_eq!(keys[2]["crv"], "P-384");
    assert_eq!(keys[3]["kty"], "OKP");
    assert_eq!(keys[3]["crv"], "Ed25519");
    assert_eq!(keys[3]["alg"], "EdDSA");
}

#[test]
fn another_library_verifies_our_tokens_from_the_published_jwks() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, pem, theirs) in [
        (
            Algorithm::RS256,
            rsa_pem().clone(),
            jsonwebtoken::Algorithm::RS256,
        ),
        (Algorithm::ES256, p256_pem(), jsonwebtoken::Algorithm::ES256),
        (
            Algorithm::EdDSA,
            ed25519_pem(),
            jsonwebtoken::Algorithm::EdDSA,
        ),
    ] {
        let svc = service(&tokens_config(vec![private_entry(
            dir.path(),
            "k",
            alg,
            &pem,
        )]));
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_slice(&svc.jwks_json()).expect("a JWK set");
        let jwk = set.find("k").expect("published");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("usable");
        let mut validation = jsonwebtoken::Validation::new(theirs);
        validation.set_audience(&["api"]);
        let token = svc.mint(&user_request()).expect("mints").token;
        jsonwebtoken::decode::<Value>(&token, &key, &validation)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
    }
}

#[test]
fn an_hmac_only_gateway_publishes_an_empty_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    assert_eq!(&svc.jwks_json()[..], br#"{"keys":[]}"#);
}
