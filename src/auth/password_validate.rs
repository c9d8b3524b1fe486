//! password/validate: finishes a login on a password brand with the
//! account's password instead of a code. The session must be bound (same
//! identifier, device, brand). Unknown account, account without password and
//! wrong password are one answer (1528) at one cost; lockout as in
//! `password_check`. A right password consumes the session and issues a
//! USER token, plus an AUTH key on mobile, of one family.

use super::error::AuthError;
use super::grant;
use super::issuer::Role;
use super::password_check;
use super::password_fields::given_password;
use super::session::bound_session;
use super::validation::{Common, Fields};
use super::wire::{LoginView, Reply};
use super::AuthApi;
use crate::store::Family;

pub(super) async fn run(
    api: &AuthApi,
    family: Family,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let common = Common::read(&fields, &api.settings, family)?;
    let session_id = fields.session_id()?;
    let password = given_password(&fields, "password")?;
    let policy = common.brand.policy;
    if !policy.password_enabled {
        return Err(AuthError::PasswordNotEnabled);
    }
    let session = bound_session(api.store.as_ref(), session_id, family, &common).await?;
    let user = api
        .store
        .find_user(common.brand.name, &common.identifier)
        .await?;
    let user = password_check::check(api, common.brand, user, password).await?;
    if !api.store.delete_session(&session.id).await? {
        // Used up by a parallel try that won.
        return Err(AuthError::InvalidSession);
    }

    let key_ttl = match family {
        Family::Web => None,
        Family::Mobile => Some(api.settings.key_ttl(policy)),
    };
    let grant = grant::issue(
        api,
        &user,
        common.brand.name,
        session.device_id,
        api.settings.access_ttl(policy),
        key_ttl,
    )?;
    Ok(Reply::Login(LoginView {
        token: Some(grant.token),
        key: grant.key,
        session_id: None,
        role: Role::User,
        registered_for_password: true,
    }))
}
