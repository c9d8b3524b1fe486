//! Shared test material: key pairs generated with the RustCrypto crates,
//! configs written to a temporary directory, hand-built tokens, tokens
//! signed by jsonwebtoken (another library), and a switchable revocation hook.

use crate::config::{Algorithm, Dur, SigningKey, Tokens};
use crate::tokens::{MintRequest, NoRevocations, RevocationQuery, Revocations, Role, TokenService};
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

pub const SECRET: &str = "a-test-secret-that-is-longer-than-32-bytes";

/// A key pair as PEM text (PKCS#8 private, SPKI public).
#[derive(Clone)]
pub struct Pem {
    pub private: String,
    pub public: String,
}

/// One 2048-bit RSA key for the whole test run (generation is slow).
pub fn rsa_pem() -> &'static Pem {
    static KEY: OnceLock<Pem> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("rsa keygen");
        Pem {
            private: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            public: key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem"),
        }
    })
}

pub fn p256_pem() -> Pem {
    let key = p256::ecdsa::SigningKey::random(&mut OsRng);
    Pem {
        private: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
        public: key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem"),
    }
}

pub fn p384_pem() -> Pem {
    let key = p384::ecdsa::SigningKey::random(&mut OsRng);
    Pem {
        private: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
        public: key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem"),
    }
}

pub fn ed25519_pem() -> Pem {
    let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
    Pem {
        private: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
        public: key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem"),
    }
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// A signing-key entry with nothing set but kid and alg.
pub fn key_entry(kid: &str, alg: Algorithm) -> SigningKey {
    SigningKey {
        kid: kid.into(),
        alg,
        secret_env: None,
        secret_file: None,
        create_if_missing: false,
        private_key: None,
        public_key: None,
    }
}

/// An HMAC key entry whose secret is in a file in `dir`.
pub fn hmac_entry(dir: &Path, kid: &str, alg: Algorithm, secret: &str) -> SigningKey {
    SigningKey {
        secret_file: Some(write(dir, &format!("{kid}.secret"), &format!("{secret}\n"))),
        ..key_entry(kid, alg)
    }
}

/// An asymmetric key entry with its private key written to `dir`.
pub fn private_entry(dir: &Path, kid: &str, alg: Algorithm, pem: &Pem) -> SigningKey {
    SigningKey {
        private_key: Some(write(dir, &format!("{kid}.key.pem"), &pem.private)),
        ..key_entry(kid, alg)
    }
}

/// An asymmetric key entry with only its public key written to `dir`.
pub fn public_entry(dir: &Path, kid: &str, alg: Algorithm, pem: &Pem) -> SigningKey {
    SigningKey {
        public_key: Some(write(dir, &format!("{kid}.pub.pem"), &pem.public)),
        ..key_entry(kid, alg)
    }
}

pub fn tokens_config(signing: Vec<SigningKey>) -> Tokens {
    Tokens {
        signing,
        leeway: Dur::secs(30),
        ..Tokens::default()
    }
}

pub fn service(cfg: &Tokens) -> TokenService {
    TokenService::new(cfg, Arc::new(NoRevocations), false).expect("test config loads")
}

/// A service whose only key is HS256 `k1` with `SECRET`.
pub fn hs256_service(dir: &Path) -> TokenService {
    service(&tokens_config(vec![hmac_entry(
        dir,
        "k1",
        Algorithm::HS256,
        SECRET,
    )]))
}

pub fn user_request() -> MintRequest {
    MintRequest {
        uid: "u-42".into(),
        brand: "demo".into(),
        role: Role::User,
        device: Some("device-1".into()),
        identifiers: vec!["MOBILE|+15550100".into()],
        ttl: None,
        family: "fam-1".into(),
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A valid claim set for this gateway's defaults (`portcullis`, `api`).
pub fn claims() -> Value {
    let now = now();
    json!({
        "iss": "portcullis", "aud": "api", "sub": "u-7", "uid": "u-7",
        "jti": format!("jti-{}", rand::random::<u64>()), "iat": now, "exp": now + 600,
        "rol": "USER", "org": "DEMO", "dev": null, "idv": ["EMAIL|a@example.com"], "fam": "f-7"
    })
}

/// `claims()` with the members of `changes` replaced (null removes one).
pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    if let (Value::Object(base), Value::Object(changes)) = (&mut c, changes) {
        for (k, v) in changes {
            if v.is_null() {
                base.remove(&k);
            } else {
                base.insert(k, v);
            }
        }
    }
    c
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact token with exactly this header and payload, signed by `sign`
/// over the signing input.
pub fn craft(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

pub fn hs256(secret: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |input| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }
}

/// A token signed by jsonwebtoken, as another service would.
pub fn signed_elsewhere(
    alg: jsonwebtoken::Algorithm,
    kid: Option<&str>,
    claims: &Value,
    key: &jsonwebtoken::EncodingKey,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).expect("jsonwebtoken signs")
}

/// A revocation hook that says "revoked" (or fails) once switched, and counts calls.
#[derive(Default)]
pub struct SwitchableRevocations {
    pub revoked: AtomicBool,
    pub failing: AtomicBool,
    pub calls: AtomicUsize,
}

#[async_trait]
impl Revocations for SwitchableRevocations {
    async fn is_revoked(&self, _q: &RevocationQuery<'_>) -> Result<bool, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err("store unreachable".into());
        }
        Ok(self.revoked.load(Ordering::SeqCst))
    }
}
