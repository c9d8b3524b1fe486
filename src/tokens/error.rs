//! The two ways token work fails: issuing (`TokenError`, for the auth flows
//! and the CLI) and checking a presented token (`VerifyError`, whose `kind`
//! feeds the proxy's decision and its metrics). Messages name keys, issuers
//! and claims, never a token or a secret.

use std::borrow::Cow;

/// Minting a token or writing key files failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No configured key can sign (the first `tokens.signing` entry lacks a private key).
    #[error("no signing key is configured")]
    NoSigningKey,
    /// The request cannot become a token (empty uid, brand or family, zero ttl).
    #[error("cannot mint a token: {0}")]
    InvalidRequest(&'static str),
    /// The signature could not be computed.
    #[error("signing with key {kid:?} failed: {reason}")]
    Signing { kid: String, reason: String },
    /// The system clock reads before 1970.
    #[error("the system clock is before the Unix epoch")]
    Clock,
    /// Writing a key file failed (`keygen`, `create_if_missing`).
    #[error("{path}: {reason}")]
    KeyFile { path: String, reason: String },
}

/// A presented token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No token was presented (empty string).
    #[error("no token")]
    Missing,
    /// Not a compact JWS at all: too large, wrong segment count, bad base64 or JSON.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Well formed but not acceptable: signature, key, algorithm, issuer,
    /// audience, not-yet-valid, wrong role for the path used.
    #[error("invalid token: {0}")]
    Invalid(Cow<'static, str>),
    /// Past its `exp` (plus leeway, or plus the regenerate window).
    #[error("token has expired")]
    Expired,
    /// The revocation look-up says this token, its family or its user was revoked.
    #[error("token has been revoked")]
    Revoked,
    /// A check could not be made: the issuer's keys were never fetched, or the
    /// revocation look-up failed while failing closed.
    #[error("token cannot be checked now: {0}")]
    Unavailable(String),
}

impl VerifyError {
    /// A stable, low-cardinality name: `missing`, `malformed`, `invalid`,
    /// `expired`, `revoked` or `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::Missing => "missing",
            VerifyError::Malformed(_) => "malformed",
            VerifyError::Invalid(_) => "invalid",
            VerifyError::Expired => "expired",
            VerifyError::Revoked => "revoked",
            VerifyError::Unavailable(_) => "unavailable",
        }
    }

    pub(crate) fn invalid(reason: &'static str) -> Self {
        VerifyError::Invalid(Cow::Borrowed(reason))
    }
}
