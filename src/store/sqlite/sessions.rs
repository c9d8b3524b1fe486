//! Login sessions in SQLite: opened by token/generate, bound to brand,
//! family, identifier, device and contact, ended by expiry, by their code's
//! validation or by too many wrong codes.

use super::super::{
    random_id, Contact, Family, Identifier, IdentifierType, NewSession, Session, StoreError,
    StoreResult, UnixMs,
};
use super::{expiry, non_empty};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Refuses a session that could not be matched against later requests.
pub fn check_new(new: &NewSession) -> StoreResult<()> {
    if let Some(id) = &new.id {
        non_empty(id, "session id")?;
    }
    non_empty(&new.brand, "brand")?;
    non_empty(&new.identifier.value, "identifier value")?;
    if new.ttl.is_zero() {
        return Err(StoreError::Invalid(
            "session ttl must be longer than zero".into(),
        ));
    }
    Ok(())
}

/// Opens the session; an expired leftover with the same id is replaced, a
/// live one is a conflict.
pub fn create(tx: &Transaction<'_>, new: NewSession, now: UnixMs) -> StoreResult<Session> {
    let id = new.id.unwrap_or_else(random_id);
    let expires_at = expiry(now, new.ttl, "session ttl")?;
    tx.execute(
        "DELETE FROM sessions WHERE id = ?1 AND expires_at <= ?2",
        params![id, now],
    )?;
    let inserted = tx.execute(
        "INSERT INTO sessions (id, brand, family, identifier_kind, identifier_value, device_id,
             contact_mobile, contact_email, staged_password_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO NOTHING",
        params![
            id,
            new.brand,
            new.family.as_str(),
            new.identifier.kind.as_str(),
            new.identifier.value,
            new.device_id,
            new.contact.mobile,
            new.contact.email,
            new.staged_password_hash,
            now,
            expires_at
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Conflict("session id already in use".into()));
    }
    Ok(Session {
        id,
        brand: new.brand,
        family: new.family,
        identifier: new.identifier,
        device_id: new.device_id,
        contact: new.contact,
        staged_password_hash: new.staged_password_hash,
        failed_attempts: 0,
        has_code: false,
        created_at: now,
        expires_at,
    })
}

/// The live session with this id.
pub fn load(conn: &Connection, id: &str, now: UnixMs) -> StoreResult<Option<Session>> {
    let row = conn
        .query_row(
            "SELECT s.brand, s.family, s.identifier_kind, s.identifier_value, s.device_id,
                    s.contact_mobile, s.contact_email, s.staged_password_hash,
                    s.failed_attempts, s.created_at, s.expires_at,
                    EXISTS (SELECT 1 FROM codes c WHERE c.session_id = s.id AND c.expires_at > ?2)
             FROM sessions s WHERE s.id = ?1 AND s.expires_at > ?2",
            params![id, now],
            |row| {
                Ok(RawSession {
                    brand: row.get(0)?,
                    family: row.get(1)?,
                    kind: row.get(2)?,
                    value: row.get(3)?,
                    device_id: row.get(4)?,
                    mobile: row.get(5)?,
                    email: row.get(6)?,
                    staged: row.get(7)?,
                    failed_attempts: row.get(8)?,
                    created_at: row.get(9)?,
                    expires_at: row.get(10)?,
                    has_code: row.get(11)?,
                })
            },
        )
        .optional()?;
    row.map(|raw| raw.into_session(id)).transpose()
}

struct RawSession {
    brand: String,
    family: String,
    kind: String,
    value: String,
    device_id: Option<String>,
    mobile: Option<String>,
    email: Option<String>,
    staged: Option<String>,
    failed_attempts: u32,
    created_at: i64,
    expires_at: i64,
    has_code: bool,
}

impl RawSession {
    fn into_session(self, id: &str) -> StoreResult<Session> {
        let family: Family = self
            .family
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("session family {:?}", self.family)))?;
        let kind: IdentifierType = self
            .kind
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("identifier type {:?}", self.kind)))?;
        Ok(Session {
            id: id.to_owned(),
            brand: self.brand,
            family,
            identifier: Identifier {
                kind,
                value: self.value,
            },
            device_id: self.device_id,
            contact: Contact {
                mobile: self.mobile,
                email: self.email,
            },
            staged_password_hash: self.staged,
            failed_attempts: self.failed_attempts,
            has_code: self.has_code,
            created_at: self.created_at,
            expires_at: self.expires_at,
        })
    }
}

pub fn stage_password(conn: &Connection, id: &str, hash: &str, now: UnixMs) -> StoreResult<bool> {
    Ok(conn.execute(
        "UPDATE sessions SET staged_password_hash = ?2 WHERE id = ?1 AND expires_at > ?3",
        params![id, hash, now],
    )? > 0)
}

/// Ends the session (its code goes with it); `true` when it was live.
pub fn delete(tx: &Transaction<'_>, id: &str, now: UnixMs) -> StoreResult<bool> {
    let live = tx.execute(
        "DELETE FROM sessions WHERE id = ?1 AND expires_at > ?2",
        params![id, now],
    )? > 0;
    tx.execute("DELETE FROM sessions WHERE id = ?1", params![id])?;
    Ok(live)
}
