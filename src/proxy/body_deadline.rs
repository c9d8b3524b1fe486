//! A total deadline for a proxied request body (`limits.proxy_body_read_timeout`):
//! Pingora bounds each read of a body, not the whole body, so a client that
//! trickles a byte at a time could hold a connection and an upstream request
//! open for as long as it likes. Before each read the session's read timeout
//! is set to the time left; a read past the deadline fails as a downstream
//! read timeout, which the gateway answers with 408 (`respond::failure_status`).

use pingora_error::{Error, ErrorType};
use pingora_proxy::Session;
use std::time::{Duration, Instant};

/// Starts the deadline for a request that has a body; `None` without one.
pub fn start(session: &mut Session, timeout: Duration) -> Option<Instant> {
    if session.as_downstream_mut().is_body_empty() {
        return None;
    }
    session.as_downstream_mut().set_read_timeout(Some(timeout));
    Some(Instant::now() + timeout)
}

/// After each body chunk: the next read gets only the time left.
pub fn next_read(session: &mut Session, deadline: Option<Instant>) -> pingora_error::Result<()> {
    let Some(deadline) = deadline else {
        return Ok(());
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(
            Error::explain(ErrorType::ReadTimedout, "request body not received in time")
                .into_down(),
        );
    }
    session.as_downstream_mut().set_read_timeout(Some(left));
    Ok(())
}
