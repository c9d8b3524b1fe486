//! Judges a raw HTTP/1 request head before Pingora parses it: finds where
//! the head ends, and refuses every shape that is unsafe to forward or that
//! Pingora's parser would answer with an empty 400 (bare LF line endings,
//! obs-fold, duplicate or invalid Content-Length, Content-Length with
//! Transfer-Encoding, any Transfer-Encoding but exactly `chunked`, chunked
//! HTTP/1.0, more than one Host, header blocks over the configured limits).
//! The connection loop that reads the bytes is `proxy::connection`.

/// Pingora's parser stops at this many header fields; a limit above it
/// could never be reached.
pub const MAX_HEADER_FIELDS: usize = 256;

/// Why a request head is refused: the status, the message of the JSON
/// envelope, and the `reason` label of `requests_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: &'static str,
    pub reason: &'static str,
}

const fn malformed(message: &'static str) -> Refusal {
    Refusal {
        status: 400,
        message,
        reason: "malformed",
    }
}

const fn framing(message: &'static str) -> Refusal {
    Refusal {
        status: 400,
        message,
        reason: "framing",
    }
}

pub const BARE_LF: Refusal = malformed("Request line endings must be CRLF");
pub const BAD_REQUEST_LINE: Refusal = malformed("Malformed request line");
pub const BAD_HEADER_FIELD: Refusal =
    malformed("Malformed header field (obs-fold and stray characters are refused)");
pub const HOST_COUNT: Refusal = malformed("An HTTP/1.1 request needs exactly one Host header");
pub const HEADER_TIMEOUT: Refusal = Refusal {
    status: 408,
    message: "Request header not received in time",
    reason: "header_timeout",
};
pub const HEAD_TOO_LARGE: Refusal = Refusal {
    status: 431,
    message: "Request header block too large",
    reason: "header_too_large",
};
pub const TOO_MANY_HEADERS: Refusal = Refusal {
    status: 431,
    message: "Too many request headers",
    reason: "too_many_headers",
};
pub const CONTENT_LENGTH_COUNT: Refusal = framing("Request has more than one Content-Length");
pub const CONTENT_LENGTH_VALUE: Refusal = framing("Content-Length must be a decimal number");
pub const CL_WITH_TE: Refusal = framing("Request has both Content-Length and Transfer-Encoding");
pub const TE_NOT_CHUNKED: Refusal = framing("Transfer-Encoding must be exactly chunked");
pub const TE_IN_HTTP10: Refusal = framing("Transfer-Encoding is not allowed in HTTP/1.0");

/// The limits a head is judged by (from `limits` in the config).
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_bytes: usize,
    pub max_fields: usize,
}

/// Where the search for the end of a head stands, across reads.
#[derive(Debug, Default, Clone, Copy)]
pub struct HeadScan {
    /// Bytes already looked at.
    scanned: usize,
    /// Where the line being received starts.
    line_start: usize,
    /// Whether a non-empty line (the request line) has been seen.
    request_line_seen: bool,
}

/// Empty lines tolerated before the request line (RFC 9112 section 2.2
/// asks for at least one).
const MAX_LEADING_EMPTY_LINES: usize = 4;

impl HeadScan {
    /// Looks at the bytes received so far: `Ok(Some(len))` when the head is
    /// complete and `len` bytes long, `Ok(None)` when more are needed.
    /// A bare LF is refused as soon as it arrives.
    pub fn advance(&mut self, buf: &[u8], limits: &HeadLimits) -> Result<Option<usize>, Refusal> {
        while let Some(offset) = memchr::memchr(b'\n', &buf[self.scanned..]) {
            let lf = self.scanned + offset;
            if lf == 0 || buf[lf - 1] != b'\r' {
                return Err(BARE_LF);
            }
            let empty = lf - 1 == self.line_start;
            self.scanned = lf + 1;
            self.line_start = lf + 1;
            if !empty {
                self.request_line_seen = true;
            } else if self.request_line_seen {
                if self.scanned > limits.max_bytes {
                    return Err(HEAD_TOO_LARGE);
                }
                return Ok(Some(self.scanned));
            } else if self.scanned > 2 * MAX_LEADING_EMPTY_LINES {
                return Err(BAD_REQUEST_LINE);
            }
        }
        self.scanned = buf.len();
        if buf.len() > limits.max_bytes {
            return Err(HEAD_TOO_LARGE);
        }
        Ok(None)
    }
}

/// Judges a complete head (as found by [`HeadScan`]).
pub fn check(head: &[u8], limits: &HeadLimits) -> Result<(), Refusal> {
    let mut rest = head;
    while let Some(after) = rest.strip_prefix(b"\r\n") {
        rest = after;
    }
    // Every LF of a head follows a CR (`HeadScan` refuses bare LFs).
    let line_end = match memchr::memchr(b'\n', rest) {
        Some(lf) if lf > 0 && rest[lf - 1] == b'\r' => lf - 1,
        _ => return Err(BAD_REQUEST_LINE),
    };
    let http10 = request_line_is_http10(&rest[..line_end])?;
    let fields = &rest[line_end + 2..];

    // Most heads have a few fields: a small array first (each entry is
    // cleared before parsing), the full one only for a head that overflows it.
    let mut few = [httparse::EMPTY_HEADER; FEW_FIELDS];
    match httparse::parse_headers(fields, &mut few) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut all = [httparse::EMPTY_HEADER; MAX_HEADER_FIELDS];
            check_fields(
                fields_of(httparse::parse_headers(fields, &mut all))?,
                limits,
                http10,
            )
        }
        parsed => check_fields(fields_of(parsed)?, limits, http10),
    }
}

/// The size of the first field array; see [`check`].
const FEW_FIELDS: usize = 24;

/// The parsed fields, or the refusal httparse's answer means.
fn fields_of<'h, 'b>(
    parsed: httparse::Result<(usize, &'h [httparse::Header<'b>])>,
) -> Result<&'h [httparse::Header<'b>], Refusal> {
    match parsed {
        Ok(httparse::Status::Complete((_, headers))) => Ok(headers),
        Ok(httparse::Status::Partial) => Err(BAD_HEADER_FIELD),
        Err(httparse::Error::TooManyHeaders) => Err(TOO_MANY_HEADERS),
        Err(_) => Err(BAD_HEADER_FIELD),
    }
}

/// The framing and Host rules over a head's parsed fields.
fn check_fields(
    headers: &[httparse::Header<'_>],
    limits: &HeadLimits,
    http10: bool,
) -> Result<(), Refusal> {
    if headers.len() > limits.max_fields {
        return Err(TOO_MANY_HEADERS);
    }
    let mut content_lengths = 0;
    let mut hosts = 0;
    let mut transfer_encoding = TransferCodings::None;
    for h in headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            content_lengths += 1;
            if !is_decimal(h.value) {
                return Err(CONTENT_LENGTH_VALUE);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = transfer_encoding.add(h.value);
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        }
    }
    if content_lengths > 1 {
        return Err(CONTENT_LENGTH_COUNT);
    }
    if transfer_encoding != TransferCodings::None {
        if content_lengths > 0 {
            return Err(CL_WITH_TE);
        }
        if http10 {
            return Err(TE_IN_HTTP10);
        }
        if transfer_encoding != TransferCodings::Chunked {
            return Err(TE_NOT_CHUNKED);
        }
    }
    if hosts > 1 || (hosts == 0 && !http10) {
        return Err(HOST_COUNT);
    }
    Ok(())
}

/// `method SP request-target SP HTTP/1.x`: whether the version is 1.0.
/// The target is left to Pingora, which percent-escapes what it must.
fn request_line_is_http10(line: &[u8]) -> Result<bool, Refusal> {
    let method_end = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(BAD_REQUEST_LINE)?;
    let version_start = line
        .iter()
        .rposition(|&b| b == b' ')
        .ok_or(BAD_REQUEST_LINE)?
        + 1;
    let method = &line[..method_end];
    if method.is_empty() || !method.iter().all(|&b| is_token_byte(b)) {
        return Err(BAD_REQUEST_LINE);
    }
    if version_start <= method_end + 1 {
        return Err(BAD_REQUEST_LINE); // no request target
    }
    match &line[version_start..] {
        b"HTTP/1.1" => Ok(false),
        b"HTTP/1.0" => Ok(true),
        _ => Err(BAD_REQUEST_LINE),
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_decimal(value: &[u8]) -> bool {
    !value.is_empty() && value.len() <= 18 && value.iter().all(u8::is_ascii_digit)
}

/// What all Transfer-Encoding fields of a request say together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransferCodings {
    None,
    /// Exactly one coding, `chunked`.
    Chunked,
    /// Anything else: other codings, stacked codings, empty values.
    Other,
}

impl TransferCodings {
    fn add(self, value: &[u8]) -> Self {
        let mut next = self;
        let mut any = false;
        for coding in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            if coding.is_empty() {
                continue;
            }
            any = true;
            next = match next {
                TransferCodings::None if coding.eq_ignore_ascii_case(b"chunked") => {
                    TransferCodings::Chunked
                }
                _ => TransferCodings::Other,
            };
        }
        if any {
            next
        } else {
            TransferCodings::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_bytes: 1024,
        max_fields: 5,
    };

    fn judge(raw: &str) -> Result<(), Refusal> {
        let mut scan = HeadScan::default();
        let len = scan
            .advance(raw.as_bytes(), &LIMITS)?
            .expect("the head is complete");
        check(&raw.as_bytes()[..len], &LIMITS)
    }

    #[test]
    fn heads_with_more_fields_than_the_first_array_are_judged_in_full() {
        let limits = HeadLimits {
            max_bytes: 8192,
            max_fields: 100,
        };
        let many: String = (0..40).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
        let head = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(check(head.as_bytes(), &limits), Ok(()));
        let late = format!(
            "GET / HTTP/1.1\r\nHost: a\r\n{many}Content-Length: 1\r\nContent-Length: 2\r\n\r\n"
        );
        assert_eq!(check(late.as_bytes(), &limits), Err(CONTENT_LENGTH_COUNT));
        let over = HeadLimits {
            max_fields: 30,
            ..limits
        };
        assert_eq!(check(head.as_bytes(), &over), Err(TOO_MANY_HEADERS));
        let too_many: String = (0..300).map(|i| format!("X-{i}: 1\r\n")).collect();
        let head = format!("GET / HTTP/1.1\r\nHost: a\r\n{too_many}\r\n");
        let huge = HeadLimits {
            max_bytes: 65536,
            max_fields: MAX_HEADER_FIELDS,
        };
        assert_eq!(check(head.as_bytes(), &huge), Err(TOO_MANY_HEADERS));
    }

    #[test]
    fn an_ordinary_request_passes() {
        assert_eq!(
            judge("GET /x?y=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n"),
            Ok(())
        );
        assert_eq!(
            judge("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
            Ok(())
        );
        assert_eq!(
            judge("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"),
            Ok(())
        );
        assert_eq!(judge("GET / HTTP/1.0\r\n\r\n"), Ok(()), "1.0 needs no Host");
        assert_eq!(judge("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), Ok(()));
    }

    #[test]
    fn the_head_ends_at_the_first_empty_line_even_across_reads() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody";
        let mut scan = HeadScan::default();
        for end in 1..raw.len() - 4 {
            assert_eq!(scan.advance(&raw[..end], &LIMITS), Ok(None), "at {end}");
        }
        assert_eq!(scan.advance(raw, &LIMITS), Ok(Some(raw.len() - 4)));
    }

    #[test]
    fn a_bare_lf_is_refused_as_soon_as_it_arrives() {
        let mut scan = HeadScan::default();
        assert_eq!(scan.advance(b"GET / HTTP/1.1\nHo", &LIMITS), Err(BARE_LF));
        assert_eq!(judge("GET / HTTP/1.1\r\nHost: a\n\r\n"), Err(BARE_LF));
        assert_eq!(judge("GET / HTTP/1.1\r\nHost: a\r\n\n"), Err(BARE_LF));
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let cases = [
            (
                "Content-Length: 4\r\nTransfer-Encoding: chunked",
                CL_WITH_TE,
            ),
            (
                "Transfer-Encoding: chunked\r\nContent-Length: 4",
                CL_WITH_TE,
            ),
            (
                "Content-Length: 4\r\nContent-Length: 5",
                CONTENT_LENGTH_COUNT,
            ),
            (
                "Content-Length: 4\r\nContent-Length: 4",
                CONTENT_LENGTH_COUNT,
            ),
            ("Content-Length: 4, 4", CONTENT_LENGTH_VALUE),
            ("Content-Length: +4", CONTENT_LENGTH_VALUE),
            ("Content-Length: 0x10", CONTENT_LENGTH_VALUE),
            ("Transfer-Encoding: chunked, chunked", TE_NOT_CHUNKED),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
                TE_NOT_CHUNKED,
            ),
            ("Transfer-Encoding: gzip", TE_NOT_CHUNKED),
            ("Transfer-Encoding: gzip, chunked", TE_NOT_CHUNKED),
            ("Transfer-Encoding: chunked, gzip", TE_NOT_CHUNKED),
            ("Transfer-Encoding: ,", TE_NOT_CHUNKED),
            ("X-Folded: a\r\n b", BAD_HEADER_FIELD),
            ("X-Folded: a\r\n\tb", BAD_HEADER_FIELD),
            ("Content-Length : 4", BAD_HEADER_FIELD),
            ("Host: b", HOST_COUNT),
        ];
        for (fields, refusal) in cases {
            let raw = format!("POST /x HTTP/1.1\r\nHost: a\r\n{fields}\r\n\r\n");
            assert_eq!(judge(&raw), Err(refusal), "{fields:?}");
        }
        assert_eq!(
            judge("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(TE_IN_HTTP10)
        );
        assert_eq!(judge("GET / HTTP/1.1\r\n\r\n"), Err(HOST_COUNT));
    }

    #[test]
    fn request_lines_must_be_http1() {
        for line in [
            "GET / HTTP/2.0",
            "PRI * HTTP/2.0",
            "GET /",
            "GET HTTP/1.1",
            "G(T / HTTP/1.1",
            " / HTTP/1.1",
        ] {
            let raw = format!("{line}\r\nHost: a\r\n\r\n");
            assert_eq!(judge(&raw), Err(BAD_REQUEST_LINE), "{line:?}");
        }
        // Spaces inside the target are Pingora's to escape, not a refusal.
        assert_eq!(judge("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), Ok(()));
    }

    #[test]
    fn header_limits_give_431() {
        let mut many = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..5 {
            many.push_str(&format!("X-{i}: {i}\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(judge(&many), Err(TOO_MANY_HEADERS));

        let big = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "y".repeat(1024)
        );
        assert_eq!(judge(&big), Err(HEAD_TOO_LARGE));
        let mut scan = HeadScan::default();
        let unfinished = format!("GET / HTTP/1.1\r\nX: {}", "y".repeat(1100));
        assert_eq!(
            scan.advance(unfinished.as_bytes(), &LIMITS),
            Err(HEAD_TOO_LARGE),
            "refused before the head ends"
        );
    }
}
