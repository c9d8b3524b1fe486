//! The auth API on the wire: the parsed request the proxy hands over, the
//! response value it writes back, the bodies of API.md section 1, and the
//! checks made before any flow runs (content type, UTF-8, JSON).

use super::codes::Code;
use super::error::AuthError;
use super::issuer::Role;
use bytes::Bytes;
use serde_json::{json, Value};
use std::net::IpAddr;

/// A request to the auth API, as read by the proxy.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: http::Method,
    /// The request path; a query string, if left on, is ignored.
    pub path: String,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub client_ip: Option<IpAddr>,
    /// The whole body (the proxy bounds it by `limits.body_max`).
    pub body: Bytes,
}

/// The answer to write: status, JSON body and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl ApiResponse {
    /// A JSON answer. Tokens may be in it, so no cache may keep it.
    pub fn json(status: u16, body: &Value) -> ApiResponse {
        let body = serde_json::to_vec(body)
            .unwrap_or_else(|_| crate::envelope::error_json(500, Code::Internal.message()));
        ApiResponse {
            status,
            body,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("cache-control".into(), "no-store".into()),
            ],
        }
    }

    /// An error envelope with the code's own HTTP status.
    pub fn error(code: Code) -> ApiResponse {
        let mut response = ApiResponse::json(code.http_status(), &error_value(code));
        if code == Code::MethodNotAllowed {
            response.headers.push(("allow".into(), "POST".into()));
        }
        response
    }
}

/// What a successful step answers besides the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The envelope alone (otp/generate).
    Done,
    /// The `auth` + `user` body of the login steps.
    Login(LoginView),
}

/// The `auth` and `user` objects of token/generate, otp/validate and
/// token/regenerate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginView {
    pub token: Option<String>,
    pub key: Option<String>,
    pub session_id: Option<String>,
    pub role: Role,
    pub registered_for_password: bool,
}

fn status_value(code: Code) -> Value {
    json!({"success": code.is_success(), "code": code.number(), "message": code.message()})
}

/// `{"status":{"success":false,...}}`.
pub fn error_value(code: Code) -> Value {
    json!({ "status": status_value(code) })
}

/// The success body of a reply.
pub fn reply_value(reply: &Reply) -> Value {
    match reply {
        Reply::Done => json!({ "status": status_value(Code::Success) }),
        Reply::Login(view) => json!({
            "status": status_value(Code::Success),
            "auth": {"token": view.token, "key": view.key},
            "user": {
                "appRegistered": false,
                "sessionId": view.session_id,
                "role": view.role.as_str(),
                "userRegisteredForPassword": view.registered_for_password,
            },
        }),
    }
}

/// The body of one item's outcome, and its code.
pub fn outcome_value(outcome: &Result<Reply, AuthError>) -> (Code, Value) {
    match outcome {
        Ok(reply) => (Code::Success, reply_value(reply)),
        Err(e) => (e.code(), error_value(e.code())),
    }
}

/// `application/json`, parameters such as `charset` allowed, any case.
pub fn is_json_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The body as JSON: not UTF-8, not JSON, or nested past serde_json's
/// recursion limit is 1519.
pub fn parse_body(body: &[u8]) -> Result<Value, AuthError> {
    let text =
        std::str::from_utf8(body).map_err(|_| AuthError::InvalidDetails("body is not UTF-8"))?;
    serde_json::from_str(text).map_err(|_| AuthError::InvalidDetails("body is not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_may_carry_parameters() {
        assert!(is_json_content_type(Some("application/json")));
        assert!(is_json_content_type(Some(
            "Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some("text/plain")));
        assert!(!is_json_content_type(Some("application/jsonx")));
        assert!(!is_json_content_type(Some(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn bodies_that_are_not_utf8_or_json_or_too_deep_are_invalid_details() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        for body in [
            &b"\xff\xfe{}"[..],
            b"",
            b"{",
            b"nul",
            b"{\"a\":\"\xc3\x28\"}",
            deep.as_bytes(),
        ] {
            let e = parse_body(body).err().map(|e| e.code().number());
            assert_eq!(e, Some(1519));
        }
        assert!(parse_body(br#"{"a":[1,2]}"#).is_ok());
    }

    #[test]
    fn a_login_reply_has_the_documented_shape() {
        let v = reply_value(&Reply::Login(LoginView {
            token: None,
            key: None,
            session_id: Some("s1".into()),
            role: Role::View,
            registered_for_password: false,
        }));
        assert_eq!(
            v,
            json!({"status":{"success":true,"code":200,"message":"SUCCESS"},
                   "auth":{"token":null,"key":null},
                   "user":{"sessionId":"s1","role":"VIEW","userRegisteredForPassword":false,"appRegistered":false}})
        );
    }

    #[test]
    fn errors_carry_their_status_and_405_says_what_is_allowed() {
        let r = ApiResponse::error(Code::OtpNotSent);
        assert_eq!(r.status, 502);
        let v: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(
            v,
            json!({"status":{"success":false,"code":1503,"message":"Unable to generate OTP"}})
        );
        let r = ApiResponse::error(Code::MethodNotAllowed);
        assert!(r.headers.contains(&("allow".into(), "POST".into())));
    }
}
