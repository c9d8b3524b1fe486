//! What a finished login hands out: a USER token and, where asked, an AUTH
//! key, sharing one new family so that logout and password change can
//! revoke both. Used by otp/validate, password/validate and /user/login.

use super::error::AuthError;
use super::issuer::{Mint, Role};
use super::validation::claim;
use super::AuthApi;
use crate::store::User;
use std::time::Duration;

/// A token and maybe a key of one family.
pub struct Grant {
    pub token: String,
    pub key: Option<String>,
}

/// Signs a USER token valid `token_ttl` for `user` of `brand` and, when
/// `key_ttl` is `Some`, an AUTH key with that lifetime (`Some(None)`: a key
/// without `exp`).
pub fn issue(
    api: &AuthApi,
    user: &User,
    brand: &str,
    device: Option<String>,
    token_ttl: Duration,
    key_ttl: Option<Option<Duration>>,
) -> Result<Grant, AuthError> {
    let identifiers: Vec<String> = user.identifiers.iter().map(claim).collect();
    let family = api.tokens.new_family();
    let mint = |role: Role, ttl| Mint {
        uid: user.uid.clone(),
        brand: brand.to_owned(),
        role,
        device: device.clone(),
        identifiers: identifiers.clone(),
        family: family.clone(),
        ttl,
    };
    let token = api
        .tokens
        .mint(&mint(Role::User, Some(token_ttl)))
        .map_err(AuthError::TokenService)?;
    let key = key_ttl
        .map(|ttl| api.tokens.mint(&mint(Role::Auth, ttl)))
        .transpose()
        .map_err(AuthError::TokenService)?;
    Ok(Grant { token, key })
}
