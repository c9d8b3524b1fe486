//! One password check against an account, with the lockout of API.md
//! section 2: the hash is always verified (a dummy one when there is no
//! account or no password, so every case costs the same), then a locked
//! account is 1530 whatever the password, a wrong password is 1528 and is
//! counted, and the failure that reaches `password.max_attempts` within
//! `lockout.window` locks the account for `lockout.period` and already
//! answers 1530. A right password forgets the counted failures.

use super::error::AuthError;
use super::passwords;
use super::settings::BrandRef;
use super::AuthApi;
use crate::metrics::METRICS;
use crate::store::{PasswordFailure, User};

/// The account when `normalised` is its password.
pub async fn check(
    api: &AuthApi,
    brand: BrandRef<'_>,
    user: Option<User>,
    normalised: String,
) -> Result<User, AuthError> {
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = passwords::verify(normalised, stored).await?;
    let Some(user) = user else {
        return Err(AuthError::InvalidPassword);
    };
    if user.locked_until.is_some() {
        return Err(AuthError::AccountLocked);
    }
    if matches {
        api.store.clear_password_failures(&user.uid).await?;
        return Ok(user);
    }
    if user.password_hash.is_none() {
        return Err(AuthError::InvalidPassword);
    }
    let Some(policy) = api.settings.lockout(brand.policy) else {
        return Err(AuthError::InvalidPassword);
    };
    match api.store.record_password_failure(&user.uid, policy).await? {
        PasswordFailure::Counted { .. } => Err(AuthError::InvalidPassword),
        PasswordFailure::LockedNow { until } => {
            METRICS
                .account_lockouts_total
                .with_label_values(&[brand.name])
                .inc();
            tracing::warn!(
                uid = %user.uid,
                brand = brand.name,
                locked_until_ms = until,
                "account locked after too many wrong passwords"
            );
            Err(AuthError::AccountLocked)
        }
        PasswordFailure::AlreadyLocked { .. } => Err(AuthError::AccountLocked),
    }
}
