//! Reading and checking the body fields of API.md section 1: the identifier,
//! the brand, the device, the session id and the code. Every string has a cap;
//! anything missing, mistyped or out of shape is `InvalidDetails` (1519),
//! except the two fields the contract gives their own codes (1546, 1504).

use super::error::AuthError;
use super::settings::{BrandRef, Settings};
use crate::store::{Family, Identifier, IdentifierType};
use serde_json::{Map, Value};

/// Cap on ordinary string fields.
pub const MAX_FIELD_BYTES: usize = 256;
/// Cap on fields carrying a JWT (`key`, `expiredToken`).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_DEVICE_CHARS: usize = 128;
const MAX_DEVICE_BYTES: usize = 4 * MAX_DEVICE_CHARS;
const MAX_OTP_BYTES: usize = 32;
const MAX_USERNAME: usize = 64;
const MAX_EMAIL: usize = 254;
const MAX_EMAIL_LOCAL: usize = 64;

/// Checks `raw` against the shape of its type and puts it in canonical form:
/// mobile numbers as bare digits (the optional `+` dropped), email addresses
/// in lower case, usernames as given.
pub fn parse_identifier(kind: IdentifierType, raw: &str) -> Result<Identifier, AuthError> {
    let value = match kind {
        IdentifierType::Mobile => canonical_mobile(raw),
        IdentifierType::Email => canonical_email(raw),
        IdentifierType::Username => valid_username(raw).then(|| raw.to_owned()),
    };
    value
        .map(|value| Identifier { kind, value })
        .ok_or(AuthError::InvalidDetails("identifierValue"))
}

/// The `"TYPE|value"` form used in the `idv` claim.
pub fn claim(identifier: &Identifier) -> String {
    format!("{}|{}", identifier.kind.as_str(), identifier.value)
}

fn canonical_mobile(raw: &str) -> Option<String> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    let ok = (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| digits.to_owned())
}

fn canonical_email(raw: &str) -> Option<String> {
    if raw.len() > MAX_EMAIL || !raw.is_ascii() {
        return None;
    }
    let (local, domain) = raw.rsplit_once('@')?;
    let local_ok = (1..=MAX_EMAIL_LOCAL).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    (local_ok && domain_ok).then(|| raw.to_ascii_lowercase())
}

fn valid_username(raw: &str) -> bool {
    (1..=MAX_USERNAME).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The fields of one request object.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// A request item must be a JSON object.
    pub fn of(item: &'a Value) -> Result<Fields<'a>, AuthError> {
        item.as_object()
            .map(Fields)
            .ok_or(AuthError::InvalidDetails("body is not an object"))
    }

    /// Whether the field is there with a value other than `null`.
    pub fn present(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| !v.is_null())
    }

    /// An optional string: absent or `null` is `None`; another type, or more
    /// than `max` bytes, is 1519.
    pub fn string(&self, name: &'static str, max: usize) -> Result<Option<&'a str>, AuthError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= max => Ok(Some(s.as_str())),
            Some(_) => Err(AuthError::InvalidDetails(name)),
        }
    }

    /// A required, non-empty string of at most `max` bytes.
    pub fn required(&self, name: &'static str, max: usize) -> Result<&'a str, AuthError> {
        match self.string(name, max)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(AuthError::InvalidDetails(name)),
        }
    }

    /// `identifierType` (1519 when missing, 1546 when not one of the three)
    /// and `identifierValue` checked against it.
    pub fn identifier(&self) -> Result<Identifier, AuthError> {
        let kind = self.required("identifierType", MAX_FIELD_BYTES)?;
        let kind: IdentifierType = kind.parse().map_err(|_| AuthError::InvalidIdentifierType)?;
        parse_identifier(kind, self.required("identifierValue", MAX_FIELD_BYTES)?)
    }

    /// `brand`, which must be configured (1504).
    pub fn brand<'s>(&self, settings: &'s Settings) -> Result<BrandRef<'s>, AuthError> {
        let name = self.required("brand", MAX_FIELD_BYTES)?;
        settings.brand(name).ok_or(AuthError::UnsupportedBrand)
    }

    /// `deviceId`: required on mobile (1–128 printable characters), ignored on web.
    pub fn device(&self, family: Family) -> Result<Option<String>, AuthError> {
        if family != Family::Mobile {
            return Ok(None);
        }
        let device = self.required("deviceId", MAX_DEVICE_BYTES)?;
        let printable =
            device.chars().count() <= MAX_DEVICE_CHARS && device.chars().all(|c| !c.is_control());
        if printable {
            Ok(Some(device.to_owned()))
        } else {
            Err(AuthError::InvalidDetails("deviceId"))
        }
    }

    /// `sessionId`, as an opaque string.
    pub fn session_id(&self) -> Result<&'a str, AuthError> {
        self.required("sessionId", MAX_FIELD_BYTES)
    }

    /// `otp` as a string of digits or as a number. A number has lost its
    /// leading zeros, so it is padded back to the brand's code length.
    pub fn otp(&self, length: usize) -> Result<String, AuthError> {
        const BAD: AuthError = AuthError::InvalidDetails("otp");
        match self.0.get("otp") {
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= MAX_OTP_BYTES
                    && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(s.clone())
            }
            Some(Value::Number(n)) => n.as_u64().map(|n| format!("{n:0>length$}")).ok_or(BAD),
            _ => Err(BAD),
        }
    }
}

/// The fields every step carries, checked in the contract's order.
#[derive(Debug, Clone)]
pub struct Common<'s> {
    pub identifier: Identifier,
    pub brand: BrandRef<'s>,
    pub device: Option<String>,
}

impl<'s> Common<'s> {
    pub fn read(
        fields: &Fields<'_>,
        settings: &'s Settings,
        family: Family,
    ) -> Result<Common<'s>, AuthError> {
        let identifier = fields.identifier()?;
        let brand = fields.brand(settings)?;
        let device = fields.device(family)?;
        Ok(Common {
            identifier,
            brand,
            device,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Brand, Config};
    use serde_json::json;

    fn settings() -> Settings {
        let mut cfg = Config::default();
        cfg.brands.insert("DEMO".into(), Brand::default());
        Settings::from_config(&cfg)
    }

    fn read(
        body: Value,
        family: Family,
    ) -> Result<(Identifier, String, Option<String>), AuthError> {
        let s = settings();
        let fields = Fields::of(&body)?;
        let c = Common::read(&fields, &s, family)?;
        Ok((c.identifier, c.brand.name.to_owned(), c.device))
    }

    fn code(r: Result<impl std::fmt::Debug, AuthError>) -> u32 {
        match r {
            Ok(v) => panic!("expected a refusal, got {v:?}"),
            Err(e) => e.code().number(),
        }
    }

    #[test]
    fn a_mobile_number_keeps_its_digits_and_loses_its_plus() {
        let id = parse_identifier(IdentifierType::Mobile, "+919999922332");
        assert_eq!(
            id.map(|i| claim(&i)).ok(),
            Some("MOBILE|919999922332".into())
        );
        assert!(parse_identifier(IdentifierType::Mobile, "12345").is_err());
        assert!(parse_identifier(IdentifierType::Mobile, "1234567890123456").is_err());
        assert!(parse_identifier(IdentifierType::Mobile, "++123456").is_err());
        assert!(parse_identifier(IdentifierType::Mobile, "12 3456").is_err());
        assert!(parse_identifier(IdentifierType::Mobile, "١٢٣٤٥٦٧").is_err());
    }

    #[test]
    fn emails_must_be_plausible_and_compare_in_lower_case() {
        let id = parse_identifier(IdentifierType::Email, "Ann.Lee+x@Example.COM");
        assert_eq!(
            id.map(|i| i.value).ok(),
            Some("ann.lee+x@example.com".into())
        );
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a..b@example.com",
            "ann@-x.com",
            "ann @example.com",
            "ann@exa_mple.com",
            "ånn@example.com",
        ] {
            assert!(
                parse_identifier(IdentifierType::Email, bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn usernames_are_1_to_64_of_a_small_alphabet() {
        assert!(parse_identifier(IdentifierType::Username, "ann.lee_01-x").is_ok());
        assert!(parse_identifier(IdentifierType::Username, &"a".repeat(64)).is_ok());
        assert!(parse_identifier(IdentifierType::Username, &"a".repeat(65)).is_err());
        assert!(parse_identifier(IdentifierType::Username, "ann lee").is_err());
        assert!(parse_identifier(IdentifierType::Username, "ann/lee").is_err());
    }

    #[test]
    fn identifier_type_has_its_own_code_only_when_it_is_a_wrong_word() {
        let base = |t: Value| json!({"identifierType": t, "identifierValue": "9999999999", "brand": "demo", "deviceId": "d1"});
        assert_eq!(code(read(base(json!("PHONE")), Family::Mobile)), 1546);
        assert_eq!(code(read(base(json!("mobile")), Family::Mobile)), 1546);
        assert_eq!(code(read(base(json!(7)), Family::Mobile)), 1519);
        assert_eq!(
            code(read(
                json!({"identifierValue": "9999999999", "brand": "demo", "deviceId": "d"}),
                Family::Mobile
            )),
            1519
        );
    }

    #[test]
    fn brand_is_required_and_must_be_configured() {
        let base = |b: Value| json!({"identifierType": "MOBILE", "identifierValue": "9999999999", "brand": b, "deviceId": "d1"});
        assert_eq!(
            read(base(json!("dEmO")), Family::Mobile).map(|r| r.1).ok(),
            Some("DEMO".into())
        );
        assert_eq!(code(read(base(json!("ACME")), Family::Mobile)), 1504);
        assert_eq!(code(read(base(json!("")), Family::Mobile)), 1519);
        assert_eq!(code(read(base(json!(["DEMO"])), Family::Mobile)), 1519);
        assert_eq!(
            code(read(base(json!("D".repeat(300))), Family::Mobile)),
            1519
        );
    }

    #[test]
    fn device_is_required_on_mobile_and_ignored_on_web() {
        let base = |d: Value| json!({"identifierType": "MOBILE", "identifierValue": "9999999999", "brand": "DEMO", "deviceId": d});
        assert_eq!(
            read(base(json!("dev-1")), Family::Mobile).map(|r| r.2).ok(),
            Some(Some("dev-1".into()))
        );
        assert_eq!(
            read(base(json!(12)), Family::Web).map(|r| r.2).ok(),
            Some(None)
        );
        assert_eq!(code(read(base(Value::Null), Family::Mobile)), 1519);
        assert_eq!(code(read(base(json!("")), Family::Mobile)), 1519);
        assert_eq!(
            code(read(base(json!("d".repeat(129))), Family::Mobile)),
            1519
        );
        assert_eq!(code(read(base(json!("tab\there")), Family::Mobile)), 1519);
        assert!(read(base(json!("é".repeat(128))), Family::Mobile).is_ok());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let body = json!({"identifierType": "EMAIL", "identifierValue": "a@b.co", "brand": "DEMO",
                          "deviceId": "d", "favouriteColour": {"deep": [1, 2, 3]}});
        assert!(read(body, Family::Mobile).is_ok());
    }

    #[test]
    fn otp_comes_as_digits_or_as_a_number_padded_to_the_code_length() {
        let otp = |v: Value| Fields::of(&json!({"otp": v})).and_then(|f| f.otp(6));
        assert_eq!(otp(json!("012345")).ok(), Some("012345".into()));
        assert_eq!(otp(json!(12345)).ok(), Some("012345".into()));
        assert_eq!(otp(json!(987654)).ok(), Some("987654".into()));
        for bad in [
            json!(-1),
            json!(1.5),
            json!("12a4"),
            json!(""),
            json!(true),
            json!(null),
            json!("1".repeat(33)),
        ] {
            assert_eq!(code(otp(bad.clone())), 1519, "{bad}");
        }
    }

    #[test]
    fn an_item_that_is_not_an_object_is_invalid() {
        assert_eq!(code(Fields::of(&json!("x")).map(|_| ())), 1519);
        assert_eq!(code(Fields::of(&json!(null)).map(|_| ())), 1519);
    }
}
