//! One-time codes in SQLite: the keyed hash of the current code of a
//! session, and the single atomic try that counts, consumes or kills.

use super::super::{CodeCheck, CodeStored, StoreResult, UnixMs};
use super::{expiry, sessions};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Stores the code's hash for a live session, replacing the previous one.
pub fn put(
    tx: &Transaction<'_>,
    session_id: &str,
    hash: &[u8],
    ttl: Duration,
    now: UnixMs,
) -> StoreResult<CodeStored> {
    let session_end: Option<i64> = tx
        .query_row(
            "SELECT expires_at FROM sessions WHERE id = ?1 AND expires_at > ?2",
            params![session_id, now],
            |row| row.get(0),
        )
        .optional()?;
    let Some(session_end) = session_end else {
        return Ok(CodeStored::NoSession);
    };
    let expires_at = expiry(now, ttl, "code ttl")?.min(session_end);
    tx.execute(
        "INSERT INTO codes (session_id, hash, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (session_id) DO UPDATE SET hash = excluded.hash, expires_at = excluded.expires_at",
        params![session_id, hash, expires_at],
    )?;
    Ok(CodeStored::Stored { expires_at })
}

/// Removes the session's code if it is still `hash`.
pub fn discard(conn: &Connection, session_id: &str, hash: &[u8]) -> StoreResult<bool> {
    Ok(conn.execute(
        "DELETE FROM codes WHERE session_id = ?1 AND hash = ?2",
        params![session_id, hash],
    )? > 0)
}

/// One try of a code, inside the caller's immediate transaction.
pub fn check(
    tx: &Transaction<'_>,
    session_id: &str,
    hash: &[u8],
    max_attempts: u32,
    now: UnixMs,
) -> StoreResult<CodeCheck> {
    let Some(session) = sessions::load(tx, session_id, now)? else {
        return Ok(CodeCheck::NoSession);
    };
    let stored: Option<(Vec<u8>, i64)> = tx
        .query_row(
            "SELECT hash, expires_at FROM codes WHERE session_id = ?1",
            params![session_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((stored_hash, code_end)) = stored else {
        return Ok(CodeCheck::NoCode);
    };
    if code_end <= now {
        tx.execute(
            "DELETE FROM codes WHERE session_id = ?1",
            params![session_id],
        )?;
        return Ok(CodeCheck::Expired);
    }
    if bool::from(stored_hash.as_slice().ct_eq(hash)) {
        tx.execute("DELETE FROM sessions WHERE id = ?1", params![session_id])?;
        return Ok(CodeCheck::Accepted(session));
    }
    let failed = session.failed_attempts.saturating_add(1);
    if failed >= max_attempts {
        tx.execute("DELETE FROM sessions WHERE id = ?1", params![session_id])?;
        return Ok(CodeCheck::Exhausted);
    }
    tx.execute(
        "UPDATE sessions SET failed_attempts = ?2 WHERE id = ?1",
        params![session_id, failed],
    )?;
    Ok(CodeCheck::Wrong {
        attempts_left: max_attempts - failed,
    })
}
