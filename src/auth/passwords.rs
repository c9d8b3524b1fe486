//! Passwords: the policy (NFKC normalisation, `password.min_length`
//! characters, at most 128 bytes, never truncated), argon2id hashing into a
//! PHC string with a per-user salt, and verification. Hashing and verifying
//! run on tokio's blocking pool, never on a worker thread, and at most
//! [`concurrency`] at once (each takes 19 MiB and a core; the others wait
//! their turn asynchronously), so a storm of password checks can neither
//! take every core from the proxy's workers nor exhaust memory. A check against
//! no stored hash still verifies against a dummy hash, so an unknown user,
//! a user without a password and a wrong password cost the same.

use super::error::AuthError;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;

/// Longest password accepted, in bytes after normalisation.
pub const MAX_PASSWORD_BYTES: usize = 128;
/// Cap on a password field as read from a body; longer is 1519, not 1542.
pub const MAX_PASSWORD_FIELD_BYTES: usize = 1024;

/// OWASP's minimum for argon2id: 19 MiB, two passes, one lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

/// How many hashes or verifications run at once: half the cores, at least one.
pub fn concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

static SLOTS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(concurrency()));

/// Runs `job` on the blocking pool once a slot is free.
async fn in_slot<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, AuthError> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))?
}

fn argon2() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The password as compared and hashed: NFKC, so that the same password
/// typed on two keyboards is the same.
pub fn normalise(raw: &str) -> String {
    raw.nfkc().collect()
}

/// 1542 unless the normalised password has at least `min_length`
/// characters and at most [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_policy(normalised: &str, min_length: usize) -> Result<(), AuthError> {
    let long_enough = normalised.chars().count() >= min_length.max(1);
    if long_enough && normalised.len() <= MAX_PASSWORD_BYTES {
        Ok(())
    } else {
        Err(AuthError::PasswordPolicy)
    }
}

/// The PHC string (argon2id, fresh salt) of a normalised password.
pub async fn hash(normalised: String) -> Result<String, AuthError> {
    in_slot(move || hash_now(&normalised)).await
}

fn hash_now(normalised: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(normalised.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

/// A hash of a random password with the same parameters: what a check
/// without a stored hash verifies against, so it costs as much.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let random: [u8; 16] = rand::random();
    hash_now(&format!("{random:?}")).ok()
});

/// Makes the dummy hash now (on the blocking pool), so that the first
/// check without a stored hash costs no more than the others.
pub async fn prepare() {
    let _ = tokio::task::spawn_blocking(|| DUMMY_HASH.is_some()).await;
}

/// Whether `normalised` matches `stored`. No stored hash, a hash that does
/// not parse, or a password over the length limit is `false`, after the
/// same work as a real check.
pub async fn verify(normalised: String, stored: Option<String>) -> Result<bool, AuthError> {
    in_slot(move || verify_now(&normalised, stored.as_deref())).await
}

fn verify_now(normalised: &str, stored: Option<&str>) -> Result<bool, AuthError> {
    let parsed = stored.and_then(|s| PasswordHash::new(s).ok());
    let usable = parsed.is_some() && normalised.len() <= MAX_PASSWORD_BYTES;
    let dummy;
    let target = match parsed {
        Some(p) if usable => p,
        _ => {
            dummy = DUMMY_HASH
                .as_deref()
                .ok_or_else(|| AuthError::Hashing("no dummy hash".into()))?;
            PasswordHash::new(dummy).map_err(|e| AuthError::Hashing(e.to_string()))?
        }
    };
    let matches = argon2()?
        .verify_password(normalised.as_bytes(), &target)
        .is_ok();
    Ok(usable && matches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_with_owasp_parameters_and_its_own_salt() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "every hash has its own salt");
        assert!(verify("correct horse".into(), Some(a.clone()))
            .await
            .unwrap());
        assert!(!verify("correct horsE".into(), Some(a)).await.unwrap());
    }

    #[tokio::test]
    async fn without_a_stored_hash_nothing_matches() {
        assert!(!verify("anything".into(), None).await.unwrap());
        assert!(!verify("anything".into(), Some("not a phc string".into()))
            .await
            .unwrap());
        let dummy = DUMMY_HASH.clone().unwrap();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "same cost as a real hash"
        );
    }

    #[test]
    fn the_policy_counts_characters_after_nfkc_and_caps_bytes() {
        assert!(check_policy("12345678", 8).is_ok());
        assert!(check_policy("1234567", 8).is_err());
        // Eight accented letters are eight characters, sixteen bytes.
        assert!(check_policy(&normalise("éééééééé"), 8).is_ok());
        assert!(check_policy(&"a".repeat(128), 8).is_ok());
        assert!(check_policy(&"a".repeat(129), 8).is_err());
        assert!(check_policy("", 0).is_err());
    }

    #[test]
    fn nfkc_makes_compatible_spellings_equal() {
        // Full-width letters, a ligature, and a decomposed é.
        assert_eq!(normalise("ＰＡＳＳ"), "PASS");
        assert_eq!(normalise("ﬁne"), "fine");
        assert_eq!(normalise("e\u{301}"), "é");
    }

    #[tokio::test]
    async fn a_long_password_is_compared_whole_never_truncated() {
        let long = "p".repeat(128);
        let stored = hash(long.clone()).await.unwrap();
        assert!(verify(long.clone(), Some(stored.clone())).await.unwrap());
        assert!(!verify(format!("{long}x"), Some(stored.clone()))
            .await
            .unwrap());
        assert!(!verify("p".repeat(127), Some(stored)).await.unwrap());
    }
}
