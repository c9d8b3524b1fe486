//! Adapters between modules that must not know each other: the token
//! service seen as the auth flows' `TokenIssuer`, and the store seen as the
//! token service's revocation list.

use crate::auth::{self, Mint, TokenIdentity, TokenIssuer};
use crate::store::{self, Store};
use crate::tokens::{self, Identity, MintRequest, Revocations, TokenService, VerifyError};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The token service, as the login flows use it.
pub struct Issuer(pub Arc<TokenService>);

fn role_to_tokens(role: auth::Role) -> tokens::Role {
    match role {
        auth::Role::View => tokens::Role::View,
        auth::Role::User => tokens::Role::User,
        auth::Role::Auth => tokens::Role::Auth,
    }
}

fn role_to_auth(role: tokens::Role) -> auth::Role {
    match role {
        tokens::Role::View => auth::Role::View,
        tokens::Role::User => auth::Role::User,
        tokens::Role::Auth => auth::Role::Auth,
    }
}

fn error_to_auth(e: VerifyError) -> auth::TokenError {
    match e {
        VerifyError::Missing | VerifyError::Malformed(_) | VerifyError::Invalid(_) => {
            auth::TokenError::Invalid
        }
        VerifyError::Expired => auth::TokenError::Expired,
        VerifyError::Revoked => auth::TokenError::Revoked,
        VerifyError::Unavailable(why) => auth::TokenError::Unavailable(why),
    }
}

/// Only this gateway's own tokens count in the login flows.
fn identity_to_auth(identity: &Identity) -> Result<TokenIdentity, auth::TokenError> {
    let role = identity
        .own_role
        .filter(|_| identity.own)
        .ok_or(auth::TokenError::Invalid)?;
    Ok(TokenIdentity {
        uid: identity.uid().to_owned(),
        brand: identity.brand().to_owned(),
        role: role_to_auth(role),
        device: identity.device().map(str::to_owned),
        identifiers: identity.identifiers().map(str::to_owned).collect(),
        family: identity.family().map(str::to_owned),
        jti: identity.jti().map(str::to_owned),
        expires_at: identity.exp,
    })
}

#[async_trait]
impl TokenIssuer for Issuer {
    fn mint(&self, m: &Mint) -> Result<String, auth::TokenError> {
        let request = MintRequest {
            uid: m.uid.clone(),
            brand: m.brand.clone(),
            role: role_to_tokens(m.role),
            device: m.device.clone(),
            identifiers: m.identifiers.clone(),
            ttl: m.ttl,
            family: m.family.clone(),
        };
        self.0
            .mint(&request)
            .map(|minted| minted.token)
            .map_err(|e| auth::TokenError::Unavailable(e.to_string()))
    }

    fn new_family(&self) -> String {
        tokens::new_family_id()
    }

    async fn verify_key(&self, key: &str) -> Result<TokenIdentity, auth::TokenError> {
        let identity = self.0.verify_key(key).await.map_err(error_to_auth)?;
        identity_to_auth(&identity)
    }

    async fn verify_token(&self, token: &str) -> Result<TokenIdentity, auth::TokenError> {
        let identity = self.0.verify_fresh(token).await.map_err(error_to_auth)?;
        identity_to_auth(&identity)
    }

    async fn verify_expired_within(
        &self,
        token: &str,
        window: Duration,
    ) -> Result<TokenIdentity, auth::TokenError> {
        let identity = self
            .0
            .verify_expired_within(token, window)
            .await
            .map_err(error_to_auth)?;
        identity_to_auth(&identity)
    }
}

/// Revocations recorded in the store (logout, password change).
pub struct StoreRevocations(pub Arc<dyn Store>);

#[async_trait]
impl Revocations for StoreRevocations {
    async fn is_revoked(&self, t: &tokens::RevocationQuery<'_>) -> Result<bool, String> {
        let iat_ms = t
            .iat
            .and_then(|s| i64::try_from(s).ok())
            .map_or(0, |s| s.saturating_mul(1000));
        self.0
            .is_revoked(store::RevocationQuery {
                jti: t.jti.unwrap_or(""),
                family: t.family,
                uid: t.uid,
                issued_at: iat_ms,
            })
            .await
            .map_err(|e| e.to_string())
    }
}
