//! First-time passwords on token/generate (API.md section 2): on a brand
//! without passwords, offering one is 1524; on a password brand, a new
//! account must bring `password` + `confirmPassword` (1520, 1521, 1542),
//! and its hash is staged on the session until the session's code
//! validates. An existing account may open a session without a password
//! (then it logs in with password/validate); one it offers is staged like
//! a reset.

use super::error::AuthError;
use super::password_fields;
use super::passwords;
use super::settings::BrandRef;
use super::validation::Fields;

/// The password hash to stage on the new session, if any.
pub async fn on_token_generate(
    fields: &Fields<'_>,
    brand: BrandRef<'_>,
    account_exists: bool,
) -> Result<Option<String>, AuthError> {
    let offered = password_fields::offered(fields, "password");
    match (offered, brand.policy.password_enabled) {
        (false, false) => Ok(None),
        (true, false) => Err(AuthError::PasswordNotEnabled),
        (false, true) if account_exists => Ok(None),
        (false, true) => Err(AuthError::PasswordRequired),
        (true, true) => {
            let min = brand.policy.password.min_length;
            let password = password_fields::new_password(fields, "password", min)?;
            passwords::hash(password).await.map(Some)
        }
    }
}
