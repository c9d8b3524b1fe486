//! The signature algorithms of JWS (RFC 7518 section 3) over the RustCrypto
//! primitives: a `KeySigner` makes signatures with a private key or secret,
//! a `KeyVerifier` checks them. Each is built for exactly one algorithm, so a
//! key can never be used with another algorithm than the one it was set up for.

use crate::config::Algorithm;
use hmac::{Hmac, Mac};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

/// The `alg` header value of an algorithm.
pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
    }
}

/// The public half of a key, as read from PEM or a JWK.
#[derive(Clone)]
pub(crate) enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    /// Whether this key can check signatures of `alg`.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        use Algorithm::*;
        matches!(
            (self, alg),
            (
                PublicKey::Rsa(_),
                RS256 | RS384 | RS512 | PS256 | PS384 | PS512
            ) | (PublicKey::P256(_), ES256)
                | (PublicKey::P384(_), ES384)
                | (PublicKey::Ed25519(_), EdDSA)
        )
    }
}

/// The private half of an asymmetric key.
pub(crate) enum PrivateKey {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl PrivateKey {
    pub(crate) fn public_key(&self) -> PublicKey {
        match self {
            PrivateKey::Rsa(k) => PublicKey::Rsa(k.to_public_key()),
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            PrivateKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
        }
    }
}

/// Checks signatures of one algorithm with one key.
#[derive(Clone)]
pub(crate) enum KeyVerifier {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
    Rs256(rsa::pkcs1v15::VerifyingKey<Sha256>),
    Rs384(rsa::pkcs1v15::VerifyingKey<Sha384>),
    Rs512(rsa::pkcs1v15::VerifyingKey<Sha512>),
    Ps256(rsa::pss::VerifyingKey<Sha256>),
    Ps384(rsa::pss::VerifyingKey<Sha384>),
    Ps512(rsa::pss::VerifyingKey<Sha512>),
    Es256(p256::ecdsa::VerifyingKey),
    Es384(p384::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

/// Why a verifier or signer could not be built.
pub(crate) type KeyMismatch = &'static str;

impl KeyVerifier {
    /// A verifier for an HMAC algorithm with `secret`.
    pub(crate) fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, KeyMismatch> {
        let bad = |_| "the secret cannot key an HMAC";
        Ok(match alg {
            Algorithm::HS256 => KeyVerifier::Hs256(Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS384 => KeyVerifier::Hs384(Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS512 => KeyVerifier::Hs512(Hmac::new_from_slice(secret).map_err(bad)?),
            _ => return Err("not an HMAC algorithm"),
        })
    }

    /// A verifier for an asymmetric algorithm with `key`.
    pub(crate) fn public(alg: Algorithm, key: &PublicKey) -> Result<Self, KeyMismatch> {
        use rsa::{pkcs1v15, pss};
        Ok(match (alg, key) {
            (Algorithm::RS256, PublicKey::Rsa(k)) => {
                KeyVerifier::Rs256(pkcs1v15::VerifyingKey::new(k.clone()))
            }
            (Algorithm::RS384, PublicKey::Rsa(k)) => {
                KeyVerifier::Rs384(pkcs1v15::VerifyingKey::new(k.clone()))
            }
            (Algorithm::RS512, PublicKey::Rsa(k)) => {
                KeyVerifier::Rs512(pkcs1v15::VerifyingKey::new(k.clone()))
            }
            (Algorithm::PS256, PublicKey::Rsa(k)) => {
                KeyVerifier::Ps256(pss::VerifyingKey::new(k.clone()))
            }
            (Algorithm::PS384, PublicKey::Rsa(k)) => {
                KeyVerifier::Ps384(pss::VerifyingKey::new(k.clone()))
            }
            (Algorithm::PS512, PublicKey::Rsa(k)) => {
                KeyVerifier::Ps512(pss::VerifyingKey::new(k.clone()))
            }
            (Algorithm::ES256, PublicKey::P256(k)) => KeyVerifier::Es256(*k),
            (Algorithm::ES384, PublicKey::P384(k)) => KeyVerifier::Es384(*k),
            (Algorithm::EdDSA, PublicKey::Ed25519(k)) => KeyVerifier::EdDsa(*k),
            _ => return Err("the key's type does not fit the algorithm"),
        })
    }

    /// Whether `signature` is a valid signature of `message`. Constant-time
    /// for HMAC; malformed signatures (wrong length, zero ECDSA scalars)
    /// simply do not verify.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        fn mac<M: Mac + Clone>(m: &M, message: &[u8], signature: &[u8]) -> bool {
            let mut m = m.clone();
            m.update(message);
            m.verify_slice(signature).is_ok()
        }
        match self {
            KeyVerifier::Hs256(m) => mac(m, message, signature),
            KeyVerifier::Hs384(m) => mac(m, message, signature),
            KeyVerifier::Hs512(m) => mac(m, message, signature),
            KeyVerifier::Rs256(k) => pkcs1(k, message, signature),
            KeyVerifier::Rs384(k) => pkcs1(k, message, signature),
            KeyVerifier::Rs512(k) => pkcs1(k, message, signature),
            KeyVerifier::Ps256(k) => pss(k, message, signature),
            KeyVerifier::Ps384(k) => pss(k, message, signature),
            KeyVerifier::Ps512(k) => pss(k, message, signature),
            KeyVerifier::Es256(k) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            KeyVerifier::Es384(k) => p384::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify(message, &s).is_ok()),
            KeyVerifier::EdDsa(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
        }
    }
}

fn pkcs1<D>(k: &rsa::pkcs1v15::VerifyingKey<D>, message: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + rsa::pkcs8::AssociatedOid,
{
    rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| k.verify(message, &s).is_ok())
}

fn pss<D>(k: &rsa::pss::VerifyingKey<D>, message: &[u8], signature: &[u8]) -> bool
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    rsa::pss::Signature::try_from(signature).is_ok_and(|s| k.verify(message, &s).is_ok())
}

/// Makes signatures of one algorithm with one key.
pub(crate) enum KeySigner {
    Hs256(Hmac<Sha256>),
    Hs384(Hmac<Sha384>),
    Hs512(Hmac<Sha512>),
    Rs256(rsa::pkcs1v15::SigningKey<Sha256>),
    Rs384(rsa::pkcs1v15::SigningKey<Sha384>),
    Rs512(rsa::pkcs1v15::SigningKey<Sha512>),
    Ps256(rsa::pss::BlindedSigningKey<Sha256>),
    Ps384(rsa::pss::BlindedSigningKey<Sha384>),
    Ps512(rsa::pss::BlindedSigningKey<Sha512>),
    Es256(p256::ecdsa::SigningKey),
    Es384(p384::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
}

impl KeySigner {
    pub(crate) fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, KeyMismatch> {
        let bad = |_| "the secret cannot key an HMAC";
        Ok(match alg {
            Algorithm::HS256 => KeySigner::Hs256(Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS384 => KeySigner::Hs384(Hmac::new_from_slice(secret).map_err(bad)?),
            Algorithm::HS512 => KeySigner::Hs512(Hmac::new_from_slice(secret).map_err(bad)?),
            _ => return Err("not an HMAC algorithm"),
        })
    }

    pub(crate) fn private(alg: Algorithm, key: PrivateKey) -> Result<Self, KeyMismatch> {
        use rsa::{pkcs1v15, pss};
        Ok(match (alg, key) {
            (Algorithm::RS256, PrivateKey::Rsa(k)) => {
                KeySigner::Rs256(pkcs1v15::SigningKey::new(*k))
            }
            (Algorithm::RS384, PrivateKey::Rsa(k)) => {
                KeySigner::Rs384(pkcs1v15::SigningKey::new(*k))
            }
            (Algorithm::RS512, PrivateKey::Rsa(k)) => {
                KeySigner::Rs512(pkcs1v15::SigningKey::new(*k))
            }
            (Algorithm::PS256, PrivateKey::Rsa(k)) => {
                KeySigner::Ps256(pss::BlindedSigningKey::new(*k))
            }
            (Algorithm::PS384, PrivateKey::Rsa(k)) => {
                KeySigner::Ps384(pss::BlindedSigningKey::new(*k))
            }
            (Algorithm::PS512, PrivateKey::Rsa(k)) => {
                KeySigner::Ps512(pss::BlindedSigningKey::new(*k))
            }
            (Algorithm::ES256, PrivateKey::P256(k)) => KeySigner::Es256(k),
            (Algorithm::ES384, PrivateKey::P384(k)) => KeySigner::Es384(k),
            (Algorithm::EdDSA, PrivateKey::Ed25519(k)) => KeySigner::EdDsa(k),
            _ => return Err("the key's type does not fit the algorithm"),
        })
    }

    /// The JWS signature of `message` (ECDSA as fixed-size `r || s`).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        fn mac<M: Mac + Clone>(m: &M, message: &[u8]) -> Vec<u8> {
            let mut m = m.clone();
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }
        let mut rng = rsa::rand_core::OsRng;
        let e = |e: rsa::signature::Error| e.to_string();
        Ok(match self {
            KeySigner::Hs256(m) => mac(m, message),
            KeySigner::Hs384(m) => mac(m, message),
            KeySigner::Hs512(m) => mac(m, message),
            KeySigner::Rs256(k) => k.try_sign(message).map_err(e)?.to_vec(),
            KeySigner::Rs384(k) => k.try_sign(message).map_err(e)?.to_vec(),
            KeySigner::Rs512(k) => k.try_sign(message).map_err(e)?.to_vec(),
            KeySigner::Ps256(k) => k.try_sign_with_rng(&mut rng, message).map_err(e)?.to_vec(),
            KeySigner::Ps384(k) => k.try_sign_with_rng(&mut rng, message).map_err(e)?.to_vec(),
            KeySigner::Ps512(k) => k.try_sign_with_rng(&mut rng, message).map_err(e)?.to_vec(),
            KeySigner::Es256(k) => {
                let s: p256::ecdsa::Signature = k.try_sign(message).map_err(e)?;
                s.to_bytes().to_vec()
            }
            KeySigner::Es384(k) => {
                let s: p384::ecdsa::Signature = k.try_sign(message).map_err(e)?;
                s.to_bytes().to_vec()
            }
            KeySigner::EdDsa(k) => k.try_sign(message).map_err(e)?.to_bytes().to_vec(),
        })
    }
}

/// The algorithm named `name` in an `alg` header or JWK (exact spelling).
pub(crate) fn alg_from_name(name: &str) -> Option<Algorithm> {
    use Algorithm::*;
    [
        HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
    ]
    .into_iter()
    .find(|a| alg_name(*a) == name)
}
