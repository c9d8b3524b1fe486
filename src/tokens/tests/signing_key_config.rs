//! Loading `tokens.signing`: every problem reported with its path, secrets
//! checked for length, development secrets created on demand, and the rule
//! that the first key must be able to sign.

use super::support::*;
use crate::config::{Algorithm, SigningKey};
use crate::tokens::{check_keys, NoRevocations, TokenService};
use std::sync::Arc;

fn issues(cfg: &crate::config::Tokens) -> Vec<String> {
    match TokenService::new(cfg, Arc::new(NoRevocations), false) {
        Ok(_) => Vec::new(),
        Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
    }
}

#[test]
fn a_missing_environment_variable_is_reported_with_its_path() {
    let cfg = tokens_config(vec![SigningKey {
        secret_env: Some("PORTCULLIS_TEST_SECRET_THAT_IS_NOT_SET".into()),
        ..key_entry("k1", Algorithm::HS256)
    }]);
    assert_eq!(
        issues(&cfg),
        vec!["tokens.signing[0].secret_env: environment variable PORTCULLIS_TEST_SECRET_THAT_IS_NOT_SET is not set"]
    );
}

#[test]
fn a_secret_from_the_environment_signs_and_verifies() {
    std::env::set_var("PORTCULLIS_TEST_SECRET_FROM_ENV", SECRET);
    let cfg = tokens_config(vec![SigningKey {
        secret_env: Some("PORTCULLIS_TEST_SECRET_FROM_ENV".into()),
        ..key_entry("env", Algorithm::HS512)
    }]);
    let svc = service(&cfg);
    let minted = svc.mint(&user_request()).expect("mints");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert_eq!(
        rt.block_on(svc.verify(&minted.token))
            .expect("verifies")
            .uid(),
        "u-42"
    );
}

#[test]
fn a_short_secret_is_refused_and_every_bad_key_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = tokens_config(vec![
        hmac_entry(
            dir.path(),
            "short",
            Algorithm::HS256,
            "only-31-bytes-long-secret-value",
        ),
        SigningKey {
            private_key: Some(dir.path().join("absent.pem")),
            ..key_entry("rsa", Algorithm::RS256)
        },
        SigningKey {
            private_key: Some(write(dir.path(), "garbage.pem", "not a key")),
            ..key_entry("ec", Algorithm::ES256)
        },
    ]);
    let found = issues(&cfg);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(
        found[0],
        "tokens.signing[0].secret_file: the secret must be at least 32 bytes (it has 31)"
    );
    assert!(
        found[1].starts_with("tokens.signing[1].private_key: cannot read "),
        "{found:?}"
    );
    assert_eq!(
        found[2],
        "tokens.signing[2].private_key: not a PEM P-256 private key (PKCS#8 or SEC1)"
    );
}

#[test]
fn the_trailing_newline_of_a_secret_file_is_not_part_of_the_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    // hmac_entry writes SECRET followed by a newline
    let svc = service(&tokens_config(vec![hmac_entry(
        dir.path(),
        "k1",
        Algorithm::HS256,
        SECRET,
    )]));
    let token = craft(
        &serde_json::json!({"alg": "HS256", "kid": "k1", "typ": "JWT"}),
        &claims(),
        hs256(SECRET.as_bytes()),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(rt.block_on(svc.verify(&token)).is_ok());
}

#[test]
fn create_if_missing_writes_a_private_random_secret_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nested/dir/dev.secret");
    let cfg = tokens_config(vec![SigningKey {
        secret_file: Some(file.clone()),
        create_if_missing: true,
        ..key_entry("dev", Algorithm::HS256)
    }]);

    check_keys(&cfg).expect("check accepts a file that will be created");
    assert!(!file.exists(), "check must not create files");

    let first = service(&cfg);
    let text = std::fs::read_to_string(&file).expect("created");
    assert_eq!(text.trim_end().len(), 64);
    assert!(text.trim_end().chars().all(|c| c.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A second start reads the same secret: tokens stay valid.
    let token = first.mint(&user_request()).expect("mints").token;
    let second = service(&cfg);
    assert_eq!(std::fs::read_to_string(&file).expect("still there"), text);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(rt.block_on(second.verify(&token)).is_ok());
}

#[test]
fn a_public_only_key_verifies_but_cannot_be_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = p256_pem();
    let cfg = tokens_config(vec![public_entry(
        dir.path(),
        "pub",
        Algorithm::ES256,
        &pem,
    )]);
    assert_eq!(
        issues(&cfg),
        vec!["tokens.signing[0].private_key: the first key signs tokens and needs a private key"]
    );

    let cfg = tokens_config(vec![
        hmac_entry(dir.path(), "k1", Algorithm::HS256, SECRET),
        public_entry(dir.path(), "old", Algorithm::ES256, &pem),
    ]);
    let svc = service(&cfg);
    let token = signed_elsewhere(
        jsonwebtoken::Algorithm::ES256,
        Some("old"),
        &claims(),
        &jsonwebtoken::EncodingKey::from_ec_pem(pem.private.as_bytes()).expect("ec pem"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert_eq!(
        rt.block_on(svc.verify(&token))
            .expect("verifies")
            .kid
            .as_deref(),
        Some("old")
    );
}

#[test]
fn a_public_key_that_does_not_match_the_private_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (ed25519_pem(), ed25519_pem());
    let cfg = tokens_config(vec![SigningKey {
        public_key: Some(write(dir.path(), "b.pub.pem", &b.public)),
        ..private_entry(dir.path(), "a", Algorithm::EdDSA, &a)
    }]);
    assert_eq!(
        issues(&cfg),
        vec!["tokens.signing[0].public_key: is not the public half of private_key"]
    );
}

#[test]
fn a_key_of_the_wrong_type_for_its_algorithm_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = tokens_config(vec![private_entry(
        dir.path(),
        "k",
        Algorithm::ES384,
        &p256_pem(),
    )]);
    assert_eq!(
        issues(&cfg),
        vec!["tokens.signing[0].private_key: not a PEM P-384 private key (PKCS#8 or SEC1)"]
    );
}

#[test]
fn no_signing_key_at_all_is_an_error() {
    assert_eq!(
        issues(&tokens_config(vec![])),
        vec!["tokens.signing: at least one signing key is required"]
    );
}
