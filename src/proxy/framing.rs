//! Refuses requests whose framing or header block is unsafe to forward:
//! both Content-Length and Transfer-Encoding (a smuggling shape; Pingora
//! silently keeps only Transfer-Encoding, so the raw header is consulted),
//! any Transfer-Encoding other than exactly `chunked` (`chunked, chunked`,
//! `gzip, chunked`: codings an upstream may read differently), and header
//! blocks over the configured count or size.

use crate::config::Limits;
use pingora_proxy::Session;

/// `Some((status, message))` when the request must be refused.
pub fn check(session: &Session, limits: &Limits) -> Option<(u16, &'static str)> {
    let req = session.req_header();
    if req.headers.len() > limits.max_header_count {
        return Some((431, "Too many request headers"));
    }
    if req.headers.contains_key(http::header::TRANSFER_ENCODING) && !is_plain_chunked(&req.headers)
    {
        return Some((400, "Transfer-Encoding must be exactly chunked"));
    }
    let h1 = session.as_downstream().as_http1();
    if let Some(h1) = h1 {
        let raw = h1.get_headers_raw_bytes();
        if raw.len() as u64 > limits.max_header_bytes.bytes() {
            return Some((431, "Request header block too large"));
        }
        if req.headers.contains_key(http::header::TRANSFER_ENCODING)
            && has_content_length_line(&raw)
        {
            return Some((400, "Request has both Content-Length and Transfer-Encoding"));
        }
    }
    None
}

/// Whether all Transfer-Encoding fields together say just `chunked`.
fn is_plain_chunked(headers: &http::HeaderMap) -> bool {
    let mut codings = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|c| c.trim_ascii())
        .filter(|c| !c.is_empty());
    matches!((codings.next(), codings.next()), (Some(c), None) if c.eq_ignore_ascii_case(b"chunked"))
}

/// Whether a raw HTTP/1 header block has a Content-Length field line.
fn has_content_length_line(raw: &[u8]) -> bool {
    raw.split(|&b| b == b'\n').skip(1).any(|line| {
        let name = line.split(|&b| b == b':').next().unwrap_or(&[]);
        name.eq_ignore_ascii_case(b"content-length")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_length_line_is_found_in_any_case() {
        assert!(has_content_length_line(
            b"POST / HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!has_content_length_line(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        ));
        assert!(!has_content_length_line(
            b"GET /content-length: HTTP/1.1\r\n\r\n"
        ));
    }

    #[test]
    fn only_a_single_chunked_coding_is_plain() {
        let te = |values: &[&str]| {
            let mut h = http::HeaderMap::new();
            for v in values {
                h.append(http::header::TRANSFER_ENCODING, v.parse().unwrap());
            }
            is_plain_chunked(&h)
        };
        assert!(te(&["chunked"]));
        assert!(te(&["Chunked "]));
        assert!(!te(&["chunked, chunked"]));
        assert!(!te(&["chunked", "chunked"]));
        assert!(!te(&["gzip, chunked"]));
        assert!(!te(&["gzip"]));
    }
}
