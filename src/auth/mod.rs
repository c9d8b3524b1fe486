//! The auth API the gateway answers itself (API.md sections 1–4): plain async
//! Rust that takes a parsed request and returns a response value. The proxy
//! reads the body, calls `AuthApi::handle`, and writes the answer.
//!
//! `handle` reads top to bottom: route, method, content type, size, JSON,
//! batch split, then one flow per item. Each flow lives in its own file.
//!
//! Where API.md is silent, this module decides:
//! - Identifiers are compared in canonical form: a mobile number without its
//!   leading `+`, an email address in lower case, a username as given.
//!   `identifierType` is exact (`mobile` is 1546).
//! - A missing or mistyped `sessionId`, `otp`, `key` or `expiredToken` is
//!   1519; a `key`/`expiredToken` that is present but refused is 1597/1525.
//! - The `otp.max_attempts`-th wrong code already answers 1518 (the session
//!   is gone; a later try gets 1505). An expired code is 1537, like none.
//! - A send refused for delivery failure still counts toward `otp.max_sends`.
//! - A mobile session is 1505 on the web endpoints and the other way round.
//! - A USERNAME account's codes go to its contact on file; the `mobile` /
//!   `email` of token/generate is used only while no account exists.
//! - Web VIEW tokens carry an anonymous uid (`anonymous:<family>`), never the
//!   account's, so token/generate reveals no more than
//!   `userRegisteredForPassword`.
//! - A regenerated token keeps the family of the key or token presented.
//! - Batch items run in order, one after the other; a batch-level refusal
//!   (empty, too long, array to a non-batch endpoint) is one 400 envelope.
//! - Passwords are compared after NFKC; a password field longer than 1 KiB
//!   is 1519, a password over 128 bytes (normalised) is 1542.
//! - The wrong password that reaches `password.max_attempts` already
//!   answers 1530 (as the last wrong code answers 1518). Locks by an
//!   operator (`portcullis user lock`) answer 1530 too.
//! - On a password brand, token/generate for an existing account needs no
//!   password; one given is staged and committed by the OTP like a reset. A
//!   reset committed by the OTP lifts a lockout (not an operator's lock).
//! - password/change and token/expire take the token from
//!   `Authorization: Bearer` or the body's `token` (neither: 1519). A
//!   password/change token that is expired, revoked, invalid or not USER
//!   is 1529; a missing `newPassword` is 1519. token/expire accepts a token
//!   expired within `regenerate_window` (so it can no longer be
//!   regenerated); one that does not verify is 1531.
//! - /user/login: an `emailId` that is not an e-mail address is 404, an
//!   account without password 405; a wrong method is 405 and a wrong
//!   content type 415 in the login's own body shape.

pub mod batch;
pub mod codes;
pub mod error;
mod grant;
pub mod issuer;
mod otp_generate;
mod otp_validate;
mod password_change;
mod password_check;
mod password_fields;
mod password_forget;
mod password_validate;
pub mod passwords;
mod presented_token;
pub mod routing;
mod session;
pub mod settings;
mod staged_password;
mod token_expire;
mod token_generate;
mod token_regenerate;
mod user_login;
pub mod validation;
pub mod wire;

#[cfg(test)]
mod tests;

pub use codes::Code;
pub use error::AuthError;
pub use issuer::{Mint, Role, TokenError, TokenIdentity, TokenIssuer};
pub use routing::is_auth_api_path;
pub use settings::Settings;
pub use wire::{ApiRequest, ApiResponse};

use crate::metrics::METRICS;
use crate::otp::{CodeHasher, CodeSender};
use crate::store::{Clock, Store};
use batch::Items;
use routing::{Endpoint, Family, Route};
use serde_json::Value;
use std::sync::Arc;
use validation::Fields;
use wire::Reply;

/// What the flows reach outside themselves.
#[derive(Clone)]
pub struct AuthDeps {
    pub store: Arc<dyn Store>,
    pub tokens: Arc<dyn TokenIssuer>,
    pub sender: Arc<dyn CodeSender>,
    /// Keyed hash of codes (holds the pepper).
    pub hasher: CodeHasher,
    /// The store's clock, for the remaining life of codes.
    pub clock: Arc<dyn Clock>,
}

/// The auth API for one config snapshot.
pub struct AuthApi {
    settings: Settings,
    store: Arc<dyn Store>,
    tokens: Arc<dyn TokenIssuer>,
    sender: Arc<dyn CodeSender>,
    hasher: CodeHasher,
    clock: Arc<dyn Clock>,
}

/// Metric label of paths that name no endpoint.
const UNKNOWN_ENDPOINT: &str = "unknown";

impl AuthApi {
    pub fn new(settings: Settings, deps: AuthDeps) -> AuthApi {
        AuthApi {
            settings,
            store: deps.store,
            tokens: deps.tokens,
            sender: deps.sender,
            hasher: deps.hasher,
            clock: deps.clock,
        }
    }

    /// Answers one request. Never panics on input; every answer is a JSON
    /// envelope and is counted in `auth_api_requests_total`.
    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let (family, endpoint) = match routing::resolve(&req.path) {
            Route::Found(family, endpoint) => (family, endpoint),
            Route::Unknown(family) => {
                return refuse(UNKNOWN_ENDPOINT, family, &AuthError::NotFound)
            }
        };
        let label = endpoint.label();
        if endpoint == Endpoint::UserLogin {
            let (code, response) = user_login::handle(self, &req).await;
            count(label, family, code);
            return response;
        }
        if req.method != http::Method::POST {
            return refuse(label, family, &AuthError::MethodNotAllowed);
        }
        if !wire::is_json_content_type(req.content_type.as_deref()) {
            return refuse(label, family, &AuthError::UnsupportedMediaType);
        }
        if u64::try_from(req.body.len()).map_or(true, |n| n > self.settings.body_max) {
            return refuse(label, family, &AuthError::BodyTooLarge);
        }
        let body = match wire::parse_body(&req.body) {
            Ok(body) => body,
            Err(e) => return refuse(label, family, &e),
        };
        match batch::items(endpoint, &body, self.settings.batch_max) {
            Err(e) => refuse(label, family, &e),
            Ok(Items::One(item)) => {
                let authorization = req.authorization.as_deref();
                let (code, value) = self.answer(family, endpoint, authorization, item).await;
                ApiResponse::json(code.http_status(), &value)
            }
            Ok(Items::Many(list)) => {
                let mut answers = Vec::with_capacity(list.len());
                for item in list {
                    answers.push(self.answer(family, endpoint, None, item).await.1);
                }
                ApiResponse::json(200, &Value::Array(answers))
            }
        }
    }

    /// Runs one item and counts its answer.
    async fn answer(
        &self,
        family: Family,
        endpoint: Endpoint,
        authorization: Option<&str>,
        item: &Value,
    ) -> (Code, Value) {
        let outcome = self.run(family, endpoint, authorization, item).await;
        if let Err(e) = &outcome {
            log_refusal(endpoint.label(), family, e);
        }
        let (code, value) = wire::outcome_value(&outcome);
        count(endpoint.label(), family, code);
        (code, value)
    }

    async fn run(
        &self,
        family: Family,
        endpoint: Endpoint,
        authorization: Option<&str>,
        item: &Value,
    ) -> Result<Reply, AuthError> {
        let client = family.client().ok_or(AuthError::NotAvailable)?;
        let fields = Fields::of(item)?;
        match endpoint {
            Endpoint::TokenGenerate => token_generate::run(self, client, fields).await,
            Endpoint::OtpGenerate => otp_generate::run(self, client, fields).await,
            Endpoint::OtpValidate => otp_validate::run(self, client, fields).await,
            Endpoint::TokenRegenerate => token_regenerate::run(self, client, fields).await,
            Endpoint::PasswordValidate => password_validate::run(self, client, fields).await,
            Endpoint::PasswordForget => password_forget::run(self, client, fields).await,
            Endpoint::PasswordChange => password_change::run(self, authorization, fields).await,
            Endpoint::TokenExpire => token_expire::run(self, authorization, fields).await,
            Endpoint::UserLogin => Err(AuthError::NotAvailable),
        }
    }
}

/// A whole-request refusal, counted.
fn refuse(endpoint: &'static str, family: Family, error: &AuthError) -> ApiResponse {
    log_refusal(endpoint, family, error);
    let code = error.code();
    count(endpoint, family, code);
    ApiResponse::error(code)
}

fn count(endpoint: &'static str, family: Family, code: Code) {
    METRICS
        .auth_api_requests_total
        .with_label_values(&[endpoint, family.label(), &code.number().to_string()])
        .inc();
}

/// Our own failures are warnings; the client's are debug. Error texts name
/// fields and reasons, never codes, passwords or tokens.
fn log_refusal(endpoint: &'static str, family: Family, error: &AuthError) {
    let family = family.label();
    match error.code() {
        Code::Unavailable | Code::Internal | Code::OtpNotSent => {
            tracing::warn!(endpoint, family, error = %error, "auth API request failed")
        }
        _ => tracing::debug!(endpoint, family, error = %error, "auth API request refused"),
    }
}
