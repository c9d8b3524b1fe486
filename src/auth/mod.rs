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

pub mod batch;
pub mod codes;
pub mod error;
pub mod issuer;
mod otp_generate;
mod otp_validate;
pub mod routing;
mod session;
pub mod settings;
mod staged_password;
mod token_generate;
mod token_regenerate;
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
        if !served(endpoint) {
            return refuse(label, family, &AuthError::NotAvailable);
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
                let (code, value) = self.answer(family, endpoint, item).await;
                ApiResponse::json(code.http_status(), &value)
            }
            Ok(Items::Many(list)) => {
                let mut answers = Vec::with_capacity(list.len());
                for item in list {
                    answers.push(self.answer(family, endpoint, item).await.1);
                }
                ApiResponse::json(200, &Value::Array(answers))
            }
        }
    }

    /// Runs one item and counts its answer.
    async fn answer(&self, family: Family, endpoint: Endpoint, item: &Value) -> (Code, Value) {
        let outcome = self.run(family, endpoint, item).await;
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
        item: &Value,
    ) -> Result<Reply, AuthError> {
        let client = family.client().ok_or(AuthError::NotAvailable)?;
        let fields = Fields::of(item)?;
        match endpoint {
            Endpoint::TokenGenerate => token_generate::run(self, client, fields).await,
            Endpoint::OtpGenerate => otp_generate::run(self, client, fields).await,
            Endpoint::OtpValidate => otp_validate::run(self, client, fields).await,
            Endpoint::TokenRegenerate => token_regenerate::run(self, client, fields).await,
            Endpoint::PasswordValidate
            | Endpoint::PasswordChange
            | Endpoint::PasswordForget
            | Endpoint::TokenExpire
            | Endpoint::UserLogin => Err(AuthError::NotAvailable),
        }
    }
}

/// Endpoints this version serves; the others answer 404 "not available".
fn served(endpoint: Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::TokenGenerate
            | Endpoint::OtpGenerate
            | Endpoint::OtpValidate
            | Endpoint::TokenRegenerate
    )
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
