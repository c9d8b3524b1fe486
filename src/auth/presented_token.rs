//! The token a logged-in client presents to password/change and
//! token/expire: `Authorization: Bearer <token>` first, else the body's
//! `token`. None at all is 1519.

use super::error::AuthError;
use super::validation::{Fields, MAX_TOKEN_BYTES};

pub fn presented<'a>(
    authorization: Option<&'a str>,
    fields: &Fields<'a>,
) -> Result<&'a str, AuthError> {
    let bearer = authorization
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_BYTES);
    match bearer {
        Some(token) => Ok(token),
        None => fields.required("token", MAX_TOKEN_BYTES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_header_wins_over_the_body_and_the_body_is_the_fallback() {
        let body = json!({"token": "from-body"});
        let fields = Fields::of(&body).unwrap();
        assert_eq!(
            presented(Some("Bearer from-header"), &fields).ok(),
            Some("from-header")
        );
        assert_eq!(
            presented(Some("bearer  spaced "), &fields).ok(),
            Some("spaced")
        );
        assert_eq!(
            presented(Some("Basic abc"), &fields).ok(),
            Some("from-body")
        );
        assert_eq!(presented(None, &fields).ok(), Some("from-body"));
        let empty = json!({});
        let none = Fields::of(&empty).unwrap();
        assert_eq!(
            presented(None, &none).err().map(|e| e.code().number()),
            Some(1519)
        );
    }
}
