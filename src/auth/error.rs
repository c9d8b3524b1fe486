//! The auth module's one error type. Every refusal a flow can make is a
//! variant here; `code()` maps it to the wire, once.

use super::codes::Code;
use super::issuer::TokenError;
use crate::otp::DeliveryError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A required field is missing, has the wrong type, or is out of shape.
    /// The field name is for logs; the client sees 1519 only.
    #[error("invalid details: {0}")]
    InvalidDetails(&'static str),
    #[error("identifierType is not MOBILE, EMAIL or USERNAME")]
    InvalidIdentifierType,
    #[error("brand is not configured")]
    UnsupportedBrand,
    #[error("USERNAME login without a mobile or email channel")]
    ChannelRequired,
    #[error("session unknown, expired or of the other family")]
    InvalidSession,
    #[error("identifier differs from the session's")]
    IdentifierMismatch,
    #[error("device differs from the session's")]
    DeviceMismatch,
    #[error("brand differs from the session's")]
    BrandMismatch,
    #[error("too many codes sent to this identifier")]
    OtpSendLimit,
    #[error("the code could not be made or delivered: {0}")]
    OtpNotSent(DeliveryError),
    #[error("no code is pending for the session")]
    OtpNotGenerated,
    #[error("wrong code")]
    InvalidOtp,
    #[error("too many wrong codes; the session is dead")]
    OtpAttemptsExhausted,
    #[error("password given for a brand without passwords")]
    PasswordNotEnabled,
    #[error("a new user on a password brand gave no password")]
    PasswordRequired,
    #[error("password and confirmPassword differ")]
    PasswordMismatch,
    #[error("password does not meet the policy")]
    PasswordPolicy,
    #[error("new password is the current one")]
    PasswordReused,
    #[error("wrong password, no password, or no such account")]
    InvalidPassword,
    #[error("account locked after too many wrong passwords")]
    AccountLocked,
    #[error("token refused: {0}")]
    TokenRefused(&'static str),
    #[error("token cannot be expired: {0}")]
    CannotExpireToken(&'static str),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("key refused: {0}")]
    InvalidKey(&'static str),
    #[error("token cannot be regenerated: {0}")]
    CannotRegenerate(&'static str),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The token service failed (signing, or reading revocations); not a
    /// verdict on the presented token.
    #[error("token service: {0}")]
    TokenService(TokenError),
    #[error("no such endpoint")]
    NotFound,
    #[error("endpoint not available in this version")]
    NotAvailable,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("content type is not application/json")]
    UnsupportedMediaType,
    #[error("body larger than the limit")]
    BodyTooLarge,
}

impl AuthError {
    /// The wire code of this refusal.
    pub fn code(&self) -> Code {
        match self {
            AuthError::InvalidDetails(_) => Code::InvalidDetails,
            AuthError::InvalidIdentifierType => Code::InvalidIdentifierType,
            AuthError::UnsupportedBrand => Code::UnsupportedBrand,
            AuthError::ChannelRequired => Code::ChannelRequired,
            AuthError::InvalidSession => Code::InvalidSession,
            AuthError::IdentifierMismatch => Code::IdentifierMismatch,
            AuthError::DeviceMismatch => Code::DeviceMismatch,
            AuthError::BrandMismatch => Code::BrandMismatch,
            AuthError::OtpSendLimit => Code::OtpSendLimit,
            AuthError::OtpNotSent(_) => Code::OtpNotSent,
            AuthError::OtpNotGenerated => Code::OtpNotGenerated,
            AuthError::InvalidOtp => Code::InvalidOtp,
            AuthError::OtpAttemptsExhausted => Code::OtpAttemptsExhausted,
            AuthError::PasswordNotEnabled => Code::PasswordNotEnabled,
            AuthError::PasswordRequired => Code::PasswordRequired,
            AuthError::PasswordMismatch => Code::PasswordMismatch,
            AuthError::PasswordPolicy => Code::PasswordPolicy,
            AuthError::PasswordReused => Code::PasswordReused,
            AuthError::InvalidPassword => Code::InvalidPassword,
            AuthError::AccountLocked => Code::PasswordAttemptsExhausted,
            AuthError::TokenRefused(_) => Code::TokenExpired,
            AuthError::CannotExpireToken(_) => Code::CannotExpireToken,
            AuthError::Hashing(_) => Code::Internal,
            AuthError::InvalidKey(_) => Code::InvalidKey,
            AuthError::CannotRegenerate(_) => Code::CannotRegenerate,
            AuthError::Store(StoreError::Unavailable(_)) => Code::Unavailable,
            AuthError::Store(_) => Code::Internal,
            AuthError::TokenService(_) => Code::Unavailable,
            AuthError::NotFound => Code::NotFound,
            AuthError::NotAvailable => Code::NotAvailable,
            AuthError::MethodNotAllowed => Code::MethodNotAllowed,
            AuthError::UnsupportedMediaType => Code::UnsupportedMediaType,
            AuthError::BodyTooLarge => Code::BodyTooLarge,
        }
    }
}
