//! Accounts in SQLite: the user row, its identifiers (one row each, unique
//! per brand), password hash and lock.

use super::super::{
    Contact, Identifier, IdentifierType, NewUser, StoreError, StoreResult, UnixMs, User,
};
use super::fold_brand;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::BTreeSet;

/// Refuses a registration that could not be looked up again.
pub fn check_new(new: &NewUser) -> StoreResult<()> {
    check_parts(&new.brand, &new.identifiers)
}

/// Refuses an imported user that could not be looked up again.
pub fn check_imported(user: &User) -> StoreResult<()> {
    if user.uid.is_empty() {
        return Err(StoreError::Invalid("uid must not be empty".into()));
    }
    check_parts(&user.brand, &user.identifiers)
}

fn check_parts(brand: &str, identifiers: &[Identifier]) -> StoreResult<()> {
    if brand.is_empty() {
        return Err(StoreError::Invalid("brand must not be empty".into()));
    }
    if identifiers.is_empty() {
        return Err(StoreError::Invalid("a user needs an identifier".into()));
    }
    let mut kinds = BTreeSet::new();
    for identifier in identifiers {
        if identifier.value.is_empty() {
            return Err(StoreError::Invalid(
                "identifier value must not be empty".into(),
            ));
        }
        if !kinds.insert(identifier.kind) {
            return Err(StoreError::Invalid(format!(
                "two {} identifiers for one user",
                identifier.kind
            )));
        }
    }
    Ok(())
}

/// The user of `brand` (already folded) holding `identifier`.
pub fn find(
    conn: &Connection,
    brand: &str,
    identifier: &Identifier,
    now: UnixMs,
) -> StoreResult<Option<User>> {
    match owner(conn, brand, identifier)? {
        Some(uid) => load(conn, &uid, now),
        None => Ok(None),
    }
}

fn owner(conn: &Connection, brand: &str, identifier: &Identifier) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT uid FROM user_identifiers WHERE brand = ?1 AND kind = ?2 AND value = ?3",
            params![brand, identifier.kind.as_str(), identifier.value],
            |row| row.get(0),
        )
        .optional()?)
}

/// The user with this uid, identifiers sorted, a passed lock read as none.
pub fn load(conn: &Connection, uid: &str, now: UnixMs) -> StoreResult<Option<User>> {
    let row = conn
        .query_row(
            "SELECT brand, contact_mobile, contact_email, password_hash, locked_until, created_at
             FROM users WHERE uid = ?1",
            params![uid],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Option<String>>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<i64>>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((brand, mobile, email, password_hash, locked_until, created_at)) = row else {
        return Ok(None);
    };
    let mut statement =
        conn.prepare_cached("SELECT kind, value FROM user_identifiers WHERE uid = ?1")?;
    let mut identifiers = statement
        .query_map(params![uid], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .map(|row| {
            let (kind, value) = row?;
            let kind: IdentifierType = kind
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("identifier type {kind:?}")))?;
            Ok(Identifier { kind, value })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    identifiers.sort();
    Ok(Some(User {
        uid: uid.to_owned(),
        brand,
        identifiers,
        contact: Contact { mobile, email },
        password_hash,
        locked_until: locked_until.filter(|&t| t > now),
        created_at,
    }))
}

/// Registration: the existing owner of the identifiers, or a new user.
pub fn find_or_create(
    tx: &Transaction<'_>,
    new: NewUser,
    now: UnixMs,
) -> StoreResult<(User, bool)> {
    let brand = fold_brand(&new.brand);
    let mut owners = BTreeSet::new();
    for identifier in &new.identifiers {
        if let Some(uid) = owner(tx, &brand, identifier)? {
            owners.insert(uid);
        }
    }
    let mut owners = owners.into_iter();
    match (owners.next(), owners.next()) {
        (Some(_), Some(_)) => Err(StoreError::Conflict(
            "the identifiers belong to different users".into(),
        )),
        (Some(uid), None) => {
            let user = load(tx, &uid, now)?
                .ok_or_else(|| StoreError::Corrupt(format!("identifier of missing user {uid}")))?;
            Ok((user, false))
        }
        (None, _) => {
            let uid = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO users (uid, brand, contact_mobile, contact_email, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![uid, brand, new.contact.mobile, new.contact.email, new.password_hash, now],
            )?;
            insert_identifiers(tx, &uid, &brand, &new.identifiers)?;
            let user = load(tx, &uid, now)?
                .ok_or_else(|| StoreError::Corrupt(format!("user {uid} vanished")))?;
            Ok((user, true))
        }
    }
}

fn insert_identifiers(
    tx: &Transaction<'_>,
    uid: &str,
    brand: &str,
    identifiers: &[Identifier],
) -> StoreResult<()> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO user_identifiers (brand, kind, value, uid) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for identifier in identifiers {
        statement.execute(params![
            brand,
            identifier.kind.as_str(),
            identifier.value,
            uid
        ])?;
    }
    Ok(())
}

pub fn set_password(conn: &Connection, uid: &str, hash: &str) -> StoreResult<()> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE uid = ?1",
        params![uid, hash],
    )?;
    found(changed)
}

pub fn delete(conn: &Connection, uid: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM users WHERE uid = ?1", params![uid])? > 0)
}

pub fn lock(conn: &Connection, uid: &str, until: UnixMs) -> StoreResult<()> {
    let changed = conn.execute(
        "UPDATE users SET locked_until = ?2 WHERE uid = ?1",
        params![uid, until],
    )?;
    found(changed)
}

pub fn unlock(tx: &Transaction<'_>, uid: &str) -> StoreResult<()> {
    let changed = tx.execute(
        "UPDATE users SET locked_until = NULL WHERE uid = ?1",
        params![uid],
    )?;
    tx.execute("DELETE FROM password_failures WHERE uid = ?1", params![uid])?;
    found(changed)
}

/// Up to `limit` users after `after` in uid order.
pub fn list(conn: &Connection, after: &str, limit: usize, now: UnixMs) -> StoreResult<Vec<User>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement =
        conn.prepare_cached("SELECT uid FROM users WHERE uid > ?1 ORDER BY uid LIMIT ?2")?;
    let uids = statement
        .query_map(params![after, limit], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut users = Vec::with_capacity(uids.len());
    for uid in uids {
        if let Some(user) = load(conn, &uid, now)? {
            users.push(user);
        }
    }
    Ok(users)
}

/// Writes `user` as given, replacing the row and identifiers of its uid.
pub fn import(tx: &Transaction<'_>, user: User) -> StoreResult<()> {
    let brand = fold_brand(&user.brand);
    for identifier in &user.identifiers {
        if let Some(uid) = owner(tx, &brand, identifier)? {
            if uid != user.uid {
                return Err(StoreError::Conflict(format!(
                    "{} identifier held by another user",
                    identifier.kind
                )));
            }
        }
    }
    tx.execute(
        "INSERT INTO users (uid, brand, contact_mobile, contact_email, password_hash, locked_until, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (uid) DO UPDATE SET brand = excluded.brand,
             contact_mobile = excluded.contact_mobile, contact_email = excluded.contact_email,
             password_hash = excluded.password_hash, locked_until = excluded.locked_until,
             created_at = excluded.created_at",
        params![
            user.uid,
            brand,
            user.contact.mobile,
            user.contact.email,
            user.password_hash,
            user.locked_until,
            user.created_at
        ],
    )?;
    tx.execute(
        "DELETE FROM user_identifiers WHERE uid = ?1",
        params![user.uid],
    )?;
    insert_identifiers(tx, &user.uid, &brand, &user.identifiers)
}

fn found(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::UnknownUser)
    } else {
        Ok(())
    }
}
