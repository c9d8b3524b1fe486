//! The gateway's own keys, built from `tokens.signing`: the first entry signs,
//! every entry verifies (so a rotated-out key keeps its tokens valid until
//! they expire). Loading reports every problem of every key, each with its
//! config path, so `portcullis check` can list them all at once.

use super::algorithms::{alg_name, KeySigner, KeyVerifier, PublicKey};
use super::{jwk, pem_keys, secret};
use crate::config::{Algorithm, ConfigError, Issues, SigningKey, Tokens};
use bytes::Bytes;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// One configured key.
pub(crate) struct LocalKey {
    /// Kept for the process (`names.rs`): every identity this key verifies names it.
    pub kid: &'static str,
    pub alg: Algorithm,
    pub verifier: KeyVerifier,
    /// Present when the key has a secret or a private key.
    pub signer: Option<KeySigner>,
    /// The public JWK of an asymmetric key.
    pub public_jwk: Option<serde_json::Value>,
    /// The first segment of every token this key signs: base64url of the
    /// JSON header `{alg, kid, typ: JWT}`. Minting writes it as is, and
    /// verification recognises it by comparison instead of decoding and
    /// reading it (the same bytes always read as the same header).
    pub header_segment: Box<str>,
}

/// The header segment of the tokens `kid` signs with `alg`.
fn header_segment(kid: &str, alg: Algorithm) -> Box<str> {
    use base64::Engine;
    let header = super::claims::IssuedHeader {
        alg: alg_name(alg),
        kid,
        typ: "JWT",
    };
    // Three strings: serialising cannot fail.
    let json = serde_json::to_vec(&header).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json)
        .into_boxed_str()
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.signer.is_some())
            .finish()
    }
}

/// All configured keys.
pub(crate) struct LocalKeys {
    /// The first key, the one that signs.
    pub signing: Arc<LocalKey>,
    pub by_kid: HashMap<String, Arc<LocalKey>>,
    /// `{"keys":[...]}` with the public JWK of every asymmetric key.
    pub jwks: Bytes,
}

impl LocalKeys {
    /// The header a token's first segment stands for, when that segment is
    /// exactly the one one of these keys writes.
    pub fn recognise(&self, segment: &str) -> Option<super::compact::Header<'_>> {
        self.by_kid
            .values()
            .find(|key| *key.header_segment == *segment)
            .map(|key| super::compact::Header::known(key))
    }
}

/// Whether a missing `secret_file` with `create_if_missing` gets created now.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    Create,
    /// `portcullis check`: report nothing, the file would be created at start.
    Tolerate,
}

/// Checks that every key in `tokens.signing` loads, without creating files.
/// Returns every problem found, with its path.
pub fn check_keys(cfg: &Tokens) -> Result<(), ConfigError> {
    load(cfg, Missing::Tolerate).map(|_| ())
}

pub(crate) fn load(cfg: &Tokens, missing: Missing) -> Result<Option<LocalKeys>, ConfigError> {
    let mut issues = Issues::default();
    if cfg.signing.is_empty() {
        issues.push("tokens.signing", "at least one signing key is required");
    }
    let mut keys = Vec::new();
    for (i, k) in cfg.signing.iter().enumerate() {
        let path = format!("tokens.signing[{i}]");
        if let Some(key) = load_one(k, &path, missing, &mut issues) {
            if i == 0 && key.signer.is_none() {
                issues.push(
                    format!("{path}.private_key"),
                    "the first key signs tokens and needs a private key",
                );
            }
            keys.push((i, Arc::new(key)));
        }
    }
    let mut by_kid = HashMap::new();
    for (i, k) in &keys {
        if by_kid.insert(k.kid.to_string(), k.clone()).is_some() {
            issues.push(
                format!("tokens.signing[{i}].kid"),
                format!("{:?} is used twice", k.kid),
            );
        }
    }
    if !issues.0.is_empty() {
        return Err(ConfigError { issues: issues.0 });
    }
    let keys: Vec<Arc<LocalKey>> = keys.into_iter().map(|(_, k)| k).collect();
    let Some(signing) = keys.first().cloned().filter(|_| missing == Missing::Create) else {
        return Ok(None); // check mode: nothing is kept
    };
    let public: Vec<_> = keys.iter().filter_map(|k| k.public_jwk.clone()).collect();
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": public }))
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{\"keys\":[]}"));
    tracing::info!(
        signing_kid = %signing.kid,
        kids = ?keys.iter().map(|k| k.kid).collect::<Vec<_>>(),
        "token keys loaded"
    );
    Ok(Some(LocalKeys {
        signing,
        by_kid,
        jwks,
    }))
}

fn load_one(k: &SigningKey, path: &str, missing: Missing, issues: &mut Issues) -> Option<LocalKey> {
    if k.alg.is_hmac() {
        let secret = hmac_secret(k, path, missing, issues)?;
        let built = KeyVerifier::hmac(k.alg, &secret)
            .and_then(|v| KeySigner::hmac(k.alg, &secret).map(|s| (v, s)));
        return match built {
            Ok((verifier, signer)) => Some(LocalKey {
                kid: super::names::kept(&k.kid),
                alg: k.alg,
                verifier,
                signer: Some(signer),
                public_jwk: None,
                header_segment: header_segment(&k.kid, k.alg),
            }),
            Err(e) => {
                issues.push(path, e);
                None
            }
        };
    }
    if k.secret_env.is_some() || k.secret_file.is_some() {
        issues.push(path, "asymmetric keys take PEM files, not a secret");
    }
    let private = match &k.private_key {
        Some(file) => match read(file).and_then(|pem| pem_keys::private_key(k.alg, &pem)) {
            Ok(key) => Some(key),
            Err(e) => {
                issues.push(format!("{path}.private_key"), e);
                return None;
            }
        },
        None => None,
    };
    let given_public = match &k.public_key {
        Some(file) => match read(file).and_then(|pem| pem_keys::public_key(k.alg, &pem)) {
            Ok(key) => Some(key),
            Err(e) => {
                issues.push(format!("{path}.public_key"), e);
                return None;
            }
        },
        None => None,
    };
    let public: PublicKey = match (&private, given_public) {
        (Some(p), Some(given)) => {
            if !pem_keys::same_key(&p.public_key(), &given) {
                issues.push(
                    format!("{path}.public_key"),
                    "is not the public half of private_key",
                );
                return None;
            }
            given
        }
        (Some(p), None) => p.public_key(),
        (None, Some(given)) => given,
        (None, None) => {
            issues.push(
                path,
                format!("{} needs private_key or public_key", alg_name(k.alg)),
            );
            return None;
        }
    };
    let verifier = match KeyVerifier::public(k.alg, &public) {
        Ok(v) => v,
        Err(e) => {
            issues.push(path, e);
            return None;
        }
    };
    let signer = match private.map(|p| KeySigner::private(k.alg, p)) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            issues.push(format!("{path}.private_key"), e);
            return None;
        }
        None => None,
    };
    Some(LocalKey {
        kid: super::names::kept(&k.kid),
        alg: k.alg,
        verifier,
        signer,
        public_jwk: Some(jwk::public_jwk(&k.kid, k.alg, &public)),
        header_segment: header_segment(&k.kid, k.alg),
    })
}

fn hmac_secret(
    k: &SigningKey,
    path: &str,
    missing: Missing,
    issues: &mut Issues,
) -> Option<Vec<u8>> {
    if k.private_key.is_some() || k.public_key.is_some() {
        issues.push(path, "HMAC keys take a secret, not PEM files");
    }
    match (&k.secret_env, &k.secret_file) {
        (Some(name), None) => secret::from_env(name)
            .map_err(|e| issues.push(format!("{path}.secret_env"), e))
            .ok(),
        (None, Some(file)) => {
            if k.create_if_missing && !file.exists() {
                if missing == Missing::Tolerate {
                    return None;
                }
                if let Err(e) = secret::create_secret_file(file) {
                    issues.push(format!("{path}.secret_file"), format!("cannot create: {e}"));
                    return None;
                }
                tracing::warn!(kid = %k.kid, file = %file.display(), "created a new random HMAC secret (create_if_missing)");
            }
            secret::from_file(file)
                .map_err(|e| issues.push(format!("{path}.secret_file"), e))
                .ok()
        }
        (Some(_), Some(_)) => {
            issues.push(path, "give either secret_env or secret_file, not both");
            None
        }
        (None, None) => {
            issues.push(
                path,
                format!("{} needs secret_env or secret_file", alg_name(k.alg)),
            );
            None
        }
    }
}

fn read(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))
}
