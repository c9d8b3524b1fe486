//! What the gateway puts in the tokens it issues (API.md section 4): the
//! roles, the request the auth flows make, and the claim set on the wire.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Duration;

/// The role a token of this gateway carries in `rol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// A token for a login session in progress (web token/generate).
    View,
    /// A logged-in user's access token.
    User,
    /// A long-lived key that regenerates USER tokens.
    Auth,
}

impl Role {
    /// The wire name: `VIEW`, `USER` or `AUTH`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::View => "VIEW",
            Role::User => "USER",
            Role::Auth => "AUTH",
        }
    }

    /// The role as the one-item role list of an `Identity`, shared rather
    /// than allocated for each verified token.
    pub fn as_role_list(self) -> &'static [Cow<'static, str>] {
        const VIEW: &[Cow<'static, str>] = &[Cow::Borrowed("VIEW")];
        const USER: &[Cow<'static, str>] = &[Cow::Borrowed("USER")];
        const AUTH: &[Cow<'static, str>] = &[Cow::Borrowed("AUTH")];
        match self {
            Role::View => VIEW,
            Role::User => USER,
            Role::Auth => AUTH,
        }
    }

    /// The role named `name` (exact wire spelling).
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "VIEW" => Some(Role::View),
            "USER" => Some(Role::User),
            "AUTH" => Some(Role::Auth),
            _ => None,
        }
    }
}

/// What to put in a new token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    pub uid: String,
    /// Brand as configured; written upper case into `org`.
    pub brand: String,
    pub role: Role,
    /// Device id (mobile); `None` writes `dev: null`.
    pub device: Option<String>,
    /// `"TYPE|value"` entries for `idv`.
    pub identifiers: Vec<String>,
    /// Lifetime. `None`: `tokens.access_ttl` for USER, `tokens.session_ttl`
    /// for VIEW, `tokens.key_ttl` for AUTH (no `exp` when that is unset).
    pub ttl: Option<Duration>,
    /// Shared by a token and the key issued with it (`new_family_id()`).
    pub family: String,
}

/// A freshly signed token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    pub token: String,
    pub jti: String,
    /// Expiry in seconds since the epoch; `None` for an AUTH key without one.
    pub exp: Option<u64>,
}

/// The claim set as written.
#[derive(Serialize)]
pub(crate) struct IssuedClaims<'a> {
    pub iss: &'a str,
    pub aud: &'a str,
    pub sub: &'a str,
    pub uid: &'a str,
    pub jti: &'a str,
    pub iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    pub rol: Role,
    pub org: &'a str,
    pub dev: Option<&'a str>,
    pub idv: &'a [String],
    pub fam: &'a str,
}

/// The protected header as written.
#[derive(Serialize)]
pub(crate) struct IssuedHeader<'a> {
    pub alg: &'static str,
    pub kid: &'a str,
    pub typ: &'static str,
}
