//! The seam where first-time passwords join token/generate (issue 5).
//! Today: a `password` or `confirmPassword` on a brand without passwords is
//! 1524, as the contract says; on a password brand, staging a password is
//! not available in this version, so it is refused rather than ignored.
//! Issue 5 replaces the second branch with the policy checks (1520, 1521,
//! 1542) and returns the hash to stage on the session.

use super::error::AuthError;
use super::settings::BrandRef;
use super::validation::Fields;

/// The password hash to stage on the new session, if any.
pub fn on_token_generate(
    fields: &Fields<'_>,
    brand: BrandRef<'_>,
) -> Result<Option<String>, AuthError> {
    let offered = fields.present("password") || fields.present("confirmPassword");
    match (offered, brand.policy.password_enabled) {
        (false, _) => Ok(None),
        (true, false) => Err(AuthError::PasswordNotEnabled),
        (true, true) => Err(AuthError::NotAvailable),
    }
}
