//! Rules every store implementation applies to its input the same way:
//! lifetimes must be positive, count limits at least 1, names and ids non-empty, brands folded so that
//! look-ups ignore case.

use super::{StoreError, StoreResult, UnixMs};
use std::time::Duration;

/// `now + ttl` in unix ms, refusing a zero lifetime.
pub(crate) fn expiry(now: UnixMs, ttl: Duration, what: &str) -> StoreResult<UnixMs> {
    if ttl.is_zero() {
        return Err(StoreError::Invalid(format!(
            "{what} must be longer than zero"
        )));
    }
    let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    Ok(now.saturating_add(ms.max(1)))
}

/// Refuses empty names and ids.
pub(crate) fn non_empty(value: &str, what: &str) -> StoreResult<()> {
    if value.is_empty() {
        Err(StoreError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

/// Refuses a zero count limit (attempts, sends, failures).
pub(crate) fn at_least_one(limit: u32, what: &str) -> StoreResult<()> {
    if limit == 0 {
        Err(StoreError::Invalid(format!("{what} must be at least 1")))
    } else {
        Ok(())
    }
}

/// Brands are kept folded so that look-ups ignore case.
pub(crate) fn fold_brand(brand: &str) -> String {
    brand.to_ascii_lowercase()
}
