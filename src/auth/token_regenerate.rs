//! token/regenerate: a new USER token, `key: null`. Mobile presents its AUTH
//! `key` (valid, not revoked, not expired) for the same identifier, brand
//! and device, else 1597. Web presents `expiredToken`, a USER token that
//! verifies apart from `exp` and expired no longer than
//! `tokens.regenerate_window` ago, for the same identifier and brand, else
//! 1525. The new token stays in the family of what was presented, so that
//! logout and password changes reach it.

use super::error::AuthError;
use super::issuer::{Mint, Role, TokenError, TokenIdentity};
use super::validation::{claim, Common, Fields, MAX_TOKEN_BYTES};
use super::wire::{LoginView, Reply};
use super::AuthApi;
use crate::store::Family;

pub(super) async fn run(
    api: &AuthApi,
    family: Family,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let common = Common::read(&fields, &api.settings, family)?;
    let (presented, role, refuse): (_, _, fn(&'static str) -> AuthError) = match family {
        Family::Mobile => {
            let key = fields.required("key", MAX_TOKEN_BYTES)?;
            (
                api.tokens.verify_key(key).await,
                Role::Auth,
                AuthError::InvalidKey,
            )
        }
        Family::Web => {
            let token = fields.required("expiredToken", MAX_TOKEN_BYTES)?;
            let window = api.settings.regenerate_window;
            (
                api.tokens.verify_expired_within(token, window).await,
                Role::User,
                AuthError::CannotRegenerate,
            )
        }
    };
    let presented = match presented {
        Ok(identity) => identity,
        Err(TokenError::Unavailable(reason)) => {
            return Err(AuthError::TokenService(TokenError::Unavailable(reason)))
        }
        Err(_) => return Err(refuse("does not verify")),
    };
    let (uid, token_family) = same_subject(&presented, role, family, &common).map_err(refuse)?;

    let user = api
        .store
        .get_user(uid)
        .await?
        .filter(|u| u.brand.eq_ignore_ascii_case(common.brand.name))
        .ok_or(refuse("the account no longer exists"))?;

    let token = api
        .tokens
        .mint(&Mint {
            uid: user.uid.clone(),
            brand: common.brand.name.to_owned(),
            role: Role::User,
            device: common.device.clone(),
            identifiers: user.identifiers.iter().map(claim).collect(),
            family: token_family.to_owned(),
            ttl: Some(api.settings.access_ttl(common.brand.policy)),
        })
        .map_err(AuthError::TokenService)?;

    Ok(Reply::Login(LoginView {
        token: Some(token),
        key: None,
        session_id: None,
        role: Role::User,
        registered_for_password: user.password_hash.is_some(),
    }))
}

/// The uid and family of the presented token if it has the expected role
/// and names the request's identifier, brand and (mobile) device.
fn same_subject<'t>(
    presented: &'t TokenIdentity,
    role: Role,
    family: Family,
    common: &Common<'_>,
) -> Result<(&'t str, &'t str), &'static str> {
    if presented.role != role {
        return Err("wrong role");
    }
    if !presented.brand.eq_ignore_ascii_case(common.brand.name) {
        return Err("other brand");
    }
    if !presented.identifiers.contains(&claim(&common.identifier)) {
        return Err("other identifier");
    }
    if family == Family::Mobile && presented.device != common.device {
        return Err("other device");
    }
    let token_family = presented.family.as_deref().ok_or("has no family")?;
    Ok((presented.uid.as_str(), token_family))
}
