//! Which endpoint a path names: the mobile family under `/auth/v1/`, the web
//! family under `/auth/v1/web/`, and the simple login at `/user/login`.
//! Labels returned here are fixed strings, so they are safe as metric labels.

/// The two client families of API.md section 1, plus the simple login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Mobile,
    Web,
    Login,
}

impl Family {
    /// The client family of a session, for the mobile and web endpoints.
    pub fn client(self) -> Option<crate::store::Family> {
        match self {
            Family::Mobile => Some(crate::store::Family::Mobile),
            Family::Web => Some(crate::store::Family::Web),
            Family::Login => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Family::Mobile => "mobile",
            Family::Web => "web",
            Family::Login => "login",
        }
    }
}

/// Every endpoint of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    TokenGenerate,
    OtpGenerate,
    OtpValidate,
    TokenRegenerate,
    PasswordValidate,
    PasswordChange,
    PasswordForget,
    TokenExpire,
    UserLogin,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::TokenGenerate => "token/generate",
            Endpoint::OtpGenerate => "otp/generate",
            Endpoint::OtpValidate => "otp/validate",
            Endpoint::TokenRegenerate => "token/regenerate",
            Endpoint::PasswordValidate => "password/validate",
            Endpoint::PasswordChange => "password/change",
            Endpoint::PasswordForget => "password/forget",
            Endpoint::TokenExpire => "token/expire",
            Endpoint::UserLogin => "user/login",
        }
    }

    /// Whether the body may be a JSON array of requests (API.md section 1).
    pub fn accepts_batch(self) -> bool {
        matches!(
            self,
            Endpoint::TokenGenerate | Endpoint::OtpGenerate | Endpoint::OtpValidate
        )
    }

    fn from_tail(tail: &str) -> Option<Endpoint> {
        Some(match tail {
            "token/generate" => Endpoint::TokenGenerate,
            "otp/generate" => Endpoint::OtpGenerate,
            "otp/validate" => Endpoint::OtpValidate,
            "token/regenerate" => Endpoint::TokenRegenerate,
            "password/validate" => Endpoint::PasswordValidate,
            "password/change" => Endpoint::PasswordChange,
            "password/forget" => Endpoint::PasswordForget,
            "token/expire" => Endpoint::TokenExpire,
            _ => return None,
        })
    }
}

/// Where a path led: a known endpoint, or nothing under a family's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Found(Family, Endpoint),
    Unknown(Family),
}

const MOBILE_PREFIX: &str = "/auth/v1/";
const WEB_PREFIX: &str = "/auth/v1/web/";
const USER_LOGIN: &str = "/user/login";

/// Whether the auth API answers this path (everything under `/auth/v1`, and
/// `/user/login`), so the proxy knows what to hand to `AuthApi::handle`.
pub fn is_auth_api_path(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    path == USER_LOGIN || path == "/auth/v1" || path.starts_with(MOBILE_PREFIX)
}

/// Resolves a request path (a query string, if any, is ignored).
pub fn resolve(path: &str) -> Route {
    let path = path.split('?').next().unwrap_or_default();
    if path == USER_LOGIN {
        return Route::Found(Family::Login, Endpoint::UserLogin);
    }
    let (family, tail) = if let Some(tail) = path.strip_prefix(WEB_PREFIX) {
        (Family::Web, tail)
    } else if path == WEB_PREFIX.trim_end_matches('/') {
        return Route::Unknown(Family::Web);
    } else if let Some(tail) = path.strip_prefix(MOBILE_PREFIX) {
        (Family::Mobile, tail)
    } else {
        return Route::Unknown(Family::Mobile);
    };
    match Endpoint::from_tail(tail) {
        Some(endpoint) => Route::Found(family, endpoint),
        None => Route::Unknown(family),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_and_web_prefixes_lead_to_the_same_endpoints() {
        assert_eq!(
            resolve("/auth/v1/token/generate"),
            Route::Found(Family::Mobile, Endpoint::TokenGenerate)
        );
        assert_eq!(
            resolve("/auth/v1/web/token/generate"),
            Route::Found(Family::Web, Endpoint::TokenGenerate)
        );
        assert_eq!(
            resolve("/auth/v1/web/otp/validate?x=1"),
            Route::Found(Family::Web, Endpoint::OtpValidate)
        );
    }

    #[test]
    fn the_simple_login_is_its_own_family() {
        assert_eq!(
            resolve("/user/login"),
            Route::Found(Family::Login, Endpoint::UserLogin)
        );
    }

    #[test]
    fn unknown_tails_and_near_misses_are_unknown() {
        assert_eq!(
            resolve("/auth/v1/token/mint"),
            Route::Unknown(Family::Mobile)
        );
        assert_eq!(resolve("/auth/v1/web"), Route::Unknown(Family::Web));
        assert_eq!(
            resolve("/auth/v1/web/web/token/generate"),
            Route::Unknown(Family::Web)
        );
        assert_eq!(
            resolve("/auth/v1/token/generate/"),
            Route::Unknown(Family::Mobile)
        );
        assert_eq!(
            resolve("/auth/v2/token/generate"),
            Route::Unknown(Family::Mobile)
        );
    }

    #[test]
    fn the_api_owns_auth_v1_and_user_login_only() {
        assert!(is_auth_api_path("/auth/v1/token/generate"));
        assert!(is_auth_api_path("/auth/v1/web/anything"));
        assert!(is_auth_api_path("/auth/v1"));
        assert!(is_auth_api_path("/user/login?x=1"));
        assert!(!is_auth_api_path("/auth/v10/token/generate"));
        assert!(!is_auth_api_path("/authors"));
        assert!(!is_auth_api_path("/user/login/extra"));
        assert!(!is_auth_api_path("/api/v1"));
    }

    #[test]
    fn only_the_three_login_steps_take_batches() {
        assert!(Endpoint::TokenGenerate.accepts_batch());
        assert!(Endpoint::OtpGenerate.accepts_batch());
        assert!(Endpoint::OtpValidate.accepts_batch());
        assert!(!Endpoint::TokenRegenerate.accepts_batch());
        assert!(!Endpoint::PasswordValidate.accepts_batch());
    }
}
