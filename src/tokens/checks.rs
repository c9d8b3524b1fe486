//! The registered-claim checks of RFC 7519 as this gateway applies them:
//! `exp` (required on proxied routes), `nbf`, `iat` not in the future, all
//! with the configured leeway; `aud` containing an accepted audience.

use super::error::VerifyError;
use super::payload::{Claim, Payload};

/// How `exp` is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// `exp` must be present and in the future (plus leeway).
    Required,
    /// AUTH keys: `exp` may be absent; when present it is checked.
    Optional,
    /// Web regeneration: `exp` must be present and may be up to this many
    /// seconds in the past (plus leeway).
    PastWithin(u64),
}

/// The checked times of a token.
pub(crate) struct Times {
    pub exp: Option<u64>,
    pub iat: Option<u64>,
}

pub(crate) fn check_times(
    claims: &Payload<'_>,
    now: u64,
    leeway: u64,
    rule: Expiry,
) -> Result<Times, VerifyError> {
    let exp = numeric_date(&claims.exp)?;
    let nbf = numeric_date(&claims.nbf)?;
    let iat = numeric_date(&claims.iat)?;
    let grace = match (rule, exp) {
        (Expiry::Required | Expiry::PastWithin(_), None) => {
            return Err(VerifyError::invalid("the token has no exp"))
        }
        (Expiry::PastWithin(window), Some(_)) => leeway.saturating_add(window),
        _ => leeway,
    };
    if exp.is_some_and(|exp| now >= exp.saturating_add(grace)) {
        return Err(VerifyError::Expired);
    }
    if nbf.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(VerifyError::invalid("the token is not valid yet (nbf)"));
    }
    if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(VerifyError::invalid(
            "the token was issued in the future (iat)",
        ));
    }
    Ok(Times { exp, iat })
}

/// Whether `aud` (a string or an array of strings) names one of `accepted`.
pub(crate) fn check_audience(claims: &Payload<'_>, accepted: &[String]) -> Result<(), VerifyError> {
    let ok = match &claims.aud {
        Claim::Text(a) => accepted.iter().any(|x| x == a),
        Claim::List(items) => items.iter().any(|a| accepted.iter().any(|x| x == a)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VerifyError::invalid(
            "the token is not for this audience (aud)",
        ))
    }
}

/// A NumericDate claim in whole seconds; fractions are cut, negative values read as 0.
fn numeric_date(claim: &Claim<'_>) -> Result<Option<u64>, VerifyError> {
    match claim {
        Claim::Absent => Ok(None),
        Claim::Number(n) => Ok(Some(*n)),
        _ => Err(VerifyError::Malformed("a time claim is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn claims(v: Value) -> Payload<'static> {
        let text: &'static str = Box::leak(v.to_string().into_boxed_str());
        Payload::read(text.as_bytes()).expect("a JSON object")
    }

    #[test]
    fn exp_is_honoured_with_leeway() {
        let c = claims(json!({"exp": 1000}));
        assert!(check_times(&c, 1029, 30, Expiry::Required).is_ok());
        assert_eq!(
            check_times(&c, 1030, 30, Expiry::Required).err(),
            Some(VerifyError::Expired)
        );
    }

    #[test]
    fn exp_is_required_unless_optional() {
        let c = claims(json!({"iat": 1000}));
        assert_eq!(
            check_times(&c, 1000, 0, Expiry::Required)
                .err()
                .map(|e| e.kind()),
            Some("invalid")
        );
        assert!(check_times(&c, 1000, 0, Expiry::Optional).is_ok());
    }

    #[test]
    fn an_expired_token_passes_within_the_window_only() {
        let c = claims(json!({"exp": 1000}));
        assert!(check_times(&c, 1000 + 3600, 30, Expiry::PastWithin(3600)).is_ok());
        assert_eq!(
            check_times(&c, 1000 + 3630, 30, Expiry::PastWithin(3600)).err(),
            Some(VerifyError::Expired)
        );
    }

    #[test]
    fn nbf_in_the_future_beyond_leeway_is_refused() {
        let c = claims(json!({"exp": 5000, "nbf": 1100}));
        assert!(check_times(&c, 1070, 30, Expiry::Required).is_ok());
        assert_eq!(
            check_times(&c, 1069, 30, Expiry::Required)
                .err()
                .map(|e| e.kind()),
            Some("invalid")
        );
    }

    #[test]
    fn iat_in_the_future_beyond_leeway_is_refused() {
        let c = claims(json!({"exp": 5000, "iat": 1100}));
        assert!(check_times(&c, 1070, 30, Expiry::Required).is_ok());
        assert_eq!(
            check_times(&c, 1069, 30, Expiry::Required)
                .err()
                .map(|e| e.kind()),
            Some("invalid")
        );
    }

    #[test]
    fn time_claims_must_be_numbers() {
        let c = claims(json!({"exp": "5000"}));
        assert_eq!(
            check_times(&c, 1000, 0, Expiry::Required)
                .err()
                .map(|e| e.kind()),
            Some("malformed")
        );
    }

    #[test]
    fn aud_may_be_a_string_or_an_array() {
        let accepted = vec!["api".to_string()];
        assert!(check_audience(&claims(json!({"aud": "api"})), &accepted).is_ok());
        assert!(check_audience(&claims(json!({"aud": ["web", "api"]})), &accepted).is_ok());
        assert!(check_audience(&claims(json!({"aud": ["web"]})), &accepted).is_err());
        assert!(check_audience(&claims(json!({})), &accepted).is_err());
    }
}
