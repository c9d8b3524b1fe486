//! Session binding (API.md section 2): every step after token/generate names
//! a session and must repeat the identifier (1541), device on mobile (1508)
//! and brand (1509) that opened it. Unknown, expired or other-family: 1505.

use super::error::AuthError;
use super::validation::Common;
use crate::store::{Family, Session, Store};

/// The live session `session_id`, checked against what the request repeats.
pub async fn bound_session(
    store: &dyn Store,
    session_id: &str,
    family: Family,
    common: &Common<'_>,
) -> Result<Session, AuthError> {
    let session = store
        .get_session(session_id)
        .await?
        .filter(|s| s.family == family)
        .ok_or(AuthError::InvalidSession)?;
    if session.identifier != common.identifier {
        return Err(AuthError::IdentifierMismatch);
    }
    if family == Family::Mobile && session.device_id != common.device {
        return Err(AuthError::DeviceMismatch);
    }
    if !session.brand.eq_ignore_ascii_case(common.brand.name) {
        return Err(AuthError::BrandMismatch);
    }
    Ok(session)
}
