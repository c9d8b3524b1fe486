//! Making a code and the keyed hash the store keeps instead of it: CSPRNG
//! digits without modulo bias, HMAC-SHA256 over the session id and the code
//! with a pepper, compared in constant time.

use super::DeliveryError;
use crate::config::Secrets;
use crate::store::Store;
use hmac::{Hmac, Mac};
use rand::distr::{Distribution, Uniform};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Name of the generated pepper in the store when no env var provides one.
pub const PEPPER_SECRET_NAME: &str = "otp_pepper";

/// `length` decimal digits (4 to 10), each drawn uniformly from the
/// thread's CSPRNG (rejection sampling, so no digit is favoured).
pub fn generate_code(length: u8) -> Result<String, DeliveryError> {
    if !(4..=10).contains(&length) {
        return Err(DeliveryError::CodeLength(length));
    }
    let digits = Uniform::new(0u8, 10).map_err(|_| DeliveryError::CodeLength(length))?;
    let mut rng = rand::rng();
    Ok((0..length)
        .map(|_| char::from(b'0' + digits.sample(&mut rng)))
        .collect())
}

/// Hashes codes for the store with the pepper; the same code in another
/// session hashes differently.
#[derive(Clone)]
pub struct CodeHasher {
    pepper: Vec<u8>,
}

impl std::fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHasher(<pepper redacted>)")
    }
}

impl CodeHasher {
    /// A hasher with this pepper (at least 16 bytes).
    pub fn new(pepper: Vec<u8>) -> Result<Self, DeliveryError> {
        if pepper.len() < 16 {
            return Err(DeliveryError::Pepper(format!(
                "a pepper needs at least 16 bytes, got {}",
                pepper.len()
            )));
        }
        Ok(CodeHasher { pepper })
    }

    /// The pepper from the env var named by `secrets.otp_pepper_env`, or
    /// else the one generated once and kept in the store (so every
    /// instance on a shared store agrees).
    pub async fn from_config(secrets: &Secrets, store: &dyn Store) -> Result<Self, DeliveryError> {
        match &secrets.otp_pepper_env {
            Some(var) => {
                let value = std::env::var(var)
                    .map_err(|_| DeliveryError::Pepper(format!("env var {var} is not set")))?;
                Self::new(value.into_bytes())
            }
            None => {
                let pepper = store
                    .get_or_create_secret(PEPPER_SECRET_NAME)
                    .await
                    .map_err(|e| DeliveryError::Pepper(e.to_string()))?;
                Self::new(pepper)
            }
        }
    }

    /// HMAC-SHA256(pepper, len(session id) ‖ session id ‖ code).
    pub fn hash(&self, session_id: &str, code: &str) -> [u8; 32] {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.pepper) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(&(session_id.len() as u64).to_be_bytes());
        mac.update(session_id.as_bytes());
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `code` is the one whose hash is `stored`, in constant time.
    pub fn matches(&self, session_id: &str, code: &str, stored: &[u8]) -> bool {
        hashes_equal(&self.hash(session_id, code), stored)
    }
}

/// Constant-time equality of two hashes (unequal lengths are unequal).
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ManualClock, SqliteStore};
    use std::sync::Arc;

    #[test]
    fn codes_have_the_asked_number_of_digits() {
        for length in 4..=10 {
            let code = generate_code(length).unwrap();
            assert_eq!(code.len(), usize::from(length));
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        assert!(matches!(
            generate_code(3),
            Err(DeliveryError::CodeLength(3))
        ));
        assert!(matches!(
            generate_code(11),
            Err(DeliveryError::CodeLength(11))
        ));
    }

    #[test]
    fn every_digit_turns_up_about_equally_often() {
        let mut counts = [0u32; 10];
        for _ in 0..5_000 {
            for b in generate_code(10).unwrap().bytes() {
                counts[usize::from(b - b'0')] += 1;
            }
        }
        // 50 000 digits, 5 000 expected each; 4 500..5 500 is > 7 sigma wide.
        for (digit, count) in counts.iter().enumerate() {
            assert!(
                (4_500..=5_500).contains(count),
                "digit {digit} seen {count} times"
            );
        }
    }

    #[test]
    fn consecutive_codes_differ() {
        let codes: std::collections::HashSet<String> =
            (0..100).map(|_| generate_code(10).unwrap()).collect();
        assert_eq!(codes.len(), 100);
    }

    #[test]
    fn a_hash_is_bound_to_pepper_session_and_code() {
        let hasher = CodeHasher::new(vec![1; 32]).unwrap();
        let stored = hasher.hash("session-a", "123456");
        assert!(hasher.matches("session-a", "123456", &stored));
        assert!(!hasher.matches("session-a", "123457", &stored));
        assert!(!hasher.matches("session-b", "123456", &stored));
        assert!(
            !hasher.matches("session-a1", "23456", &stored),
            "the session id is length-prefixed"
        );
        let other = CodeHasher::new(vec![2; 32]).unwrap();
        assert!(!other.matches("session-a", "123456", &stored));
        assert!(!hasher.matches("session-a", "123456", &stored[..31]));
        assert!(matches!(
            CodeHasher::new(vec![1; 8]),
            Err(DeliveryError::Pepper(_))
        ));
        assert!(!format!("{hasher:?}").contains('1'));
    }

    #[tokio::test]
    async fn without_an_env_var_the_pepper_is_the_stores_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("p.db"), Arc::new(ManualClock::new(0)))
            .await
            .unwrap();
        let secrets = Secrets::default();
        let first = CodeHasher::from_config(&secrets, &store).await.unwrap();
        let second = CodeHasher::from_config(&secrets, &store).await.unwrap();
        assert_eq!(first.hash("s", "1234"), second.hash("s", "1234"));

        let from_env = Secrets {
            otp_pepper_env: Some("PORTCULLIS_TEST_PEPPER_THAT_IS_NOT_SET".into()),
        };
        assert!(matches!(
            CodeHasher::from_config(&from_env, &store).await,
            Err(DeliveryError::Pepper(_))
        ));
    }
}
