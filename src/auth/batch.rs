//! Batch bodies (API.md section 1): the three login steps accept a JSON array
//! of request objects, answered in order, each item on its own. An empty
//! array, one longer than `limits.batch_max`, or an array sent to an endpoint
//! without batch support is one 1519.

use super::error::AuthError;
use super::routing::Endpoint;
use serde_json::Value;

/// The request objects of a body.
#[derive(Debug, Clone, Copy)]
pub enum Items<'a> {
    One(&'a Value),
    Many(&'a [Value]),
}

/// Splits a parsed body into the items to run.
pub fn items(endpoint: Endpoint, body: &Value, batch_max: usize) -> Result<Items<'_>, AuthError> {
    match body {
        Value::Array(_) if !endpoint.accepts_batch() => {
            Err(AuthError::InvalidDetails("this endpoint takes no batch"))
        }
        Value::Array(list) if list.is_empty() => Err(AuthError::InvalidDetails("empty batch")),
        Value::Array(list) if list.len() > batch_max => Err(AuthError::InvalidDetails(
            "batch longer than limits.batch_max",
        )),
        Value::Array(list) => Ok(Items::Many(list)),
        item => Ok(Items::One(item)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn count(r: Result<Items<'_>, AuthError>) -> Result<usize, u32> {
        match r {
            Ok(Items::One(_)) => Ok(1),
            Ok(Items::Many(list)) => Ok(list.len()),
            Err(e) => Err(e.code().number()),
        }
    }

    #[test]
    fn arrays_within_the_limit_are_batches() {
        let body = json!([{}, {}, {}]);
        assert_eq!(count(items(Endpoint::OtpGenerate, &body, 3)), Ok(3));
        assert_eq!(count(items(Endpoint::OtpGenerate, &json!({}), 3)), Ok(1));
    }

    #[test]
    fn empty_and_oversize_batches_are_one_error() {
        assert_eq!(
            count(items(Endpoint::TokenGenerate, &json!([]), 3)),
            Err(1519)
        );
        let body = json!([{}, {}, {}, {}]);
        assert_eq!(count(items(Endpoint::TokenGenerate, &body, 3)), Err(1519));
    }

    #[test]
    fn endpoints_without_batch_support_refuse_arrays() {
        let body = json!([{}]);
        assert_eq!(
            count(items(Endpoint::TokenRegenerate, &body, 50)),
            Err(1519)
        );
    }
}
