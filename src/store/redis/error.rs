//! How Redis's errors become the store's: every failure of the connection
//! or of a command is "unavailable". The message never carries the URL.

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
        StoreError::Unavailable(format!("redis {what}: {}", e.kind_name()))
    }
}

trait KindName {
    fn kind_name(&self) -> String;
}

impl KindName for redis::RedisError {
    /// The error's category and code, without the server's free text.
    fn kind_name(&self) -> String {
        match self.code() {
            Some(code) => format!("{:?} ({code})", self.kind()),
            None => format!("{:?}", self.kind()),
        }
    }
}
