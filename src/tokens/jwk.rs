//! JSON Web Keys (RFC 7517): writing the public half of our keys for
//! `/.well-known/jwks.json`, and reading the keys a trusted issuer publishes.
//! Only RSA, EC (P-256, P-384) and OKP (Ed25519) public keys are read; `oct`
//! (HMAC) keys and keys marked for encryption are ignored.

use super::algorithms::{alg_name, PublicKey};
use super::pem_keys::rsa_size;
use crate::config::Algorithm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Map, Value};

/// The public JWK of `key`, used with `alg` under `kid`.
pub(crate) fn public_jwk(kid: &str, alg: Algorithm, key: &PublicKey) -> Value {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let mut jwk = match key {
        PublicKey::Rsa(k) => json!({
            "kty": "RSA",
            "n": b64(&k.n().to_bytes_be()),
            "e": b64(&k.e().to_bytes_be()),
        }),
        PublicKey::P256(k) => {
            let p = k.to_encoded_point(false);
            json!({
                "kty": "EC",
                "crv": "P-256",
                "x": b64(p.x().map(|x| &x[..]).unwrap_or_default()),
                "y": b64(p.y().map(|y| &y[..]).unwrap_or_default()),
            })
        }
        PublicKey::P384(k) => {
            let p = k.to_encoded_point(false);
            json!({
                "kty": "EC",
                "crv": "P-384",
                "x": b64(p.x().map(|x| &x[..]).unwrap_or_default()),
                "y": b64(p.y().map(|y| &y[..]).unwrap_or_default()),
            })
        }
        PublicKey::Ed25519(k) => json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64(k.as_bytes()),
        }),
    };
    if let Value::Object(m) = &mut jwk {
        m.insert("kid".into(), Value::String(kid.to_string()));
        m.insert("alg".into(), Value::String(alg_name(alg).to_string()));
        m.insert("use".into(), Value::String("sig".into()));
    }
    jwk
}

/// One usable key read from a JWKS.
pub(crate) struct ForeignKey {
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    pub alg: Option<String>,
    pub key: PublicKey,
}

/// Reads one JWK. `Ok(None)` means a key that is well formed but not for
/// signatures we can check (encryption keys, `oct`, other curves).
pub(crate) fn read_jwk(jwk: &Map<String, Value>) -> Result<Option<ForeignKey>, String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        let v = text(name).ok_or_else(|| format!("member {name:?} is missing"))?;
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| format!("member {name:?} is not base64url"))
    };
    let key = match text("kty") {
        Some("RSA") => {
            let n = rsa::BigUint::from_bytes_be(&bytes("n")?);
            let e = rsa::BigUint::from_bytes_be(&bytes("e")?);
            let key = rsa::RsaPublicKey::new(n, e).map_err(|e| format!("bad RSA key: {e}"))?;
            rsa_size(key.size())?;
            PublicKey::Rsa(key)
        }
        Some("EC") => {
            let (x, y) = (bytes("x")?, bytes("y")?);
            match text("crv") {
                Some("P-256") => PublicKey::P256(
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(&x, &y, 32)?)
                        .map_err(|_| "not a point on P-256".to_string())?,
                ),
                Some("P-384") => PublicKey::P384(
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(&x, &y, 48)?)
                        .map_err(|_| "not a point on P-384".to_string())?,
                ),
                _ => return Ok(None),
            }
        }
        Some("OKP") => match text("crv") {
            Some("Ed25519") => {
                let x: [u8; 32] = bytes("x")?
                    .try_into()
                    .map_err(|_| "an Ed25519 key has 32 bytes".to_string())?;
                PublicKey::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&x)
                        .map_err(|_| "not an Ed25519 point".to_string())?,
                )
            }
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(ForeignKey {
        kid: text("kid").map(str::to_string),
        alg: text("alg").map(str::to_string),
        key,
    }))
}

/// An uncompressed SEC1 point from fixed-size coordinates.
fn sec1(x: &[u8], y: &[u8], size: usize) -> Result<Vec<u8>, String> {
    if x.len() != size || y.len() != size {
        return Err(format!("EC coordinates must have {size} bytes"));
    }
    let mut point = Vec::with_capacity(1 + 2 * size);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(point)
}
