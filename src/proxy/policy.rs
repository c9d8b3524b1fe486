//! Route policy: what a request must carry to pass a route. Until token
//! verification is wired in, a route with `auth: required` refuses every
//! request with 401 (it never lets one through unchecked); `optional` and
//! `none` routes pass.

use crate::config::{AuthMode, Route};
use pingora_proxy::Session;

/// Why a request was refused, ready for the wire and for metrics.
pub struct Denied {
    pub status: u16,
    pub message: &'static str,
    pub www_authenticate: Option<&'static str>,
    /// `auth_decisions_total` result label.
    pub result: &'static str,
}

pub fn admit(route: &Route, session: &Session) -> Result<(), Denied> {
    match route.auth {
        AuthMode::None | AuthMode::Optional => Ok(()),
        AuthMode::Required => {
            let presented = session
                .req_header()
                .headers
                .contains_key(http::header::AUTHORIZATION);
            Err(Denied {
                status: 401,
                message: if presented {
                    "Token cannot be verified by this gateway"
                } else {
                    "A bearer token is required"
                },
                www_authenticate: Some(if presented {
                    "Bearer error=\"invalid_token\""
                } else {
                    "Bearer"
                }),
                result: if presented { "invalid" } else { "missing" },
            })
        }
    }
}
