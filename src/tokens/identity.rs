//! Who a verified token speaks for: the fields the proxy and the auth flows
//! use, plus every claim as received so any of them can be forwarded as a
//! header.

use super::claims::Role;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A verified token's subject and claims. Its `Debug` leaves out what
/// identifies a person (identifier values, the raw claims), so that a
/// debug print or a failed assertion does not put them in a log.
#[derive(Clone, PartialEq)]
pub struct Identity {
    /// `uid` when it is a string, else `sub`.
    pub uid: String,
    /// `sub`, kept only when it is not the same text as `uid` (for this
    /// gateway's tokens it is the same): see `sub()`.
    pub(crate) other_sub: Option<String>,
    /// `org` (brand, upper case); empty when the token has none.
    pub brand: String,
    /// `dev`; `None` when absent or null.
    pub device: Option<String>,
    /// The roles joined with `,` (one role for this gateway's tokens).
    pub role: Cow<'static, str>,
    /// Own tokens: `[rol]`; trusted issuers: the configured `roles_claim`
    /// (a string or an array of strings).
    pub roles: Cow<'static, [Cow<'static, str>]>,
    /// `Some` for tokens this gateway issued.
    pub own_role: Option<Role>,
    /// Kept for the process (`names.rs`): no copy and no count per verification.
    pub issuer: &'static str,
    /// Whether this gateway issued the token (as opposed to a trusted issuer).
    pub own: bool,
    pub jti: Option<String>,
    /// `fam`: shared by a token and the key issued with it.
    pub family: Option<String>,
    pub exp: Option<u64>,
    pub iat: Option<u64>,
    /// `idv` entries (`"TYPE|value"`).
    pub identifiers: Vec<String>,
    /// The kid of the key that verified the token.
    /// Borrowed for this gateway's keys, owned for a JWKS key's.
    pub kid: Option<Cow<'static, str>>,
    pub claims: RawClaims,
}

/// Every claim as received: the payload's JSON text, read into a map the
/// first time a claim is asked for by name (most routes forward only the
/// fields above, so most verifications never build the map).
#[derive(Clone, Default)]
pub struct RawClaims {
    json: Box<str>,
    map: OnceLock<Map<String, Value>>,
}

impl RawClaims {
    /// `json` must be a JSON object (the verified payload).
    pub(crate) fn new(json: &str) -> Self {
        RawClaims {
            json: json.into(),
            map: OnceLock::new(),
        }
    }

    /// With the map already read (trusted issuers' tokens need it for roles).
    pub(crate) fn with_map(json: &str, map: Map<String, Value>) -> Self {
        RawClaims {
            json: json.into(),
            map: OnceLock::from(map),
        }
    }

    /// The claims as a map.
    pub fn map(&self) -> &Map<String, Value> {
        // The text was read as a JSON object before it got here.
        self.map
            .get_or_init(|| serde_json::from_str(&self.json).unwrap_or_default())
    }

    /// Claim `name` as received.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map().get(name)
    }

    /// The payload's JSON text.
    pub fn as_str(&self) -> &str {
        &self.json
    }
}

impl PartialEq for RawClaims {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

impl std::fmt::Debug for RawClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes of claims>", self.json.len())
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Identifier types only (`EMAIL`, `MOBILE`): the values are personal.
        let identifier_types: Vec<&str> = self
            .identifiers
            .iter()
            .map(|i| i.split_once('|').map_or("?", |(kind, _)| kind))
            .collect();
        f.debug_struct("Identity")
            .field("uid", &self.uid)
            .field("sub", &self.sub())
            .field("brand", &self.brand)
            .field("device", &self.device)
            .field("role", &self.role)
            .field("roles", &self.roles)
            .field("own_role", &self.own_role)
            .field("issuer", &self.issuer)
            .field("own", &self.own)
            .field("jti", &self.jti)
            .field("family", &self.family)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("identifier_types", &identifier_types)
            .field("kid", &self.kid)
            .field("claims", &self.claims)
            .finish()
    }
}

impl Identity {
    /// The token's `sub`.
    pub fn sub(&self) -> &str {
        self.other_sub.as_deref().unwrap_or(&self.uid)
    }

    /// Whether the token carries `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Claim `name` as header text: strings as they are, numbers and
    /// booleans formatted, arrays joined with `,`; `None` for absent, null
    /// and object claims.
    pub fn claim_str(&self, name: &str) -> Option<Cow<'_, str>> {
        claim_text(self.claims.get(name)?)
    }
}

pub(crate) fn claim_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Array(items) => {
            let parts: Vec<Cow<'_, str>> = items.iter().filter_map(claim_text).collect();
            Some(Cow::Owned(parts.join(",")))
        }
        Value::Null | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_claims(claims: Value) -> Identity {
        let claims = RawClaims::new(&claims.to_string());
        Identity {
            uid: "u1".into(),
            other_sub: None,
            brand: "DEMO".into(),
            device: None,
            role: "USER".into(),
            roles: Role::User.as_role_list().into(),
            own_role: Some(Role::User),
            issuer: "portcullis",
            own: true,
            jti: None,
            family: None,
            exp: None,
            iat: None,
            identifiers: vec![],
            kid: None,
            claims,
        }
    }

    #[test]
    fn claim_str_formats_each_json_type_for_a_header() {
        let id = with_claims(json!({
            "org": "DEMO", "n": 42, "f": 1.5, "b": true,
            "idv": ["MOBILE|123", "EMAIL|a@b.c"], "nul": null, "obj": {"a": 1}
        }));
        assert_eq!(id.claim_str("org").as_deref(), Some("DEMO"));
        assert_eq!(id.claim_str("n").as_deref(), Some("42"));
        assert_eq!(id.claim_str("f").as_deref(), Some("1.5"));
        assert_eq!(id.claim_str("b").as_deref(), Some("true"));
        assert_eq!(
            id.claim_str("idv").as_deref(),
            Some("MOBILE|123,EMAIL|a@b.c")
        );
        assert_eq!(id.claim_str("nul"), None);
        assert_eq!(id.claim_str("obj"), None);
        assert_eq!(id.claim_str("absent"), None);
    }

    #[test]
    fn debug_output_names_identifier_types_but_no_personal_values() {
        let mut id = with_claims(json!({"idv": ["EMAIL|ann@example.com"], "name": "Ann Smith"}));
        id.identifiers = vec!["EMAIL|ann@example.com".into(), "MOBILE|+15550100".into()];
        let printed = format!("{id:?}");
        assert!(
            printed.contains(r#"identifier_types: ["EMAIL", "MOBILE"]"#),
            "{printed}"
        );
        assert!(printed.contains("uid: \"u1\""), "{printed}");
        for personal in ["ann@example.com", "+15550100", "Ann Smith"] {
            assert!(
                !printed.contains(personal),
                "{personal} printed in {printed}"
            );
        }
    }

    #[test]
    fn string_claims_are_borrowed_not_copied() {
        let id = with_claims(json!({"org": "DEMO"}));
        assert!(matches!(id.claim_str("org"), Some(Cow::Borrowed("DEMO"))));
    }
}
