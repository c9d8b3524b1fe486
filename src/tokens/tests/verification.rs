//! `verify` and its strict checks, one behaviour per test: size and shape,
//! algorithm pinning per key, key choice by kid, refused headers, time and
//! audience claims, and tokens signed by another library.

use super::support::*;
use crate::config::{Algorithm, Dur};
use crate::tokens::{MintRequest, Role, TokenService, VerifyError, MAX_TOKEN_BYTES};
use serde_json::json;
use std::time::Duration;

fn kind(r: Result<impl Sized, VerifyError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.kind(),
    }
}

fn hs_header() -> serde_json::Value {
    json!({"alg": "HS256", "kid": "k1", "typ": "JWT"})
}

#[tokio::test]
async fn a_minted_token_verifies_into_its_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let minted = svc.mint(&user_request()).expect("mints");
    let id = svc.verify(&minted.token).await.expect("verifies");
    assert_eq!(id.uid(), "u-42");
    assert_eq!(id.sub(), "u-42");
    assert_eq!(id.brand(), "DEMO");
    assert_eq!(id.device(), Some("device-1"));
    assert_eq!(id.role, "USER");
    assert_eq!(id.roles, vec!["USER"]);
    assert_eq!(id.own_role, Some(Role::User));
    assert!(id.own);
    assert_eq!(id.issuer, "portcullis");
    assert_eq!(id.jti(), Some(minted.jti.as_str()));
    assert_eq!(id.family(), Some("fam-1"));
    assert_eq!(id.exp, minted.exp);
    assert_eq!(id.identifiers().collect::<Vec<_>>(), ["MOBILE|+15550100"]);
    assert_eq!(id.claim_str("org").as_deref(), Some("DEMO"));
}

#[tokio::test]
async fn identity_texts_with_escapes_read_as_their_values() {
    // A quote in a value is written `\"` in the JSON, so the value is no
    // slice of the payload text and the identity keeps it unescaped.
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let claims = claims_with(json!({
        "sub": "s\"1", "uid": "u\"1", "org": "DE\"MO", "dev": "d\"1",
        "jti": "j\"1", "fam": "f-1", "idv": ["MOBILE|+1\"5", "EMAIL|a@b.c", "X|\\"]
    }));
    let token = craft(&hs_header(), &claims, hs256(SECRET.as_bytes()));
    let id = svc.verify(&token).await.expect("verifies");
    assert_eq!((id.uid(), id.sub()), ("u\"1", "s\"1"));
    assert_eq!(id.brand(), "DE\"MO");
    assert_eq!(id.device(), Some("d\"1"));
    assert_eq!(id.jti(), Some("j\"1"));
    assert_eq!(id.family(), Some("f-1"));
    assert_eq!(
        id.identifiers().collect::<Vec<_>>(),
        ["MOBILE|+1\"5", "EMAIL|a@b.c", "X|\\"]
    );
    assert_eq!(
        id.claims.as_str(),
        claims.to_string(),
        "the payload as sent"
    );
    assert_eq!(id.claim_str("org").as_deref(), Some("DE\"MO"));
}

#[tokio::test]
async fn sub_and_uid_are_told_apart_when_they_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let sign = || hs256(SECRET.as_bytes());
    let differ = craft(
        &hs_header(),
        &claims_with(json!({"sub": "s-1", "uid": "u-1"})),
        sign(),
    );
    let id = svc.verify(&differ).await.expect("verifies");
    assert_eq!((id.uid(), id.sub()), ("u-1", "s-1"));
    // Without a string uid, uid is the sub.
    let no_uid = craft(
        &hs_header(),
        &claims_with(json!({"sub": "s-2", "uid": 7})),
        sign(),
    );
    let id = svc.verify(&no_uid).await.expect("verifies");
    assert_eq!((id.uid(), id.sub()), ("s-2", "s-2"));
}

#[tokio::test]
async fn an_empty_token_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(kind(hs256_service(dir.path()).verify("").await), "missing");
}

#[tokio::test]
async fn a_token_over_8_kib_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let padding = "x".repeat(MAX_TOKEN_BYTES);
    let big = craft(
        &hs_header(),
        &claims_with(json!({"pad": padding})),
        hs256(SECRET.as_bytes()),
    );
    assert!(big.len() > MAX_TOKEN_BYTES);
    assert_eq!(
        svc.verify(&big).await.err(),
        Some(VerifyError::Malformed("token is larger than 8 KiB"))
    );
    // Not even well formed: still the size is what is reported.
    assert_eq!(
        svc.verify(&"!".repeat(MAX_TOKEN_BYTES + 1)).await.err(),
        Some(VerifyError::Malformed("token is larger than 8 KiB"))
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_as_malformed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let good = svc.mint(&user_request()).expect("mints").token;
    let parts: Vec<&str> = good.split('.').collect();
    let not_json = b64(b"{not json");
    let array = b64(b"[1,2]");
    let cases = [
        parts[..2].join("."),
        format!("{good}.extra"),
        format!("{}..{}", parts[0], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
        format!("{not_json}.{}.{}", parts[1], parts[2]),
        format!("{}.{array}.{}", parts[0], parts[2]),
        format!("{}.{}.{}", b64(br#"{"kid":"k1"}"#), parts[1], parts[2]),
    ];
    for token in cases {
        assert_eq!(kind(svc.verify(&token).await), "malformed", "{token}");
    }
}

#[tokio::test]
async fn a_forged_token_is_refused_at_its_signature_before_its_claims_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let header = b64(hs_header().to_string().as_bytes());
    let forged = |payload: &[u8]| format!("{header}.{}.{}", b64(payload), b64(&[7; 32]));
    // Braced like an object but not JSON: only the signature is looked at.
    assert_eq!(
        svc.verify(&forged(b"{not json}")).await.err(),
        Some(VerifyError::invalid("the signature does not verify"))
    );
    // Not even braced like an object: refused before the signature.
    assert_eq!(kind(svc.verify(&forged(b"[1,2]")).await), "malformed");
    // Signed, the same payload is read and refused as malformed.
    let input = format!("{header}.{}", b64(b"{not json}"));
    let sig = b64(&hs256(SECRET.as_bytes())(input.as_bytes()));
    assert_eq!(
        kind(svc.verify(&format!("{input}.{sig}")).await),
        "malformed"
    );
}

#[tokio::test]
async fn alg_none_in_any_spelling_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "kid": "k1", "typ": "JWT"});
        let unsigned = craft(&header, &claims(), |_| Vec::new());
        assert_ne!(
            kind(svc.verify(&unsigned).await),
            "ok",
            "{alg} without signature"
        );
        let with_junk = craft(&header, &claims(), |_| b"junk".to_vec());
        assert_eq!(
            kind(svc.verify(&with_junk).await),
            "invalid",
            "{alg} with a signature"
        );
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_pem();
    let svc = service(&tokens_config(vec![private_entry(
        dir.path(),
        "rsa1",
        Algorithm::RS256,
        rsa,
    )]));
    let forged = craft(
        &json!({"alg": "HS256", "kid": "rsa1", "typ": "JWT"}),
        &claims(),
        hs256(rsa.public.as_bytes()),
    );
    assert_eq!(
        svc.verify(&forged).await.err(),
        Some(VerifyError::invalid("alg is not the algorithm of the key"))
    );
}

#[tokio::test]
async fn an_rs256_token_naming_an_hmac_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_pem();
    let svc = service(&tokens_config(vec![hmac_entry(
        dir.path(),
        "k1",
        Algorithm::HS256,
        SECRET,
    )]));
    let token = signed_elsewhere(
        jsonwebtoken::Algorithm::RS256,
        Some("k1"),
        &claims(),
        &jsonwebtoken::EncodingKey::from_rsa_pem(rsa.private.as_bytes()).expect("pem"),
    );
    assert_eq!(kind(svc.verify(&token).await), "invalid");
}

#[tokio::test]
async fn ps256_is_refused_for_an_rs256_key_and_the_reverse() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_pem();
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(rsa.private.as_bytes()).expect("pem");
    let rs = service(&tokens_config(vec![private_entry(
        dir.path(),
        "r",
        Algorithm::RS256,
        rsa,
    )]));
    let ps = service(&tokens_config(vec![private_entry(
        dir.path(),
        "r",
        Algorithm::PS256,
        rsa,
    )]));
    let ps_token = signed_elsewhere(
        jsonwebtoken::Algorithm::PS256,
        Some("r"),
        &claims(),
        &signing,
    );
    let rs_token = signed_elsewhere(
        jsonwebtoken::Algorithm::RS256,
        Some("r"),
        &claims(),
        &signing,
    );
    assert_eq!(kind(rs.verify(&ps_token).await), "invalid");
    assert_eq!(kind(ps.verify(&rs_token).await), "invalid");
    assert_eq!(kind(rs.verify(&rs_token).await), "ok");
    assert_eq!(kind(ps.verify(&ps_token).await), "ok");
}

#[tokio::test]
async fn an_unknown_kid_never_falls_back_to_another_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let token = craft(
        &json!({"alg": "HS256", "kid": "k9", "typ": "JWT"}),
        &claims(),
        hs256(SECRET.as_bytes()),
    );
    assert_eq!(
        svc.verify(&token).await.err(),
        Some(VerifyError::invalid("no key of this gateway has that kid"))
    );
}

#[tokio::test]
async fn the_kid_chooses_the_key_among_rotated_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = "another-secret-that-is-longer-than-32-bytes";
    let svc = service(&tokens_config(vec![
        hmac_entry(dir.path(), "new", Algorithm::HS256, SECRET),
        hmac_entry(dir.path(), "old", Algorithm::HS256, other),
    ]));
    let header = |kid: &str| json!({"alg": "HS256", "kid": kid});
    let old = craft(&header("old"), &claims(), hs256(other.as_bytes()));
    assert_eq!(
        svc.verify(&old)
            .await
            .expect("old key verifies")
            .kid
            .as_deref(),
        Some("old")
    );
    let mislabelled = craft(&header("new"), &claims(), hs256(other.as_bytes()));
    assert_eq!(kind(svc.verify(&mislabelled).await), "invalid");
    assert_eq!(svc.signing_kid(), "new");
}

#[tokio::test]
async fn a_token_without_kid_is_accepted_only_when_one_key_could_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let no_kid = craft(
        &json!({"alg": "HS256"}),
        &claims(),
        hs256(SECRET.as_bytes()),
    );
    let single = hs256_service(dir.path());
    assert_eq!(kind(single.verify(&no_kid).await), "ok");
    let two = service(&tokens_config(vec![
        hmac_entry(dir.path(), "k1", Algorithm::HS256, SECRET),
        hmac_entry(dir.path(), "k2", Algorithm::HS256, SECRET),
    ]));
    assert_eq!(kind(two.verify(&no_kid).await), "invalid");
}

#[tokio::test]
async fn key_carrying_headers_never_choose_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let attacker = "attacker-secret-that-is-longer-than-32-bytes";
    for extra in [
        json!({"jku": "http://127.0.0.1:9/jwks.json"}),
        json!({"x5u": "http://127.0.0.1:9/cert.pem"}),
        json!({"jwk": {"kty": "oct", "k": b64(attacker.as_bytes())}}),
        json!({"x5c": ["MIIB"]}),
    ] {
        let mut header = hs_header();
        if let (Some(h), Some(e)) = (header.as_object_mut(), extra.as_object()) {
            h.extend(e.clone());
        }
        let by_attacker = craft(&header, &claims(), hs256(attacker.as_bytes()));
        assert_eq!(kind(svc.verify(&by_attacker).await), "invalid", "{extra}");
        // Ignored, not refused: a properly signed token with the header passes.
        let genuine = craft(&header, &claims(), hs256(SECRET.as_bytes()));
        assert_eq!(kind(svc.verify(&genuine).await), "ok", "{extra}");
    }
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let header = json!({"alg": "HS256", "kid": "k1", "crit": ["b64"], "b64": false});
    let token = craft(&header, &claims(), hs256(SECRET.as_bytes()));
    assert_eq!(kind(svc.verify(&token).await), "invalid");
}

#[tokio::test]
async fn a_changed_payload_breaks_the_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let token = svc.mint(&user_request()).expect("mints").token;
    let parts: Vec<&str> = token.split('.').collect();
    let forged_claims = claims_with(json!({"uid": "admin", "sub": "admin"}));
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged_claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        svc.verify(&forged).await.err(),
        Some(VerifyError::invalid("the signature does not verify"))
    );
}

#[tokio::test]
async fn exp_is_required_and_enforced_with_leeway() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let sign = hs256(SECRET.as_bytes());
    let no_exp = craft(&hs_header(), &claims_with(json!({"exp": null})), &sign);
    assert_eq!(kind(svc.verify(&no_exp).await), "invalid");
    let t = now();
    let within_leeway = craft(&hs_header(), &claims_with(json!({"exp": t - 10})), &sign);
    assert_eq!(kind(svc.verify(&within_leeway).await), "ok");
    let expired = craft(&hs_header(), &claims_with(json!({"exp": t - 31})), &sign);
    assert_eq!(svc.verify(&expired).await.err(), Some(VerifyError::Expired));
}

#[tokio::test]
async fn nbf_and_iat_in_the_future_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let sign = hs256(SECRET.as_bytes());
    let t = now();
    let nbf = craft(&hs_header(), &claims_with(json!({"nbf": t + 120})), &sign);
    assert_eq!(kind(svc.verify(&nbf).await), "invalid");
    let iat = craft(&hs_header(), &claims_with(json!({"iat": t + 120})), &sign);
    assert_eq!(kind(svc.verify(&iat).await), "invalid");
    let slightly_early = craft(
        &hs_header(),
        &claims_with(json!({"nbf": t + 5, "iat": t + 5})),
        &sign,
    );
    assert_eq!(kind(svc.verify(&slightly_early).await), "ok");
}

#[tokio::test]
async fn issuer_and_audience_must_match() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let sign = hs256(SECRET.as_bytes());
    for (changes, expected) in [
        (json!({"iss": "someone-else"}), "invalid"),
        (json!({"iss": null}), "invalid"),
        (json!({"aud": "other-api"}), "invalid"),
        (json!({"aud": null}), "invalid"),
        (json!({"aud": ["other-api", "api"]}), "ok"),
        (json!({"rol": "ADMIN"}), "invalid"),
        (json!({"sub": null}), "invalid"),
    ] {
        let token = craft(&hs_header(), &claims_with(changes.clone()), &sign);
        assert_eq!(kind(svc.verify(&token).await), expected, "{changes}");
    }
}

#[tokio::test]
async fn an_ecdsa_signature_of_zeros_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, pem, len) in [("ES256", p256_pem(), 64), ("ES384", p384_pem(), 96)] {
        let config_alg = if alg == "ES256" {
            Algorithm::ES256
        } else {
            Algorithm::ES384
        };
        let svc = service(&tokens_config(vec![private_entry(
            dir.path(),
            "ec",
            config_alg,
            &pem,
        )]));
        let psychic = craft(&json!({"alg": alg, "kid": "ec"}), &claims(), |_| {
            vec![0u8; len]
        });
        assert_eq!(
            svc.verify(&psychic).await.err(),
            Some(VerifyError::invalid("the signature does not verify")),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn tokens_signed_by_another_library_verify_for_every_algorithm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rsa_pem();
    let (p256, p384, ed) = (p256_pem(), p384_pem(), ed25519_pem());
    use jsonwebtoken::{Algorithm as A, EncodingKey as E};
    let rsa_key = || E::from_rsa_pem(rsa.private.as_bytes()).expect("pem");
    let cases: Vec<(Algorithm, &Pem, A, E)> = vec![
        (Algorithm::RS256, rsa, A::RS256, rsa_key()),
        (Algorithm::RS384, rsa, A::RS384, rsa_key()),
        (Algorithm::RS512, rsa, A::RS512, rsa_key()),
        (Algorithm::PS256, rsa, A::PS256, rsa_key()),
        (Algorithm::PS512, rsa, A::PS512, rsa_key()),
        (
            Algorithm::ES256,
            &p256,
            A::ES256,
            E::from_ec_pem(p256.private.as_bytes()).expect("pem"),
        ),
        (
            Algorithm::ES384,
            &p384,
            A::ES384,
            E::from_ec_pem(p384.private.as_bytes()).expect("pem"),
        ),
        (
            Algorithm::EdDSA,
            &ed,
            A::EdDSA,
            E::from_ed_pem(ed.private.as_bytes()).expect("pem"),
        ),
    ];
    for (alg, pem, theirs, signing) in cases {
        // Verification needs only the public key.
        let svc = service(&tokens_config(vec![
            hmac_entry(dir.path(), "hs", Algorithm::HS256, SECRET),
            public_entry(dir.path(), "their", alg, pem),
        ]));
        let token = signed_elsewhere(theirs, Some("their"), &claims(), &signing);
        let id = svc
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(id.uid(), "u-7");
    }
    let hs = hs256_service(dir.path());
    let token = signed_elsewhere(
        jsonwebtoken::Algorithm::HS256,
        Some("k1"),
        &claims(),
        &E::from_secret(SECRET.as_bytes()),
    );
    assert_eq!(kind(hs.verify(&token).await), "ok");
}

#[tokio::test]
async fn auth_keys_without_exp_pass_only_through_verify_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let key = svc
        .mint(&MintRequest {
            role: Role::Auth,
            ..user_request()
        })
        .expect("mints");
    assert_eq!(
        kind(svc.verify(&key.token).await),
        "invalid",
        "no exp on a proxied route"
    );
    let id = svc
        .verify_key(&key.token)
        .await
        .expect("a key verifies as a key");
    assert_eq!(id.own_role, Some(Role::Auth));

    let user = svc.mint(&user_request()).expect("mints");
    assert_eq!(
        kind(svc.verify_key(&user.token).await),
        "invalid",
        "a USER token is not a key"
    );

    let sign = hs256(SECRET.as_bytes());
    let expired_key = craft(
        &hs_header(),
        &claims_with(json!({"rol": "AUTH", "exp": now() - 3600})),
        &sign,
    );
    assert_eq!(kind(svc.verify_key(&expired_key).await), "expired");
}

#[tokio::test]
async fn verify_expired_within_accepts_recently_expired_tokens_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let svc = hs256_service(dir.path());
    let sign = hs256(SECRET.as_bytes());
    let day = Duration::from_secs(86_400);
    let an_hour_ago = craft(
        &hs_header(),
        &claims_with(json!({"exp": now() - 3600})),
        &sign,
    );
    assert_eq!(kind(svc.verify(&an_hour_ago).await), "expired");
    assert_eq!(
        kind(svc.verify_expired_within(&an_hour_ago, day).await),
        "ok"
    );
    let two_days_ago = craft(
        &hs_header(),
        &claims_with(json!({"exp": now() - 2 * 86_400})),
        &sign,
    );
    assert_eq!(
        kind(svc.verify_expired_within(&two_days_ago, day).await),
        "expired"
    );
    let tampered = craft(
        &hs_header(),
        &claims_with(json!({"exp": now() - 3600})),
        hs256(b"wrong-secret-that-is-longer-than-32-bytes"),
    );
    assert_eq!(
        kind(svc.verify_expired_within(&tampered, day).await),
        "invalid"
    );
}

#[tokio::test]
async fn leeway_comes_from_the_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = tokens_config(vec![hmac_entry(dir.path(), "k1", Algorithm::HS256, SECRET)]);
    cfg.leeway = Dur::secs(0);
    let svc = TokenService::new(
        &cfg,
        std::sync::Arc::new(crate::tokens::NoRevocations),
        false,
    )
    .expect("loads");
    let token = craft(
        &hs_header(),
        &claims_with(json!({"exp": now() - 1})),
        hs256(SECRET.as_bytes()),
    );
    assert_eq!(kind(svc.verify(&token).await), "expired");
}
