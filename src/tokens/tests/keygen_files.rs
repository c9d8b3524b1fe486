//! `keygen` writes key files the config can load straight away, private
//! files readable by the owner only, and never overwrites a key.

use super::support::*;
use crate::config::{Algorithm, SigningKey};
use crate::tokens::{keygen, TokenError};

#[tokio::test]
async fn generated_key_pairs_load_sign_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (alg, kid) in [
        (Algorithm::RS256, "rs"),
        (Algorithm::PS256, "ps"),
        (Algorithm::ES256, "es"),
        (Algorithm::ES384, "es384"),
        (Algorithm::EdDSA, "ed"),
    ] {
        let files = keygen(alg, &dir.path().join("keys"), kid).expect("keygen");
        assert_eq!(
            files.private,
            dir.path().join(format!("keys/{kid}.key.pem"))
        );
        let public = files.public.clone().expect("a public key file");
        let private_text = std::fs::read_to_string(&files.private).expect("private");
        assert!(private_text.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(std::fs::read_to_string(&public)
            .expect("public")
            .starts_with("-----BEGIN PUBLIC KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&files.private)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{kid}");
        }
        let svc = service(&tokens_config(vec![SigningKey {
            private_key: Some(files.private),
            public_key: Some(public),
            ..key_entry(kid, alg)
        }]));
        let token = svc.mint(&user_request()).expect("mints").token;
        assert_eq!(
            svc.verify(&token).await.expect("verifies").kid.as_deref(),
            Some(kid)
        );
    }
}

#[tokio::test]
async fn a_generated_hmac_secret_loads_as_a_secret_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = keygen(Algorithm::HS256, dir.path(), "hs").expect("keygen");
    assert_eq!(files.public, None);
    let text = std::fs::read_to_string(&files.private).expect("secret");
    assert_eq!(text.trim_end().len(), 64);
    let svc = service(&tokens_config(vec![SigningKey {
        secret_file: Some(files.private),
        ..key_entry("hs", Algorithm::HS256)
    }]));
    let token = svc.mint(&user_request()).expect("mints").token;
    assert!(svc.verify(&token).await.is_ok());
}

#[test]
fn keygen_never_overwrites_and_refuses_unsafe_kids() {
    let dir = tempfile::tempdir().expect("tempdir");
    keygen(Algorithm::EdDSA, dir.path(), "k").expect("first time");
    let before = std::fs::read(dir.path().join("k.key.pem")).expect("written");
    assert!(matches!(
        keygen(Algorithm::EdDSA, dir.path(), "k"),
        Err(TokenError::KeyFile { .. })
    ));
    assert_eq!(
        std::fs::read(dir.path().join("k.key.pem")).expect("kept"),
        before
    );
    for kid in ["", "../escape", ".hidden", "a/b"] {
        assert!(
            matches!(
                keygen(Algorithm::HS256, dir.path(), kid),
                Err(TokenError::InvalidRequest(_))
            ),
            "{kid:?}"
        );
    }
}
