//! Answers the gateway writes itself: JSON envelopes with the right status,
//! and the mapping of proxy failures to 502/503/504.

use super::request_id::RequestId;
use crate::envelope::error_json;
use bytes::Bytes;
use pingora_error::{Error, ErrorSource, ErrorType};
use pingora_http::ResponseHeader;
use pingora_proxy::Session;

/// Writes a complete JSON response. Extra headers are `(name, value)` pairs.
pub async fn json(
    session: &mut Session,
    status: u16,
    body: Vec<u8>,
    extra: &[(&str, &str)],
    request_id: &RequestId,
) -> pingora_error::Result<()> {
    let mut resp = ResponseHeader::build(status, Some(4 + extra.len()))?;
    resp.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    resp.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
    resp.insert_header(http::header::CACHE_CONTROL, "no-store")?;
    request_id.set_on(&mut resp);
    for (k, v) in extra {
        resp.append_header(k.to_string(), *v)?;
    }
    session.write_response_header(Box::new(resp), false).await?;
    session
        .write_response_body(Some(Bytes::from(body)), true)
        .await
}

/// Writes the error envelope whose `code` is the HTTP status.
pub async fn error(
    session: &mut Session,
    status: u16,
    message: &str,
    extra: &[(&str, &str)],
    request_id: &RequestId,
) -> pingora_error::Result<()> {
    json(
        session,
        status,
        error_json(u32::from(status), message),
        extra,
        request_id,
    )
    .await
}

/// The status a failed proxy attempt turns into, and its message; 0 when the
/// client is gone and nothing can be written.
pub fn failure_status(e: &Error) -> (u16, &'static str) {
    use ErrorType::*;
    match e.etype() {
        HTTPStatus(503) => (503, "No healthy upstream backend"),
        HTTPStatus(code) => (*code, "Request failed"),
        ConnectTimedout => (504, "Upstream timed out"),
        ReadTimedout | WriteTimedout if e.esource() == &ErrorSource::Upstream => {
            (504, "Upstream timed out")
        }
        _ => match e.esource() {
            ErrorSource::Upstream => (502, "Upstream unreachable or answered badly"),
            ErrorSource::Downstream => match e.etype() {
                WriteError | ReadError | ConnectionClosed => (0, ""),
                ReadTimedout => (408, "Request timed out"),
                _ => (400, "Bad request"),
            },
            ErrorSource::Internal | ErrorSource::Unset => match e.etype() {
                ConnectRefused | ConnectNoRoute | ConnectError | ConnectProxyFailure
                | TLSHandshakeFailure | SocketError | BindError => {
                    (502, "Upstream unreachable or answered badly")
                }
                _ => (500, "Internal error"),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_failures_map_to_gateway_statuses() {
        let refused = Error::new(ErrorType::ConnectRefused);
        assert_eq!(failure_status(&refused).0, 502);
        let connect_timeout = Error::new(ErrorType::ConnectTimedout);
        assert_eq!(failure_status(&connect_timeout).0, 504);
        let read_timeout = Error::new_up(ErrorType::ReadTimedout);
        assert_eq!(failure_status(&read_timeout).0, 504);
        let no_backend = Error::new(ErrorType::HTTPStatus(503));
        assert_eq!(failure_status(&no_backend).0, 503);
        let client_gone = Error::new_down(ErrorType::ConnectionClosed);
        assert_eq!(failure_status(&client_gone).0, 0);
    }
}
