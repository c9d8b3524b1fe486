//! password/change: a logged-in user (valid USER token in the
//! Authorization header or the body's `token`; refused tokens are 1529)
//! proves the current `password` (1528, counted toward the lockout, 1530)
//! and sets `newPassword` confirmed by `confirmPassword` (1521, 1542; the
//! same as the current one is 1527). Then every token and key issued to
//! the user before the change is revoked.
//!
//! `iat` has whole seconds, so the cut-off is the next whole second and the
//! answer waits until the clock has passed it (at most a second): tokens
//! from before the answer are revoked, and a login after it is not.

use super::error::AuthError;
use super::issuer::{Role, TokenError};
use super::password_check;
use super::password_fields::{given_password, new_password};
use super::passwords;
use super::presented_token::presented;
use super::validation::Fields;
use super::wire::Reply;
use super::AuthApi;
use std::time::Duration;

pub(super) async fn run(
    api: &AuthApi,
    authorization: Option<&str>,
    fields: Fields<'_>,
) -> Result<Reply, AuthError> {
    let token = presented(authorization, &fields)?;
    let identity = api.tokens.verify_token(token).await.map_err(refused)?;
    if identity.role != Role::User {
        return Err(AuthError::TokenRefused("not a USER token"));
    }
    let brand = api
        .settings
        .brand(&identity.brand)
        .ok_or(AuthError::UnsupportedBrand)?;
    if !brand.policy.password_enabled {
        return Err(AuthError::PasswordNotEnabled);
    }
    let current = given_password(&fields, "password")?;
    if !fields.present("newPassword") {
        return Err(AuthError::InvalidDetails("newPassword"));
    }
    let new = new_password(&fields, "newPassword", brand.policy.password.min_length)?;
    let user = api
        .store
        .get_user(&identity.uid)
        .await?
        .ok_or(AuthError::TokenRefused("the account is gone"))?;
    let user = password_check::check(api, brand, Some(user), current.clone()).await?;
    if new == current {
        return Err(AuthError::PasswordReused);
    }
    let hash = passwords::hash(new).await?;
    api.store.set_password(&user.uid, &hash).await?;

    let now = api.clock.now_ms();
    let cutoff = (now / 1000 + 1) * 1000;
    api.store.revoke_user_before(&user.uid, cutoff).await?;
    tracing::info!(uid = %user.uid, brand = brand.name, "password changed; earlier tokens revoked");
    let wait = u64::try_from(cutoff - now).unwrap_or(0).min(1000);
    tokio::time::sleep(Duration::from_millis(wait)).await;
    Ok(Reply::Done)
}

fn refused(e: TokenError) -> AuthError {
    match e {
        TokenError::Unavailable(_) => AuthError::TokenService(e),
        TokenError::Expired => AuthError::TokenRefused("expired"),
        TokenError::Revoked => AuthError::TokenRefused("revoked"),
        TokenError::Invalid => AuthError::TokenRefused("not valid"),
    }
}
