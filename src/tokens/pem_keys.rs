//! Reading asymmetric keys from PEM text: PKCS#8 (`BEGIN PRIVATE KEY`) for
//! every algorithm, plus the older PKCS#1 (`BEGIN RSA PRIVATE KEY`) and SEC1
//! (`BEGIN EC PRIVATE KEY`) forms operators often have; public keys as SPKI
//! (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`). RSA keys must
//! have at least 2048 bits.

use super::algorithms::{PrivateKey, PublicKey};
use crate::config::Algorithm;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The private key of `alg` in `pem`.
pub(crate) fn private_key(alg: Algorithm, pem: &str) -> Result<PrivateKey, String> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            let key = RsaPrivateKey::from_pkcs8_pem(pem)
                .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
                .map_err(|_| "not a PEM RSA private key (PKCS#8 or PKCS#1)".to_string())?;
            rsa_size(key.size())?;
            Ok(PrivateKey::Rsa(Box::new(key)))
        }
        ES256 => p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem).map(Into::into))
            .map(PrivateKey::P256)
            .map_err(|_| "not a PEM P-256 private key (PKCS#8 or SEC1)".to_string()),
        ES384 => p384::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .or_else(|_| p384::SecretKey::from_sec1_pem(pem).map(Into::into))
            .map(PrivateKey::P384)
            .map_err(|_| "not a PEM P-384 private key (PKCS#8 or SEC1)".to_string()),
        EdDSA => ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(PrivateKey::Ed25519)
            .map_err(|_| "not a PEM Ed25519 private key (PKCS#8)".to_string()),
        HS256 | HS384 | HS512 => Err("HMAC keys are secrets, not PEM files".into()),
    }
}

/// The public key of `alg` in `pem`.
pub(crate) fn public_key(alg: Algorithm, pem: &str) -> Result<PublicKey, String> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            let key = RsaPublicKey::from_public_key_pem(pem)
                .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
                .map_err(|_| "not a PEM RSA public key (SPKI or PKCS#1)".to_string())?;
            rsa_size(key.size())?;
            Ok(PublicKey::Rsa(key))
        }
        ES256 => p256::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map(PublicKey::P256)
            .map_err(|_| "not a PEM P-256 public key (SPKI)".to_string()),
        ES384 => p384::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map(PublicKey::P384)
            .map_err(|_| "not a PEM P-384 public key (SPKI)".to_string()),
        EdDSA => ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map(PublicKey::Ed25519)
            .map_err(|_| "not a PEM Ed25519 public key (SPKI)".to_string()),
        HS256 | HS384 | HS512 => Err("HMAC keys are secrets, not PEM files".into()),
    }
}

/// Rejects RSA keys shorter than `MIN_RSA_BITS`; `bytes` is the modulus size.
pub(crate) fn rsa_size(bytes: usize) -> Result<(), String> {
    if bytes * 8 < MIN_RSA_BITS {
        Err(format!(
            "RSA key has {} bits; at least {MIN_RSA_BITS} are required",
            bytes * 8
        ))
    } else {
        Ok(())
    }
}

/// Whether two public keys are the same key.
pub(crate) fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    match (a, b) {
        (PublicKey::Rsa(a), PublicKey::Rsa(b)) => a.n() == b.n() && a.e() == b.e(),
        (PublicKey::P256(a), PublicKey::P256(b)) => a == b,
        (PublicKey::P384(a), PublicKey::P384(b)) => a == b,
        (PublicKey::Ed25519(a), PublicKey::Ed25519(b)) => a == b,
        _ => false,
    }
}
