//! otp/validate: one atomic try of the code of a bound session. Wrong codes
//! are counted (1506) and the `otp.max_attempts`-th kills the session (1518);
//! no pending code is 1537. A right code consumes code and session, creates
//! the user on first login (committing a password staged on the session),
//! and issues a USER token, plus an AUTH key on mobile, sharing one family.
//! A password staged by password/forget replaces the old one and lifts a
//! lockout (not an operator's lock without end).

use super::error::AuthError;
use super::grant;
use super::issuer::Role;
use super::session::bound_session;
use super::validation::{Common, Fields};
use super::wire::{LoginView, Reply};
use super::AuthApi;
use crate::store::{CodeCheck, Family, NewUser, Session, User, NEVER};

pub(super) async fn run(
    api: &AuthApi,
    family: Family,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let common = Common::read(&fields, &api.settings, family)?;
    let session_id = fields.session_id()?;
    let policy = &common.brand.policy.otp;
    let otp = fields.otp(usize::from(policy.length))?;
    let session = bound_session(api.store.as_ref(), session_id, family, &common).await?;

    let hash = api.hasher.hash(&session.id, &otp);
    match api
        .store
        .check_code(&session.id, &hash, policy.max_attempts)
        .await?
    {
        CodeCheck::Accepted(session) => finish_login(api, &common, session).await,
        CodeCheck::Wrong { .. } => Err(AuthError::InvalidOtp),
        CodeCheck::Exhausted => Err(AuthError::OtpAttemptsExhausted),
        CodeCheck::NoCode | CodeCheck::Expired => Err(AuthError::OtpNotGenerated),
        CodeCheck::NoSession => Err(AuthError::InvalidSession),
    }
}

async fn finish_login(
    api: &AuthApi,
    common: &Common<'_>,
    session: Session,
) -> Result<Reply, AuthError> {
    let staged = session.staged_password_hash.clone();
    let (mut user, created) = api
        .store
        .find_or_create_user(NewUser {
            brand: common.brand.name.to_owned(),
            identifiers: vec![session.identifier.clone()],
            contact: session.contact.clone(),
            password_hash: staged.clone(),
        })
        .await?;
    if let (false, Some(hash)) = (created, staged) {
        api.store.set_password(&user.uid, &hash).await?;
        user.password_hash = Some(hash);
        lift_lockout(api, &mut user).await?;
    }

    let policy = common.brand.policy;
    let key_ttl = match session.family {
        Family::Web => None,
        Family::Mobile => Some(api.settings.key_ttl(policy)),
    };
    let grant = grant::issue(
        api,
        &user,
        common.brand.name,
        session.device_id.clone(),
        api.settings.access_ttl(policy),
        key_ttl,
    )?;

    Ok(Reply::Login(LoginView {
        token: Some(grant.token),
        key: grant.key,
        session_id: None,
        role: Role::User,
        registered_for_password: user.password_hash.is_some(),
    }))
}

/// A password reset (password/forget, validated by the code) is what the
/// lockout message asks for, so it lifts a lockout and its counted failures.
/// An operator's lock without end stays.
async fn lift_lockout(api: &AuthApi, user: &mut User) -> Result<(), AuthError> {
    match user.locked_until {
        Some(NEVER) => Ok(()),
        Some(_) => {
            api.store.unlock_user(&user.uid).await?;
            user.locked_until = None;
            tracing::info!(uid = %user.uid, brand = %user.brand, "account unlocked by a password reset");
            Ok(())
        }
        None => Ok(api.store.clear_password_failures(&user.uid).await?),
    }
}
