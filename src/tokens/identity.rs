//! Who a verified token speaks for: the fields the proxy and the auth flows
//! use, plus every claim as received so any of them can be forwarded as a
//! header.

use super::claims::Role;
use http::HeaderValue;
use serde_json::{Map, Value};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::OnceLock;

/// A verified token's subject and claims. Its `Debug` leaves out what
/// identifies a person (identifier values, the raw claims), so that a
/// debug print or a failed assertion does not put them in a log.
///
/// The texts (uid, sub, brand, device, jti, family, identifiers) are spans of
/// the claims' text: a verification copies the payload once and allocates
/// nothing per field (see `RawClaims`).
#[derive(Clone)]
pub struct Identity {
    /// `uid` when it is a string, else `sub`.
    pub(crate) uid: Span,
    /// `sub`, kept only when it is not the same text as `uid` (for this
    /// gateway's tokens it is the same): see `sub()`.
    pub(crate) other_sub: Option<Span>,
    /// `org`; empty when the token has none.
    pub(crate) brand: Span,
    /// `dev`; `None` when absent or null.
    pub(crate) device: Option<Span>,
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
    pub(crate) jti: Option<Span>,
    /// `fam`: shared by a token and the key issued with it.
    pub(crate) family: Option<Span>,
    pub exp: Option<u64>,
    pub iat: Option<u64>,
    /// `idv` entries (`"TYPE|value"`); this gateway's tokens carry one, which
    /// is kept inline.
    pub(crate) identifiers: SmallVec<[Span; 2]>,
    /// The kid of the key that verified the token.
    /// Borrowed for this gateway's keys, owned for a JWKS key's.
    pub kid: Option<Cow<'static, str>>,
    /// Private to the crate: the spans above point into its text.
    pub(crate) claims: RawClaims,
    /// The identity's own fields as header values, made the first time a
    /// route forwards them; a cached identity serves many requests.
    pub(crate) header_values: FieldHeaderValues,
}

/// `uid`, `org`, `dev` and `rol` as header values, each made once: `None`
/// inside when the field is empty or cannot be a header value.
#[derive(Clone, Default)]
pub(crate) struct FieldHeaderValues {
    pub uid: OnceLock<Option<HeaderValue>>,
    pub brand: OnceLock<Option<HeaderValue>>,
    pub device: OnceLock<Option<HeaderValue>>,
    pub role: OnceLock<Option<HeaderValue>>,
}

/// Where one of an identity's texts sits in its claims' text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

/// Every claim as received: the payload's JSON text, read into a map the
/// first time a claim is asked for by name (most routes forward only the
/// fields above, so most verifications never build the map). The same text
/// holds the identity's fields: most are slices of the JSON; one that is not
/// (a string that had escapes, so its value differs from its JSON text) is
/// appended after the JSON.
#[derive(Clone, Default)]
pub struct RawClaims {
    text: Box<str>,
    /// Where the JSON ends in `text`.
    json_len: usize,
    map: OnceLock<Map<String, Value>>,
}

/// Builds an identity's `RawClaims` and the spans of its texts, in one
/// allocation when the texts are slices of the JSON.
pub(crate) struct ClaimsText<'j> {
    json: &'j str,
    /// Texts that are not slices of `json`, in the order they were added
    /// (empty unless a value had escapes).
    appended: String,
}

impl<'j> ClaimsText<'j> {
    /// `json` must be a JSON object (the verified payload). Claims texts are
    /// limited to 4 GiB (a token is far smaller: requests are).
    pub(crate) fn new(json: &'j str) -> Self {
        ClaimsText {
            json,
            appended: String::new(),
        }
    }

    /// The span of `value`: where it lies in the JSON when it is a slice of
    /// it, else where it will lie once appended after it.
    pub(crate) fn span(&mut self, value: &str) -> Span {
        let offset = (value.as_ptr() as usize).wrapping_sub(self.json.as_ptr() as usize);
        let start = if offset <= self.json.len() && value.len() <= self.json.len() - offset {
            offset
        } else {
            let start = self.json.len() + self.appended.len();
            self.appended.push_str(value);
            start
        };
        Span {
            start: clamp_u32(start),
            end: clamp_u32(start + value.len()),
        }
    }

    /// The span of an optional text (`None` stays `None`).
    pub(crate) fn span_of(&mut self, value: Option<&str>) -> Option<Span> {
        value.map(|value| self.span(value))
    }

    /// The claims, owning the text every span points into.
    pub(crate) fn into_claims(self) -> RawClaims {
        self.into_claims_with(OnceLock::new())
    }

    /// With the map already read (trusted issuers' tokens need it for roles).
    pub(crate) fn into_claims_with_map(self, map: Map<String, Value>) -> RawClaims {
        self.into_claims_with(OnceLock::from(map))
    }

    fn into_claims_with(self, map: OnceLock<Map<String, Value>>) -> RawClaims {
        let text: Box<str> = if self.appended.is_empty() {
            self.json.into()
        } else {
            let mut text = String::with_capacity(self.json.len() + self.appended.len());
            text.push_str(self.json);
            text.push_str(&self.appended);
            text.into()
        };
        RawClaims {
            text,
            json_len: self.json.len(),
            map,
        }
    }
}

/// Offsets past `u32::MAX` cannot occur (a token that large is refused long
/// before); should one, the span is cut rather than wrapped.
fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl RawClaims {
    /// The claims as a map.
    pub fn map(&self) -> &Map<String, Value> {
        // The text was read as a JSON object before it got here.
        self.map
            .get_or_init(|| serde_json::from_str(self.as_str()).unwrap_or_default())
    }

    /// Claim `name` as received.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map().get(name)
    }

    /// The payload's JSON text.
    pub fn as_str(&self) -> &str {
        self.text.get(..self.json_len).unwrap_or_default()
    }

    /// The text `span` marks (empty should it not lie in this text).
    fn at(&self, span: Span) -> &str {
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }
}

impl PartialEq for RawClaims {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// Identities are equal when what they say is: the same texts, wherever
/// their spans put them.
impl PartialEq for Identity {
    fn eq(&self, other: &Self) -> bool {
        self.uid() == other.uid()
            && self.sub() == other.sub()
            && self.brand() == other.brand()
            && self.device() == other.device()
            && self.role == other.role
            && self.roles == other.roles
            && self.own_role == other.own_role
            && self.issuer == other.issuer
            && self.own == other.own
            && self.jti() == other.jti()
            && self.family() == other.family()
            && self.exp == other.exp
            && self.iat == other.iat
            && self.identifiers().eq(other.identifiers())
            && self.kid == other.kid
            && self.claims == other.claims
    }
}

impl std::fmt::Debug for RawClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes of claims>", self.json_len)
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Identifier types only (`EMAIL`, `MOBILE`): the values are personal.
        let identifier_types: Vec<&str> = self
            .identifiers()
            .map(|i| i.split_once('|').map_or("?", |(kind, _)| kind))
            .collect();
        f.debug_struct("Identity")
            .field("uid", &self.uid())
            .field("sub", &self.sub())
            .field("brand", &self.brand())
            .field("device", &self.device())
            .field("role", &self.role)
            .field("roles", &self.roles)
            .field("own_role", &self.own_role)
            .field("issuer", &self.issuer)
            .field("own", &self.own)
            .field("jti", &self.jti())
            .field("family", &self.family())
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("identifier_types", &identifier_types)
            .field("kid", &self.kid)
            .field("claims", &self.claims)
            .finish()
    }
}

impl Identity {
    /// `uid` when it is a string, else `sub`.
    pub fn uid(&self) -> &str {
        self.claims.at(self.uid)
    }

    /// The token's `sub`.
    pub fn sub(&self) -> &str {
        self.claims.at(self.other_sub.unwrap_or(self.uid))
    }

    /// `org` (the brand); empty when the token has none.
    pub fn brand(&self) -> &str {
        self.claims.at(self.brand)
    }

    /// `dev`; `None` when absent or null.
    pub fn device(&self) -> Option<&str> {
        self.device.map(|span| self.claims.at(span))
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.jti.map(|span| self.claims.at(span))
    }

    /// `fam`: shared by a token and the key issued with it.
    pub fn family(&self) -> Option<&str> {
        self.family.map(|span| self.claims.at(span))
    }

    /// Every claim as received.
    pub fn claims(&self) -> &RawClaims {
        &self.claims
    }

    /// The `idv` entries (`"TYPE|value"`), in token order.
    pub fn identifiers(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.identifiers.iter().map(|&span| self.claims.at(span))
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

    /// An own USER identity with `claims` as its payload; uid, brand and
    /// identifiers as the claims hold them.
    fn with_claims(claims: Value) -> Identity {
        let json = claims.to_string();
        let mut text = ClaimsText::new(&json);
        let uid = text.span(claims["uid"].as_str().unwrap_or("u1"));
        let brand = text.span(claims["org"].as_str().unwrap_or("DEMO"));
        let identifiers = claims["idv"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|i| text.span(i))
                    .collect()
            })
            .unwrap_or_default();
        Identity {
            uid,
            other_sub: None,
            brand,
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
            identifiers,
            kid: None,
            claims: text.into_claims(),
            header_values: FieldHeaderValues::default(),
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
        let id = with_claims(json!({
            "idv": ["EMAIL|ann@example.com", "MOBILE|+15550100"], "name": "Ann Smith"
        }));
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

    /// The first `part` of `json`, as a slice of it.
    fn slice_of<'j>(json: &'j str, part: &str) -> &'j str {
        let at = json.find(part).expect("part of the json");
        &json[at..at + part.len()]
    }

    #[test]
    fn texts_that_are_slices_of_the_json_are_not_copied() {
        let json = r#"{"uid":"u-1","org":"DEMO","idv":["MOBILE|+15550100"]}"#;
        let mut text = ClaimsText::new(json);
        let uid = text.span(slice_of(json, "u-1"));
        let brand = text.span(slice_of(json, "DEMO"));
        let claims = text.into_claims();
        assert_eq!(claims.at(uid), "u-1");
        assert_eq!(claims.at(brand), "DEMO");
        assert_eq!(claims.text.len(), json.len(), "nothing appended");
        assert_eq!(claims.as_str(), json);
    }

    #[test]
    fn texts_that_differ_from_their_json_are_appended_after_it() {
        // "a\"b" in JSON is the value a"b, which is no slice of the text.
        let json = r#"{"uid":"a\"b","org":"DEMO"}"#;
        let unescaped = String::from("a\"b");
        let mut text = ClaimsText::new(json);
        let uid = text.span(&unescaped);
        let brand = text.span(slice_of(json, "DEMO"));
        let sub = text.span("someone-else");
        let claims = text.into_claims();
        assert_eq!(claims.at(uid), "a\"b");
        assert_eq!(claims.at(brand), "DEMO");
        assert_eq!(claims.at(sub), "someone-else");
        assert_eq!(claims.as_str(), json, "the JSON text stays as received");
        assert_eq!(claims.map()["org"], "DEMO");
    }

    #[test]
    fn empty_and_adjacent_texts_keep_their_bounds() {
        let json = r#"{"org":"","uid":"x"}"#;
        let mut text = ClaimsText::new(json);
        let empty_at_end = text.span(&json[json.len()..]);
        let brand = text.span(&json[8..8]);
        let claims = text.into_claims();
        assert_eq!(claims.at(empty_at_end), "");
        assert_eq!(claims.at(brand), "");
        assert_eq!(claims.text.len(), json.len());
    }

    #[test]
    fn identities_are_equal_by_what_they_say_not_where_their_texts_sit() {
        let base = with_claims(json!({"uid": "u1", "org": "DEMO"}));
        let json = base.claims.as_str();
        let relaid = |uid: &str, brand: &str| {
            let mut id = base.clone();
            let mut text = ClaimsText::new(json);
            id.uid = text.span(uid);
            id.brand = text.span(brand);
            id.claims = text.into_claims();
            id
        };
        let sliced = relaid(slice_of(json, "u1"), slice_of(json, "DEMO"));
        let appended = relaid("u1", "DEMO");
        assert_ne!(appended.uid.start, sliced.uid.start, "a different layout");
        assert_eq!(appended, sliced);
        assert_ne!(relaid("u2", "DEMO"), sliced);
    }
}
