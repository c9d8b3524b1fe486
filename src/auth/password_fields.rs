//! Reading passwords from a body: a new password with its
//! `confirmPassword` (missing or empty 1520, different 1521, against the
//! policy 1542, compared after NFKC), and a password to check (missing,
//! empty or mistyped 1519). Field caps are generous so that an overlong
//! password is a policy refusal, not a malformed body.

use super::error::AuthError;
use super::passwords::{self, MAX_PASSWORD_FIELD_BYTES};
use super::validation::Fields;

/// Whether the body offers a password at all (`password` or
/// `confirmPassword` present and not null).
pub fn offered(fields: &Fields<'_>, name: &str) -> bool {
    fields.present(name) || fields.present("confirmPassword")
}

/// The new password in `name`, confirmed by `confirmPassword`, normalised.
pub fn new_password(
    fields: &Fields<'_>,
    name: &'static str,
    min_length: usize,
) -> Result<String, AuthError> {
    let password = fields
        .string(name, MAX_PASSWORD_FIELD_BYTES)?
        .filter(|p| !p.is_empty())
        .ok_or(AuthError::PasswordRequired)?;
    let confirm = fields.string("confirmPassword", MAX_PASSWORD_FIELD_BYTES)?;
    let password = passwords::normalise(password);
    if confirm.map(passwords::normalise).as_deref() != Some(password.as_str()) {
        return Err(AuthError::PasswordMismatch);
    }
    passwords::check_policy(&password, min_length)?;
    Ok(password)
}

/// The password in `name` to check against an account, normalised.
pub fn given_password(fields: &Fields<'_>, name: &'static str) -> Result<String, AuthError> {
    fields
        .required(name, MAX_PASSWORD_FIELD_BYTES)
        .map(passwords::normalise)
}
