//! Reading a presented token's payload, once its signature verified: the
//! quick reading of `flat_payload.rs` for the common flat shape, else one
//! pass over the JSON that keeps the claims this gateway uses, borrowed from
//! the payload text, and checks every other member without keeping it.
//! The pass is exactly as strict as reading a `serde_json::Map` would be
//! (every value goes through `deserialize_any`, so numbers, escapes and
//! nesting depth are checked alike), and a repeated member counts as its
//! last occurrence, as in a map. The text itself stays in the `Identity`, for
//! the claims a route forwards by name.

use super::error::VerifyError;
use super::flat_payload;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// One member the gateway uses, as far as it cares about its type.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) enum Claim<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    /// An array; only its string items are kept.
    List(Vec<Cow<'a, str>>),
    /// A number as a NumericDate: whole seconds, fractions cut, negative
    /// values 0, huge values `u64::MAX`.
    Number(u64),
    /// `null`, a boolean or an object.
    Other,
}

impl<'a> Claim<'a> {
    /// The text of a string member.
    pub fn text(&self) -> Option<&str> {
        match self {
            Claim::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The string items of an array member; empty for anything else.
    pub fn list(&self) -> &[Cow<'a, str>] {
        match self {
            Claim::List(items) => items,
            _ => &[],
        }
    }
}

/// The payload's members this gateway uses.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Payload<'a> {
    pub iss: Claim<'a>,
    pub sub: Claim<'a>,
    pub aud: Claim<'a>,
    pub exp: Claim<'a>,
    pub nbf: Claim<'a>,
    pub iat: Claim<'a>,
    pub jti: Claim<'a>,
    pub uid: Claim<'a>,
    pub org: Claim<'a>,
    pub dev: Claim<'a>,
    pub rol: Claim<'a>,
    pub idv: Claim<'a>,
    pub fam: Claim<'a>,
    /// The payload as text (valid UTF-8 JSON object).
    pub json: &'a str,
}

impl<'a> Payload<'a> {
    /// Reads a decoded payload: UTF-8, one JSON object, nothing after it.
    pub fn read(bytes: &'a [u8]) -> Result<Self, VerifyError> {
        let mut payload = Payload::default();
        payload.read_from(bytes)?;
        Ok(payload)
    }

    /// `read` into `self` (a default `Payload`), so that the verification's
    /// hot path does not copy the whole struct around.
    pub fn read_from(&mut self, bytes: &'a [u8]) -> Result<(), VerifyError> {
        let json = std::str::from_utf8(bytes).map_err(|_| not_an_object())?;
        if flat_payload::read(json, self).is_none() {
            *self = Self::read_fully(json)?;
        }
        Ok(())
    }

    /// Reads `json` with serde_json: any valid JSON object.
    pub(super) fn read_fully(json: &'a str) -> Result<Self, VerifyError> {
        let bad = |_| not_an_object();
        let mut de = serde_json::Deserializer::from_str(json);
        let mut payload = de.deserialize_map(PayloadVisitor).map_err(bad)?;
        de.end().map_err(bad)?;
        payload.json = json;
        Ok(payload)
    }

    /// The slot of a member this gateway uses. Their names are three
    /// bytes long, so one comparison of a 3-byte array tells them apart.
    pub(super) fn member(&mut self, name: &str) -> Option<&mut Claim<'a>> {
        let name: [u8; 3] = name.as_bytes().try_into().ok()?;
        Some(match &name {
            b"iss" => &mut self.iss,
            b"sub" => &mut self.sub,
            b"aud" => &mut self.aud,
            b"exp" => &mut self.exp,
            b"nbf" => &mut self.nbf,
            b"iat" => &mut self.iat,
            b"jti" => &mut self.jti,
            b"uid" => &mut self.uid,
            b"org" => &mut self.org,
            b"dev" => &mut self.dev,
            b"rol" => &mut self.rol,
            b"idv" => &mut self.idv,
            b"fam" => &mut self.fam,
            _ => return None,
        })
    }
}

fn not_an_object() -> VerifyError {
    VerifyError::Malformed("the payload is not a JSON object")
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Payload<'de>, A::Error> {
        let mut p = Payload::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match p.member(&key.0) {
                Some(slot) => *slot = map.next_value()?,
                None => {
                    map.next_value::<Any>()?;
                }
            }
        }
        Ok(p)
    }
}

/// A member name, unescaped (borrowed unless it holds escapes).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, checked as strictly as a `serde_json::Value` and dropped.
struct Any;

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor).map(|_| Any)
    }
}

/// Accepts every JSON value, reporting which of the kinds `Claim` tells apart.
struct AnyVisitor;

enum Kind<'a> {
    Text(Cow<'a, str>),
    Number(u64),
    List(Vec<Cow<'a, str>>),
    Other,
}

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Kind<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Kind<'de>, E> {
        Ok(Kind::Text(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Kind<'de>, E> {
        Ok(Kind::Text(Cow::Owned(s.to_string())))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Kind<'de>, E> {
        Ok(Kind::Number(n))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Kind<'de>, E> {
        // Negative seconds read as 0.
        Ok(Kind::Number(u64::try_from(n).unwrap_or(0)))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Kind<'de>, E> {
        // JSON numbers are finite; `as` cuts the fraction and saturates.
        Ok(Kind::Number(f as u64))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Kind<'de>, E> {
        Ok(Kind::Other)
    }
    fn visit_unit<E>(self) -> Result<Kind<'de>, E> {
        Ok(Kind::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind<'de>, A::Error> {
        let mut texts = Vec::new();
        while let Some(item) = seq.next_element_seed(KindSeed)? {
            if let Kind::Text(s) = item {
                texts.push(s);
            }
        }
        Ok(Kind::List(texts))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind<'de>, A::Error> {
        while map.next_entry::<Key, Any>()?.is_some() {}
        Ok(Kind::Other)
    }
}

struct KindSeed;

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = Kind<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Kind<'de>, D::Error> {
        d.deserialize_any(AnyVisitor)
    }
}

impl<'de> Deserialize<'de> for Claim<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match d.deserialize_any(AnyVisitor)? {
            Kind::Text(s) => Claim::Text(s),
            Kind::Number(n) => Claim::Number(n),
            Kind::List(items) => Claim::List(items),
            Kind::Other => Claim::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    /// Whether `Payload::read` and a `serde_json::Map` agree on `json`.
    fn agrees(json: &str) -> bool {
        let ours = Payload::read(json.as_bytes()).is_ok();
        let map = serde_json::from_slice::<Map<String, Value>>(json.as_bytes()).is_ok();
        ours == map
    }

    #[test]
    fn exactly_what_a_json_map_accepts_is_accepted() {
        let deep = format!(r#"{{"n":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        let fine = format!(r#"{{"n":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        for json in [
            r#"{"iss":"a","x":{"y":[1,2.5,-3,null,true,"z"]}}"#,
            r#"{"x":1e400}"#,
            r#"{"iss":1e400}"#,
            r#"{"x":"\ud800"}"#,
            r#"{"x":"\ud83d\ude00"}"#,
            "{\"x\":\"a\u{1}b\"}",
            r#"{"x":"\q"}"#,
            r#"{"x":01}"#,
            r#"{"x":1,}"#,
            r#"{"x":1} x"#,
            r#"[{"iss":"a"}]"#,
            r#""iss""#,
            "\u{feff}{}",
            r#"{"a":1,"a":2}"#,
            &deep,
            &fine,
        ] {
            assert!(agrees(json), "{json}");
        }
        assert!(Payload::read(b"{\"x\":\"\xff\"}").is_err());
    }

    #[test]
    fn the_last_of_repeated_members_counts_and_escaped_names_are_unescaped() {
        let p = Payload::read(br#"{"exp":1,"exp":2,"\u0069ss":"me"}"#).unwrap();
        assert_eq!(p.exp, Claim::Number(2));
        assert_eq!(p.iss.text(), Some("me"));
    }

    #[test]
    fn each_kind_of_value_is_told_apart() {
        let p = Payload::read(
            br#"{"sub":"u\"1","aud":["a",1,"b"],"exp":-5,"nbf":1.9,"iat":1e30,"org":null,"dev":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(p.sub.text(), Some("u\"1"));
        assert_eq!(p.aud.list(), ["a", "b"]);
        assert_eq!(p.exp, Claim::Number(0));
        assert_eq!(p.nbf, Claim::Number(1));
        assert_eq!(p.iat, Claim::Number(u64::MAX));
        assert_eq!(p.org, Claim::Other);
        assert_eq!(p.dev, Claim::Other);
        assert_eq!(p.jti, Claim::Absent);
    }
}
