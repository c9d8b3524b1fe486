//! Revoked tokens, families and users in SQLite, and the one look-up that
//! answers whether a verified token is still good.

use super::super::{StoreResult, UnixMs};
use rusqlite::{params, Connection};

pub fn revoke_token(conn: &Connection, jti: &str, expires_at: UnixMs) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)
         ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
        params![jti, expires_at],
    )?;
    Ok(())
}

pub fn revoke_family(conn: &Connection, family: &str, expires_at: UnixMs) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO revoked_families (family, expires_at) VALUES (?1, ?2)
         ON CONFLICT (family) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
        params![family, expires_at],
    )?;
    Ok(())
}

pub fn revoke_user_before(conn: &Connection, uid: &str, issued_before: UnixMs) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO revoked_users (uid, issued_before) VALUES (?1, ?2)
         ON CONFLICT (uid) DO UPDATE SET issued_before = max(issued_before, excluded.issued_before)",
        params![uid, issued_before],
    )?;
    Ok(())
}

pub fn is_revoked(
    conn: &Connection,
    jti: &str,
    family: Option<&str>,
    uid: &str,
    issued_at: UnixMs,
    now: UnixMs,
) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = ?1 AND expires_at > ?5)
             OR EXISTS (SELECT 1 FROM revoked_families WHERE family = ?2 AND expires_at > ?5)
             OR EXISTS (SELECT 1 FROM revoked_users WHERE uid = ?3 AND issued_before > ?4)",
        params![jti, family, uid, issued_at, now],
        |row| row.get(0),
    )?)
}
