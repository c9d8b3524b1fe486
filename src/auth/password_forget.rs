//! password/forget: stages a new password on a bound session of a password
//! brand (1524 elsewhere); `password` + `confirmPassword` are checked like a
//! first password (1520, 1521, 1542). Nothing changes until that session's
//! otp/validate succeeds, which proves the caller holds the identifier.

use super::error::AuthError;
use super::password_fields::new_password;
use super::passwords;
use super::session::bound_session;
use super::validation::{Common, Fields};
use super::wire::Reply;
use super::AuthApi;
use crate::store::Family;

pub(super) async fn run(
    api: &AuthApi,
    family: Family,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let common = Common::read(&fields, &api.settings, family)?;
    let session_id = fields.session_id()?;
    let policy = common.brand.policy;
    if !policy.password_enabled {
        return Err(AuthError::PasswordNotEnabled);
    }
    let password = new_password(&fields, "password", policy.password.min_length)?;
    let session = bound_session(api.store.as_ref(), session_id, family, &common).await?;
    let hash = passwords::hash(password).await?;
    if api.store.stage_password(&session.id, &hash).await? {
        Ok(Reply::Done)
    } else {
        Err(AuthError::InvalidSession)
    }
}
