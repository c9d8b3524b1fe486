//! token/expire (logout): revokes the presented token (Authorization header
//! or the body's `token`) and its family, i.e. the key issued with it. A
//! token that expired but could still be regenerated (within
//! `regenerate_window`) can be logged out too; anything else that does not
//! verify is 1531.
//!
//! Revocations are kept as long as what they cover can be presented: the
//! token until its `exp` plus the regenerate window; the family also as
//! long as its key lives (without end for keys without `exp`).

use super::error::AuthError;
use super::issuer::TokenError;
use super::presented_token::presented;
use super::validation::Fields;
use super::wire::Reply;
use super::AuthApi;
use crate::store::{UnixMs, NEVER};
use std::time::Duration;

pub(super) async fn run(
    api: &AuthApi,
    authorization: Option<&str>,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let token = presented(authorization, &fields)?;
    let window = api.settings.regenerate_window;
    let identity = match api.tokens.verify_expired_within(token, window).await {
        Ok(identity) => identity,
        Err(e @ TokenError::Unavailable(_)) => return Err(AuthError::TokenService(e)),
        Err(_) => return Err(AuthError::CannotExpireToken("token does not verify")),
    };
    let jti = identity
        .jti
        .as_deref()
        .ok_or(AuthError::CannotExpireToken("token has no jti"))?;

    let token_until = identity
        .expires_at
        .and_then(|exp| i64::try_from(exp).ok())
        .map_or(NEVER, |exp| after(exp.saturating_mul(1000), window));
    api.store.revoke_token(jti, token_until).await?;
    if let Some(family) = identity.family.as_deref() {
        let key_ttl = api
            .settings
            .brand(&identity.brand)
            .and_then(|b| api.settings.key_ttl(b.policy));
        let key_until = key_ttl.map_or(NEVER, |ttl| after(api.clock.now_ms(), ttl));
        api.store
            .revoke_family(family, token_until.max(key_until))
            .await?;
    }
    tracing::info!(uid = %identity.uid, brand = %identity.brand, "logged out");
    Ok(Reply::Done)
}

fn after(at: UnixMs, d: Duration) -> UnixMs {
    at.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
