//! Taking a compact JWS (`header.payload.signature`) apart, before anything
//! is trusted: size limit first, then exactly three non-empty base64url
//! segments and a JSON object header with a string `alg`. Headers that would
//! change how the token is read (`crit`, and the JWE members `enc`/`zip`)
//! are refused. Key-locating headers (`jku`, `x5u`, `jwk`, `x5c`, `x5t`) are
//! ignored: keys come only from configuration. The payload is only decoded
//! and seen to be braced like an object here; its JSON is read
//! (`payload.rs`) once the signature verified.

use super::algorithms::alg_name;
use super::error::VerifyError;
use super::signing_keys::LocalKey;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::borrow::Cow;
use std::mem::MaybeUninit;

/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Decoded segments up to this many bytes fit an `OnStack` buffer; longer
/// ones are decoded into its heap buffer.
pub(crate) const DECODED_ON_STACK: usize = 1024;

/// Where a token's segments are decoded: a buffer of `STACK` bytes where
/// it is declared, or a heap one for more. Neither is zeroed first: the
/// decoder writes each byte before it can be read.
pub(crate) struct DecodeSpace<const STACK: usize> {
    stack: [MaybeUninit<u8>; STACK],
    heap: Vec<u8>,
}

/// For a synchronous caller: the usual token decodes on the thread's stack.
pub(crate) type OnStack = DecodeSpace<DECODED_ON_STACK>;

/// For a caller that awaits while the decoded token is alive: a stack
/// buffer would sit inside its future (moved and held with it), so the
/// token decodes on the heap.
pub(crate) type OnHeap = DecodeSpace<0>;

impl<const STACK: usize> DecodeSpace<STACK> {
    pub(crate) fn new() -> Self {
        DecodeSpace {
            stack: [MaybeUninit::uninit(); STACK],
            heap: Vec::new(),
        }
    }

    /// `len` bytes to decode into.
    fn take(&mut self, len: usize) -> &mut [MaybeUninit<u8>] {
        if len <= STACK {
            &mut self.stack[..len]
        } else {
            self.heap.reserve_exact(len);
            &mut self.heap.spare_capacity_mut()[..len]
        }
    }
}

/// The members of the protected header this gateway looks at.
#[derive(Deserialize)]
pub(crate) struct Header<'a> {
    #[serde(borrow)]
    pub alg: Cow<'a, str>,
    #[serde(default, borrow)]
    pub kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    enc: Option<IgnoredAny>,
    #[serde(default)]
    zip: Option<IgnoredAny>,
    /// The key of this gateway whose header segment this exactly is.
    #[serde(skip)]
    pub own_key: Option<&'a LocalKey>,
}

/// A token split and decoded, signature not yet checked, payload not yet read.
pub(crate) struct Compact<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    pub header: Header<'a>,
    /// The decoded payload: JSON, not yet read.
    pub payload: &'a [u8],
    pub signature: &'a [u8],
}

impl<'a> Header<'a> {
    /// The header of a first segment recognised as the one `key` writes
    /// (`alg`, `kid`, `typ`, nothing else).
    pub(crate) fn known(key: &'a LocalKey) -> Self {
        Header {
            alg: Cow::Borrowed(alg_name(key.alg)),
            kid: Some(Cow::Borrowed(key.kid)),
            crit: None,
            enc: None,
            zip: None,
            own_key: Some(key),
        }
    }
}

/// Splits `token` and decodes its three segments into `space`, reading
/// only the header. `recognise` is asked about the first segment: when it
/// knows that exact text (one of this gateway's own header segments) its
/// header is taken, since the same bytes always read the same; otherwise
/// the segment is decoded and read.
pub(crate) fn parse<'a, const STACK: usize>(
    token: &'a str,
    space: &'a mut DecodeSpace<STACK>,
    recognise: impl FnOnce(&str) -> Option<Header<'a>>,
) -> Result<Compact<'a>, VerifyError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(VerifyError::Malformed("token is larger than 8 KiB"));
    }
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(VerifyError::Malformed(
            "a token has three dot-separated segments",
        ));
    };
    // Dots are ASCII, so these are character boundaries.
    let (h, p, s) = (
        &token[..first],
        &token[first + 1..second],
        &token[second + 1..],
    );
    if h.is_empty() || p.is_empty() || s.is_empty() {
        return Err(VerifyError::Malformed("a token segment is empty"));
    }
    let known = recognise(h);
    let estimate = base64::decoded_len_estimate;
    let header_len = if known.is_some() {
        0
    } else {
        estimate(h.len())
    };
    let buf = space.take(header_len + estimate(p.len()) + estimate(s.len()));
    let (header_buf, rest) = buf.split_at_mut(header_len);
    let (payload_buf, signature_buf) = rest.split_at_mut(estimate(p.len()));

    let header = match known {
        Some(header) => header,
        None => read_header(decode(h, header_buf)?)?,
    };
    let payload = decode(p, payload_buf)?;
    if !looks_like_object(payload) {
        return Err(VerifyError::Malformed("the payload is not a JSON object"));
    }
    let signature = decode(s, signature_buf)?;
    Ok(Compact {
        signing_input: &token.as_bytes()[..second],
        header,
        payload,
        signature,
    })
}

/// Reads a decoded header: a JSON object with a string `alg`, and none of
/// the members that would change how the token is read.
fn read_header(bytes: &[u8]) -> Result<Header<'_>, VerifyError> {
    let header: Header = serde_json::from_slice(bytes)
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
    Ok(header)
}

/// Whether `json` is braced like an object (JSON whitespace aside): the one
/// look at the payload before the signature verified. `payload.rs` reads it
/// in full afterwards.
fn looks_like_object(json: &[u8]) -> bool {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    json.iter().find(|b| !is_space(b)) == Some(&b'{')
        && json.iter().rev().find(|b| !is_space(b)) == Some(&b'}')
}

/// Decodes `segment` into `out` (at least `decoded_len_estimate` long).
/// Strict base64url without padding (non-zero trailing bits refused), with
/// the SIMD decoder of `base64-simd`: on a token's few hundred bytes it
/// takes a fraction of the time of the scalar `base64` engine, and decoding
/// is a tenth of a verification otherwise.
fn decode<'a>(segment: &str, out: &'a mut [MaybeUninit<u8>]) -> Result<&'a [u8], VerifyError> {
    let bad = || VerifyError::Malformed("a segment is not base64url without padding");
    let engine = base64_simd::URL_SAFE_NO_PAD;
    let len = engine
        .decoded_length(segment.as_bytes())
        .map_err(|_| bad())?;
    let out = out.get_mut(..len).ok_or_else(bad)?;
    engine
        .decode(segment.as_bytes(), base64_simd::Out::from_uninit_slice(out))
        .map(|decoded| &*decoded)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_recognised_header_segment_is_taken_as_known_and_any_other_is_read() {
        let own = b64(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#);
        let alg = crate::config::Algorithm::HS256;
        let key = LocalKey {
            kid: "k1",
            alg,
            verifier: super::super::algorithms::KeyVerifier::hmac(alg, &[7; 32]).unwrap(),
            signer: None,
            public_jwk: None,
            header_segment: own.as_str().into(),
        };
        let recognise = |h: &str| (h == own).then(|| Header::known(&key));
        let rest = format!("{}.{}", b64(r#"{"sub":"u"}"#), b64("sig"));

        let (mut buf, mut buf2, mut buf3) = (OnStack::new(), OnStack::new(), OnHeap::new());
        let token = format!("{own}.{rest}");
        let parsed = parse(&token, &mut buf, recognise).unwrap();
        assert_eq!(
            (&*parsed.header.alg, parsed.header.kid.as_deref()),
            ("HS256", Some("k1"))
        );
        assert!(parsed.header.own_key.is_some_and(|k| std::ptr::eq(k, &key)));
        assert_eq!(parsed.payload, br#"{"sub":"u"}"#);
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(
            parsed.signing_input,
            token.rsplit_once('.').unwrap().0.as_bytes()
        );

        // The same header spelled differently is decoded and read.
        let spaced = b64(r#"{ "alg": "HS256", "kid": "other" }"#);
        let token = format!("{spaced}.{rest}");
        let parsed = parse(&token, &mut buf2, recognise).unwrap();
        assert_eq!(parsed.header.kid.as_deref(), Some("other"));
        assert!(parsed.header.own_key.is_none());

        // A read header is still refused for what it says.
        let crit = b64(r#"{"alg":"HS256","crit":["b64"]}"#);
        let token = format!("{crit}.{rest}");
        assert!(parse(&token, &mut buf3, recognise).is_err());
    }

    #[test]
    fn a_token_has_exactly_three_non_empty_segments() {
        let mut buf = OnStack::new();
        for bad in ["a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "abc", ""] {
            assert!(
                matches!(
                    parse(bad, &mut buf, |_| None),
                    Err(VerifyError::Malformed(_))
                ),
                "{bad:?} was accepted"
            );
        }
        // A dot inside the payload segment is told as a segment count,
        // also when the header before it reads well.
        let header = b64(r#"{"alg":"HS256"}"#);
        for bad in [
            format!("{header}.e30.e30.c2ln"),
            format!("{header}.e30.e30.e30.c2ln"),
        ] {
            assert!(
                matches!(
                    parse(&bad, &mut buf, |_| None),
                    Err(VerifyError::Malformed(
                        "a token has three dot-separated segments"
                    ))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_token_too_long_for_the_stack_buffer_is_decoded_on_the_heap() {
        let claims = format!(r#"{{"sub":"{}"}}"#, "x".repeat(2 * DECODED_ON_STACK));
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256"}"#),
            b64(&claims),
            b64("sig")
        );
        let mut space = OnStack::new();
        let parsed = parse(&token, &mut space, |_| None).unwrap();
        assert_eq!(parsed.payload, claims.as_bytes());
        assert_eq!(parsed.signature, b"sig");
        // And any token, on the heap only.
        let mut space = OnHeap::new();
        let parsed = parse(&token, &mut space, |_| None).unwrap();
        assert_eq!(parsed.payload, claims.as_bytes());
    }

    #[test]
    fn segments_decode_only_as_strict_base64url_without_padding() {
        let mut out = [MaybeUninit::uninit(); 8];
        assert_eq!(decode("QQ", &mut out).unwrap(), b"A");
        assert_eq!(decode("-_8", &mut out).unwrap(), [0xfb, 0xff]);
        // The same byte with non-zero trailing bits: another spelling of
        // the same token, refused.
        assert!(decode("QR", &mut out).is_err());
        for bad in ["QQ==", "+/8", "Q", "QQ.", "Q Q"] {
            assert!(decode(bad, &mut out).is_err(), "{bad:?} was accepted");
        }
    }
}
