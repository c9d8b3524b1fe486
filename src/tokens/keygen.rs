//! `portcullis keygen`: writes a new signing key for the config's
//! `tokens.signing`. Asymmetric algorithms get a PKCS#8 PEM private key
//! (`<kid>.key.pem`, mode 0600) and an SPKI PEM public key (`<kid>.pub.pem`);
//! RSA keys have 2048 bits. HMAC algorithms get `<kid>.secret`: 64 hex
//! characters (32 random bytes), mode 0600, used as-is as the secret.
//! Existing files are never overwritten.

use super::error::TokenError;
use super::secret::{create_secret_file, private_file};
use crate::config::Algorithm;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The RSA modulus size of generated keys, in bits.
pub const RSA_KEYGEN_BITS: usize = 2048;

/// The files `keygen` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// The private key (PEM) or the HMAC secret.
    pub private: PathBuf,
    /// The public key (PEM); `None` for HMAC.
    pub public: Option<PathBuf>,
}

/// Generates a key for `alg` named `kid` in `out_dir` (created if missing).
pub fn keygen(alg: Algorithm, out_dir: &Path, kid: &str) -> Result<KeyFiles, TokenError> {
    let kid_ok = !kid.is_empty()
        && !kid.starts_with('.')
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !kid_ok {
        return Err(TokenError::InvalidRequest(
            "a kid for keygen is made of A-Z a-z 0-9 . _ - and does not start with a dot",
        ));
    }
    let dir_error = |e: std::io::Error| TokenError::KeyFile {
        path: out_dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(out_dir).map_err(dir_error)?;
    if alg.is_hmac() {
        let private = out_dir.join(format!("{kid}.secret"));
        create_secret_file(&private)?;
        return Ok(KeyFiles {
            private,
            public: None,
        });
    }
    let (private_pem, public_pem) = generate(alg).map_err(|reason| TokenError::KeyFile {
        path: out_dir.display().to_string(),
        reason,
    })?;
    let private = out_dir.join(format!("{kid}.key.pem"));
    let public = out_dir.join(format!("{kid}.pub.pem"));
    write_new(&private, private_pem.as_bytes(), true)?;
    write_new(&public, public_pem.as_bytes(), false)?;
    Ok(KeyFiles {
        private,
        public: Some(public),
    })
}

/// PEM text of a new private key and its public key.
fn generate(alg: Algorithm) -> Result<(zeroizing::Secret, String), String> {
    use Algorithm::*;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_KEYGEN_BITS).map_err(|x| e(&x))?;
            let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|x| e(&x))?;
            let public = key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|x| e(&x))?;
            Ok((zeroizing::Secret(private), public))
        }
        ES256 => {
            let key = p256::ecdsa::SigningKey::random(&mut OsRng);
            let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|x| e(&x))?;
            let public = key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|x| e(&x))?;
            Ok((zeroizing::Secret(private), public))
        }
        ES384 => {
            let key = p384::ecdsa::SigningKey::random(&mut OsRng);
            let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|x| e(&x))?;
            let public = key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|x| e(&x))?;
            Ok((zeroizing::Secret(private), public))
        }
        EdDSA => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            let private = key.to_pkcs8_pem(LineEnding::LF).map_err(|x| e(&x))?;
            let public = key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|x| e(&x))?;
            Ok((zeroizing::Secret(private), public))
        }
        HS256 | HS384 | HS512 => Err("HMAC keys are secrets, not key pairs".into()),
    }
}

mod zeroizing {
    /// PEM text of a private key, wiped from memory when dropped.
    pub(super) struct Secret(pub rsa::pkcs8::der::zeroize::Zeroizing<String>);

    impl Secret {
        pub(super) fn as_bytes(&self) -> &[u8] {
            self.0.as_bytes()
        }
    }
}

fn write_new(path: &Path, contents: &[u8], private: bool) -> Result<(), TokenError> {
    let fail = |e: std::io::Error| TokenError::KeyFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = if private {
        private_file(path).map_err(fail)?
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(fail)?
    };
    file.write_all(contents).map_err(fail)?;
    file.sync_all().map_err(fail)
}
