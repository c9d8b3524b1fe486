//! Reading what the scripts answer: a status word first, then its values;
//! hashes come back as flat field/value lists.

use super::super::{StoreError, StoreResult, UnixMs};
use redis::Value;
use std::collections::HashMap;

/// The parts of a script's array reply.
pub fn parts(value: Value) -> StoreResult<Vec<Value>> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(unexpected("an array", &other)),
    }
}

/// The status word that opens a reply.
pub fn status(parts: &[Value]) -> StoreResult<String> {
    parts
        .first()
        .ok_or_else(|| StoreError::Corrupt("empty script reply".into()))
        .and_then(text)
}

/// The `i`-th value of a reply.
pub fn at(parts: &[Value], i: usize) -> StoreResult<&Value> {
    parts
        .get(i)
        .ok_or_else(|| StoreError::Corrupt(format!("script reply has no value {i}")))
}

pub fn text(value: &Value) -> StoreResult<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone())
            .map_err(|_| StoreError::Corrupt("stored text is not UTF-8".into())),
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Int(n) => Ok(n.to_string()),
        other => Err(unexpected("text", other)),
    }
}

pub fn bytes(value: &Value) -> StoreResult<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Ok(bytes.clone()),
        other => Err(unexpected("bytes", other)),
    }
}

/// An integer sent as a number or as decimal text.
pub fn int(value: &Value) -> StoreResult<i64> {
    match value {
        Value::Int(n) => Ok(*n),
        other => number(&text(other)?),
    }
}

/// Decimal text read back from a field.
pub fn number(text: &str) -> StoreResult<i64> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{text:?} is not a number")))
}

/// A hash as HGETALL returns it; empty when the key is absent.
pub fn fields(value: &Value) -> StoreResult<HashMap<String, String>> {
    let items = match value {
        Value::Array(items) => items,
        Value::Nil => return Ok(HashMap::new()),
        Value::Map(pairs) => {
            return pairs
                .iter()
                .map(|(k, v)| Ok((text(k)?, text(v)?)))
                .collect();
        }
        other => return Err(unexpected("a hash", other)),
    };
    items
        .chunks(2)
        .map(|pair| match pair {
            [k, v] => Ok((text(k)?, text(v)?)),
            _ => Err(StoreError::Corrupt(
                "a hash reply with an odd length".into(),
            )),
        })
        .collect()
}

/// A required field of a stored hash.
pub fn field<'a>(fields: &'a HashMap<String, String>, name: &str) -> StoreResult<&'a str> {
    fields
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("stored record lacks {name:?}")))
}

/// A required field holding unix ms (or a count).
pub fn field_ms(fields: &HashMap<String, String>, name: &str) -> StoreResult<UnixMs> {
    number(field(fields, name)?)
}

/// Names what came instead, never its content (it may be a secret).
fn unexpected(wanted: &str, got: &Value) -> StoreError {
    let kind = match got {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) | Value::SimpleString(_) => "a string",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Okay => "OK",
        _ => "another kind of value",
    };
    StoreError::Corrupt(format!("expected {wanted} from Redis, got {kind}"))
}
