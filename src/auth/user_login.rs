//! `POST /user/login` (API.md section 5): e-mail and password against the
//! brand named by `login.brand`, with its own body shapes. Success is a
//! USER token valid `login.token_ttl` (`expiry` is its remaining life in
//! seconds) and an AUTH key of the same family; an unknown e-mail is 404,
//! a wrong password (or an account without one) 405, both after the same
//! password work; lockout as for password/validate (429); a malformed
//! request 400. Every answer is `{"responseCode", "responseMessage", ...}`.

use super::codes::Code;
use super::error::AuthError;
use super::grant;
use super::password_check;
use super::passwords::{self, MAX_PASSWORD_FIELD_BYTES};
use super::validation::{parse_identifier, Fields, MAX_FIELD_BYTES};
use super::wire::{self, ApiRequest, ApiResponse};
use super::AuthApi;
use crate::store::IdentifierType;
use serde_json::{json, Value};

const UNKNOWN_USER: &str = "Please provide valid user details";
const WRONG_PASSWORD: &str = "Please provide valid password";
const MALFORMED: &str = "Please provide emailId and password";

/// The login's answer and the code it is counted under.
pub(super) async fn handle(api: &AuthApi, req: &ApiRequest) -> (Code, ApiResponse) {
    if req.method != http::Method::POST {
        let mut response = answer(405, Code::MethodNotAllowed.message());
        response.headers.push(("allow".into(), "POST".into()));
        return (Code::MethodNotAllowed, response);
    }
    if !wire::is_json_content_type(req.content_type.as_deref()) {
        return refused(Code::UnsupportedMediaType);
    }
    if u64::try_from(req.body.len()).map_or(true, |n| n > api.settings.body_max) {
        return refused(Code::BodyTooLarge);
    }
    match login(api, &req.body).await {
        Ok(value) => (Code::Success, ApiResponse::json(200, &value)),
        Err(Refusal::Malformed) => (Code::InvalidDetails, answer(400, MALFORMED)),
        Err(Refusal::UnknownUser) => (Code::InvalidPassword, answer(404, UNKNOWN_USER)),
        Err(Refusal::Auth(AuthError::InvalidPassword)) => {
            (Code::InvalidPassword, answer(405, WRONG_PASSWORD))
        }
        Err(Refusal::Auth(e)) => {
            tracing::debug!(endpoint = "user/login", error = %e, "login refused");
            refused(e.code())
        }
    }
}

enum Refusal {
    Malformed,
    UnknownUser,
    Auth(AuthError),
}

impl From<AuthError> for Refusal {
    fn from(e: AuthError) -> Self {
        Refusal::Auth(e)
    }
}

async fn login(api: &AuthApi, body: &[u8]) -> Result<Value, Refusal> {
    let login = api.settings.login.as_ref().ok_or(AuthError::NotFound)?;
    let brand = api
        .settings
        .brand(&login.brand)
        .ok_or(AuthError::NotFound)?;
    let body = wire::parse_body(body).map_err(|_| Refusal::Malformed)?;
    let fields = Fields::of(&body).map_err(|_| Refusal::Malformed)?;
    let email = fields
        .required("emailId", MAX_FIELD_BYTES)
        .map_err(|_| Refusal::Malformed)?;
    let password = fields
        .required("password", MAX_PASSWORD_FIELD_BYTES)
        .map(passwords::normalise)
        .map_err(|_| Refusal::Malformed)?;

    let user = match parse_identifier(IdentifierType::Email, email) {
        Ok(identifier) => api
            .store
            .find_user(brand.name, &identifier)
            .await
            .map_err(AuthError::from)?,
        Err(_) => None,
    };
    let known = user.is_some();
    let user = match password_check::check(api, brand, user, password).await {
        Ok(user) => user,
        Err(AuthError::InvalidPassword) if !known => return Err(Refusal::UnknownUser),
        Err(e) => return Err(e.into()),
    };
    let grant = grant::issue(
        api,
        &user,
        brand.name,
        None,
        login.token_ttl,
        Some(api.settings.key_ttl(brand.policy)),
    )?;
    let email_id = user
        .identifiers
        .iter()
        .find(|i| i.kind == IdentifierType::Email)
        .map_or(email, |i| i.value.as_str());
    Ok(json!({
        "responseCode": 200,
        "responseMessage": "Success",
        "responseData": {
            "token": grant.token,
            "apiKey": grant.key,
            "expiry": login.token_ttl.as_secs(),
            "emailId": email_id,
        },
    }))
}

fn answer(status: u16, message: &str) -> ApiResponse {
    ApiResponse::json(
        status,
        &json!({"responseCode": status, "responseMessage": message}),
    )
}

fn refused(code: Code) -> (Code, ApiResponse) {
    (code, answer(code.http_status(), code.message()))
}
