//! The revocation look-up the token service consults: a trait the store
//! implements (logout revokes a `jti` and its `family`; a password change
//! revokes everything a `uid` was issued before a time), and the do-nothing
//! default used until a store is wired in.

use async_trait::async_trait;

/// What a revocation look-up is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    pub jti: Option<&'a str>,
    pub family: Option<&'a str>,
    pub uid: &'a str,
    /// Issued-at, seconds since the epoch.
    pub iat: Option<u64>,
    pub issuer: &'a str,
}

/// Answers whether a token has been revoked. An `Err` means the answer is
/// unknown (store down); the token service then fails open or closed as configured.
#[async_trait]
pub trait Revocations: Send + Sync {
    async fn is_revoked(&self, query: &RevocationQuery<'_>) -> Result<bool, String>;
}

/// Nothing is ever revoked.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRevocations;

#[async_trait]
impl Revocations for NoRevocations {
    async fn is_revoked(&self, _query: &RevocationQuery<'_>) -> Result<bool, String> {
        Ok(false)
    }
}
