//! Taking a compact JWS (`header.payload.signature`) apart, before anything
//! is trusted: size limit first, then exactly three non-empty base64url
//! segments, a JSON object header with a string `alg`, and a JSON object
//! payload. Headers that would change how the token is read (`crit`, and the
//! JWE members `enc`/`zip`) are refused. Key-locating headers (`jku`, `x5u`,
//! `jwk`, `x5c`, `x5t`) are ignored: keys come only from configuration.

use super::error::VerifyError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The members of the protected header this gateway looks at.
#[derive(Deserialize)]
pub(crate) struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    enc: Option<IgnoredAny>,
    #[serde(default)]
    zip: Option<IgnoredAny>,
}

/// A token split and decoded, signature not yet checked.
pub(crate) struct Compact<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub header: Header,
    pub claims: Map<String, Value>,
    pub signature: Vec<u8>,
}

pub(crate) fn parse(token: &str) -> Result<Compact<'_>, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::Malformed("token is larger than 8 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "a token has three dot-separated segments",
        ));
    };
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(VerifyError::Malformed("a token segment is empty"));
    }
    let header_bytes = decode(h)?;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| VerifyError::Malformed("the header is not a JSON object with a string alg"))?;
    if header.crit.is_some() {
        return Err(VerifyError::invalid(
            "the header names critical extensions (crit) this gateway does not understand",
        ));
    }
    if header.enc.is_some() || header.zip.is_some() {
        return Err(VerifyError::Malformed(
            "encrypted or compressed tokens are not accepted",
        ));
    }
    let claims: Map<String, Value> = serde_json::from_slice(&decode(p)?)
        .map_err(|_| VerifyError::Malformed("the payload is not a JSON object"))?;
    let signature = decode(s)?;
    Ok(Compact {
        signing_input: &token.as_bytes()[..h.len() + 1 + p.len()],
        header,
        claims,
        signature,
    })
}

fn decode(segment: &str) -> Result<Vec<u8>, VerifyError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| VerifyError::Malformed("a segment is not base64url without padding"))
}
