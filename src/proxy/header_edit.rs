//! How the proxy sets and removes headers on a head on its way through:
//! through Pingora's head, keeping every name's case as the client or
//! upstream wrote it (`server.preserve_header_case: true`), or on the head's
//! plain header map (the default).
//!
//! Pingora's `insert_header` and `remove_header` keep a second map with each
//! name's original case beside the value map and parse the name anew on
//! every insert (an allocation for any name outside the standard set); a head
//! cloned from the client's has no spare room, so the first insert regrows
//! both maps. Taken apart into `http`'s parts, a head is one map: room is made
//! once and prepared names go in as they are. What it costs: names leave in
//! lower case (title case for the few Pingora knows, such as Content-Type and
//! Host), as HAProxy and Envoy send them; HTTP names are case-insensitive
//! (RFC 9110 section 5.1).

use http::{HeaderMap, HeaderName, HeaderValue};
use pingora_http::{RequestHeader, ResponseHeader};

/// The edits the proxy makes to a head's headers.
pub trait HeaderEdit {
    fn headers(&self) -> &HeaderMap;
    /// Sets `name` to `value`, replacing every earlier value.
    fn set(&mut self, name: &HeaderName, value: HeaderValue);
    /// Removes every value of `name`.
    fn unset(&mut self, name: &HeaderName);
}

impl HeaderEdit for HeaderMap {
    fn headers(&self) -> &HeaderMap {
        self
    }
    fn set(&mut self, name: &HeaderName, value: HeaderValue) {
        // A map can refuse only past 32,768 entries; the request head limit
        // is far below that.
        let _ = self.try_insert(name.clone(), value);
    }
    fn unset(&mut self, name: &HeaderName) {
        HeaderMap::remove(self, name);
    }
}

/// Pingora's heads edit through Pingora's own insert and remove, which keep
/// each name's case (`server.preserve_header_case`).
macro_rules! head_keeping_case {
    ($head:ty) => {
        impl HeaderEdit for $head {
            fn headers(&self) -> &HeaderMap {
                &self.headers
            }
            fn set(&mut self, name: &HeaderName, value: HeaderValue) {
                let _ = self.insert_header(name.clone(), value);
            }
            fn unset(&mut self, name: &HeaderName) {
                self.remove_header(name);
            }
        }
    };
}

head_keeping_case!(RequestHeader);
head_keeping_case!(ResponseHeader);

/// Runs `edit` on the request head's plain header map with room for
/// `additions` more names, and puts the head back together: same method,
/// target (also one that is not UTF-8 or not in origin form), version,
/// extensions and values; names without their original case.
pub fn plain_request<R>(
    head: &mut RequestHeader,
    additions: usize,
    edit: impl FnOnce(&mut HeaderMap) -> R,
) -> R {
    let verbatim_target = {
        let raw = head.raw_path();
        let from_uri = head.uri.path_and_query().map(|pq| pq.as_str().as_bytes());
        (from_uri != Some(raw)).then(|| raw.to_vec())
    };
    let end_stream = head.send_end_stream();
    let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
    let mut parts: http::request::Parts = std::mem::replace(head, placeholder).into();
    parts.headers.reserve(additions);
    let result = edit(&mut parts.headers);
    *head = RequestHeader::from(parts);
    if let Some(target) = verbatim_target {
        // The target parsed once already, so it parses again.
        let _ = head.set_raw_path(&target);
    }
    if let Some(end_stream) = end_stream {
        head.set_send_end_stream(end_stream);
    }
    result
}

/// Runs `edit` on the response head's plain header map with room for
/// `additions` more names, and puts the head back together: same status,
/// reason phrase, version, extensions and values; names without their
/// original case.
pub fn plain_response<R>(
    head: &mut ResponseHeader,
    additions: usize,
    edit: impl FnOnce(&mut HeaderMap) -> R,
) -> R {
    let reason = match head.get_reason_phrase() {
        Some(reason) if Some(reason) != head.status.canonical_reason() => Some(reason.to_owned()),
        _ => None,
    };
    let placeholder = ResponseHeader::from(http::Response::new(()).into_parts().0);
    let mut parts: http::response::Parts = std::mem::replace(head, placeholder).into();
    parts.headers.reserve(additions);
    let result = edit(&mut parts.headers);
    *head = ResponseHeader::from(parts);
    if reason.is_some() {
        let _ = head.set_reason_phrase(reason.as_deref());
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(head: &RequestHeader) -> String {
        let mut buf = Vec::new();
        head.header_to_h1_wire(&mut buf);
        String::from_utf8(buf).unwrap()
    }

    fn client_request(target: &[u8]) -> RequestHeader {
        let mut head = RequestHeader::build("POST", target, None).unwrap();
        head.append_header("Host", "api.example").unwrap();
        head.append_header("X-Custom-Thing", "one").unwrap();
        head.append_header("X-Custom-Thing", "two").unwrap();
        head.append_header("Content-Length", "3").unwrap();
        head
    }

    #[test]
    fn a_plain_edit_keeps_method_target_and_every_value() {
        let mut head = client_request(b"/orders/7?page=2");
        let added = HeaderName::from_static("x-request-id");
        plain_request(&mut head, 1, |map| {
            map.set(&added, HeaderValue::from_static("abc"));
        });
        assert_eq!(head.method, http::Method::POST);
        assert_eq!(head.raw_path(), b"/orders/7?page=2");
        let custom: Vec<_> = head.headers.get_all("x-custom-thing").iter().collect();
        assert_eq!(custom, ["one", "two"]);
        assert_eq!(head.headers["x-request-id"], "abc");
        assert_eq!(head.headers["content-length"], "3");
        let wire = wire(&head);
        assert!(wire.contains("Host: api.example\r\n"), "{wire}");
        assert!(wire.contains("x-custom-thing: one\r\n"), "{wire}");
        assert!(wire.contains("x-request-id: abc\r\n"), "{wire}");
    }

    #[test]
    fn a_target_that_is_not_utf8_survives_a_plain_edit() {
        let mut head = client_request(b"/files/caf\xe9");
        plain_request(&mut head, 0, |_| {});
        assert_eq!(head.raw_path(), b"/files/caf\xe9");
        assert!(!head.raw_path_is_utf8());
    }

    #[test]
    fn an_absolute_form_target_survives_a_plain_edit() {
        let mut head = client_request(b"http://api.example/orders?x=1");
        plain_request(&mut head, 0, |_| {});
        assert_eq!(head.raw_path(), b"http://api.example/orders?x=1");
    }

    #[test]
    fn preserved_case_edits_keep_the_clients_spelling_of_other_names() {
        let mut head = client_request(b"/");
        let added = HeaderName::from_static("x-request-id");
        head.set(&added, HeaderValue::from_static("abc"));
        head.unset(&http::header::CONTENT_LENGTH);
        let wire = wire(&head);
        assert!(wire.contains("X-Custom-Thing: one\r\n"), "{wire}");
        assert!(
            !wire.to_ascii_lowercase().contains("content-length"),
            "{wire}"
        );
        assert!(wire.contains("x-request-id: abc\r\n"), "{wire}");
    }

    #[test]
    fn a_plain_response_edit_keeps_status_reason_and_values() {
        let mut head = ResponseHeader::build(299, None).unwrap();
        head.set_reason_phrase(Some("Mostly Fine")).unwrap();
        head.append_header("Set-Cookie", "a=1").unwrap();
        head.append_header("Set-Cookie", "b=2").unwrap();
        let added = HeaderName::from_static("x-request-id");
        plain_response(&mut head, 1, |map| {
            map.set(&added, HeaderValue::from_static("abc"));
        });
        assert_eq!(head.status.as_u16(), 299);
        assert_eq!(head.get_reason_phrase(), Some("Mostly Fine"));
        assert_eq!(head.headers.get_all("set-cookie").iter().count(), 2);
        assert_eq!(head.headers["x-request-id"], "abc");
    }

    #[test]
    fn a_canonical_reason_stays_canonical() {
        let mut head = ResponseHeader::build(404, None).unwrap();
        plain_response(&mut head, 0, |_| {});
        assert_eq!(head.get_reason_phrase(), Some("Not Found"));
    }
}
