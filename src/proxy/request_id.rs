//! A request's id: the one a trusted proxy sent, when it is sane, else a
//! new random UUID. Kept as a header value, built once per request, so the
//! upstream request, the response and the access log share one buffer
//! instead of each copying (and re-checking) the text.

use super::forwarding::X_REQUEST_ID;
use super::header_edit::HeaderEdit;
use bytes::Bytes;
use http::HeaderValue;
use std::fmt;

/// The longest incoming id believed from a trusted proxy.
const MAX_INCOMING_LEN: usize = 128;

#[derive(Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A new id: a UUID v4 from the thread's CSPRNG (no system call), in
    /// its lower-case hyphenated form, without going through `fmt`.
    pub fn generate() -> Self {
        let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text);
        // One allocation, shared by every clone; hex digits and hyphens are
        // always a valid header value.
        let value = HeaderValue::from_maybe_shared(Bytes::from_owner(text))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        RequestId(value)
    }

    /// The id a trusted proxy sent, if it is sane (1 to 128 visible ASCII
    /// characters), else a new one, or none when the gateway makes no ids
    /// (`server.request_ids: false`). An untrusted client's id is ignored.
    pub fn for_request(incoming: Option<&HeaderValue>, peer_trusted: bool, generate: bool) -> Self {
        match incoming {
            Some(id) if peer_trusted && is_sane(id.as_bytes()) => RequestId(id.clone()),
            _ => Self::generate_if(generate),
        }
    }

    /// A new id, or none when the gateway makes no ids.
    pub fn generate_if(generate: bool) -> Self {
        if generate {
            Self::generate()
        } else {
            Self::none()
        }
    }

    /// No id: the state before a request's head has been read, and a
    /// request's when the gateway makes none and no trusted proxy sent one.
    pub fn none() -> Self {
        RequestId(HeaderValue::from_static(""))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The header value, to set on a request or response (shares the buffer).
    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }

    /// Names the id on a response (proxied or the gateway's own) as
    /// X-Request-Id; a request without an id leaves the response as it is.
    pub fn set_on(&self, resp: &mut impl HeaderEdit) {
        if !self.is_empty() {
            resp.set(&X_REQUEST_ID, self.header());
        }
    }

    /// The id as text; every id is visible ASCII, so this is never lossy.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.0.as_bytes()).unwrap_or("")
    }
}

fn is_sane(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_INCOMING_LEN && id.iter().all(u8::is_ascii_graphic)
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &'static str) -> HeaderValue {
        HeaderValue::from_static(text)
    }

    #[test]
    fn a_trusted_proxys_sane_id_is_kept() {
        let id = RequestId::for_request(Some(&header("abc-123")), true, true);
        assert_eq!(id.as_str(), "abc-123");
        assert_eq!(id.header(), "abc-123");
    }

    #[test]
    fn an_untrusted_clients_id_is_replaced() {
        let id = RequestId::for_request(Some(&header("abc-123")), false, true);
        assert_ne!(id.as_str(), "abc-123");
        assert!(uuid::Uuid::parse_str(id.as_str()).is_ok());
    }

    #[test]
    fn an_insane_id_from_a_trusted_proxy_is_replaced() {
        let long = "x".repeat(MAX_INCOMING_LEN + 1);
        let non_ascii = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        for bad in [
            header(""),
            header("has spaces"),
            HeaderValue::from_str(&long).unwrap(),
            non_ascii,
        ] {
            let id = RequestId::for_request(Some(&bad), true, true);
            assert_ne!(id.header(), bad);
            assert!(uuid::Uuid::parse_str(id.as_str()).is_ok(), "{bad:?}");
        }
        let longest = "y".repeat(MAX_INCOMING_LEN);
        let kept = HeaderValue::from_str(&longest).unwrap();
        assert_eq!(
            RequestId::for_request(Some(&kept), true, true).as_str(),
            longest
        );
    }

    #[test]
    fn a_generated_id_is_a_lower_case_uuid_v4_and_new_each_time() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a.as_str(), b.as_str());
        let parsed = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a.as_str(), parsed.hyphenated().to_string());
        assert_eq!(a.to_string(), a.as_str());
    }

    #[test]
    fn clones_share_one_buffer() {
        let id = RequestId::generate();
        let (a, b) = (id.header(), id.header());
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
    }

    #[test]
    fn with_ids_off_only_a_trusted_proxys_sane_id_is_kept() {
        let edge = RequestId::for_request(Some(&header("edge-7")), true, false);
        assert_eq!(edge.as_str(), "edge-7");
        for (incoming, trusted) in [
            (Some(header("edge-7")), false),
            (Some(header("has spaces")), true),
            (None, true),
            (None, false),
        ] {
            let id = RequestId::for_request(incoming.as_ref(), trusted, false);
            assert!(id.is_empty(), "{incoming:?} trusted={trusted}: {id:?}");
        }
        assert!(RequestId::generate_if(false).is_empty());
        assert!(!RequestId::generate_if(true).is_empty());
    }

    #[test]
    fn before_a_request_there_is_no_id() {
        assert!(RequestId::none().is_empty());
        assert!(!RequestId::generate().is_empty());
    }
}
