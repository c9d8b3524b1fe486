//! The narrow view of the tokens module that the login flows need: sign a
//! token with the claims of API.md section 4, start a family, and verify a
//! key or a (possibly expired) token. The proxy implements it for the real
//! token service; the flows know nothing else about JWTs.

use async_trait::async_trait;
use std::time::Duration;

/// `rol` of a token this gateway issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Web session token from token/generate: names a session, not an account.
    View,
    /// Access token after a finished login.
    User,
    /// Long-lived key (mobile) that can regenerate USER tokens.
    Auth,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::View => "VIEW",
            Role::User => "USER",
            Role::Auth => "AUTH",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "VIEW" => Some(Role::View),
            "USER" => Some(Role::User),
            "AUTH" => Some(Role::Auth),
            _ => None,
        }
    }
}

/// What to put in a new token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mint {
    /// `uid` (and `sub`), never empty. VIEW tokens name no account (so that
    /// token/generate reveals nothing about whether one exists): their uid
    /// is an anonymous `anonymous:<family>`.
    pub uid: String,
    /// `org`: the brand, upper case.
    pub brand: String,
    pub role: Role,
    /// `dev`: the device id on mobile, `None` on web.
    pub device: Option<String>,
    /// `idv`: `"TYPE|value"` for each identifier of the subject.
    pub identifiers: Vec<String>,
    /// Family id shared by a token and the key issued with it.
    pub family: String,
    /// Lifetime; `None` means no `exp` (keys without `key_ttl`).
    pub ttl: Option<Duration>,
}

/// What a verified key or token says about its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    pub uid: String,
    /// `org`, upper case.
    pub brand: String,
    pub role: Role,
    /// `dev`; `None` when absent or null.
    pub device: Option<String>,
    /// `idv` entries (`"TYPE|value"`).
    pub identifiers: Vec<String>,
    /// `fam`; `None` when the token has none (then it cannot be regenerated).
    pub family: Option<String>,
    /// `jti`, for revoking this one token.
    pub jti: Option<String>,
    /// `exp` in seconds since the epoch; `None` for a key without one.
    pub expires_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, unknown key id, wrong issuer/audience, malformed.
    #[error("token is not valid")]
    Invalid,
    /// Past `exp` (or past the allowed window for expired tokens).
    #[error("token has expired")]
    Expired,
    #[error("token has been revoked")]
    Revoked,
    /// Signing failed or the revocation list could not be read.
    #[error("token service unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait TokenIssuer: Send + Sync {
    /// Signs a token with the claims of API.md section 4.
    fn mint(&self, mint: &Mint) -> Result<String, TokenError>;

    /// A fresh, unguessable family id.
    fn new_family(&self) -> String;

    /// Full verification: signature, issuer, audience, `exp` when present,
    /// revocation. Any role is returned; the caller checks it.
    async fn verify_key(&self, key: &str) -> Result<TokenIdentity, TokenError>;

    /// Full verification of a token presented now (password/change):
    /// signature, issuer, audience, `exp` required and not past, revocation
    /// looked up afresh (no cache). Any role is returned; the caller checks it.
    async fn verify_token(&self, token: &str) -> Result<TokenIdentity, TokenError>;

    /// Verification apart from `exp`: accepted when not expired or expired
    /// no longer than `window` ago; signature, issuer, audience and
    /// revocation are checked as usual.
    async fn verify_expired_within(
        &self,
        token: &str,
        window: Duration,
    ) -> Result<TokenIdentity, TokenError>;
}
