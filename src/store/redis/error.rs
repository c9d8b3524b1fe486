//! How Redis's errors become the store's: every failure of the connection
//! or of a command is "unavailable", a bad URL is invalid input. Messages
//! name the error's category and code only: never the server's free text,
//! never the URL (it may carry a password).

use super::super::StoreError;

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        let what = if e.is_timeout() {
            "timed out"
        } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
            "connection failed"
        } else {
            "command failed"
        };
        StoreError::Unavailable(format!("redis {what}: {}", category(&e)))
    }
}

/// A URL Redis's client refused.
pub fn bad_url(e: &redis::RedisError) -> StoreError {
    StoreError::Invalid(format!("store url: {:?}", e.kind()))
}

/// The error's kind and code, e.g. `AuthenticationFailed` or `ResponseError (NOSCRIPT)`.
fn category(e: &redis::RedisError) -> String {
    match e.code() {
        Some(code) => format!("{:?} ({code})", e.kind()),
        None => format!("{:?}", e.kind()),
    }
}
