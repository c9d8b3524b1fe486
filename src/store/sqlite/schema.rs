//! The SQLite schema and its versioned migrations, applied in order on open
//! and recorded in `PRAGMA user_version`.

use super::super::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: every record kind of the store contract.
    r#"
    CREATE TABLE users (
        uid            TEXT PRIMARY KEY,
        brand          TEXT NOT NULL,
        contact_mobile TEXT,
        contact_email  TEXT,
        password_hash  TEXT,
        locked_until   INTEGER,
        created_at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE user_identifiers (
        brand TEXT NOT NULL,
        kind  TEXT NOT NULL,
        value TEXT NOT NULL,
        uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
        PRIMARY KEY (brand, kind, value)
    ) STRICT;
    CREATE INDEX user_identifiers_by_uid ON user_identifiers(uid);
    CREATE TABLE password_failures (
        uid        TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
        failures   INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE sessions (
        id                   TEXT PRIMARY KEY,
        brand                TEXT NOT NULL,
        family               TEXT NOT NULL,
        identifier_kind      TEXT NOT NULL,
        identifier_value     TEXT NOT NULL,
        device_id            TEXT,
        contact_mobile       TEXT,
        contact_email        TEXT,
        staged_password_hash TEXT,
        failed_attempts      INTEGER NOT NULL DEFAULT 0,
        created_at           INTEGER NOT NULL,
        expires_at           INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_expiry ON sessions(expires_at);
    CREATE TABLE codes (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        hash       BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE code_sends (
        brand      TEXT NOT NULL,
        kind       TEXT NOT NULL,
        value      TEXT NOT NULL,
        sends      INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (brand, kind, value)
    ) STRICT;
    CREATE TABLE rate_buckets (
        key        TEXT PRIMARY KEY,
        tat        REAL NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE revoked_tokens (
        jti        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE revoked_families (
        family     TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE revoked_users (
        uid           TEXT PRIMARY KEY,
        issued_before INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE secrets (
        name       TEXT PRIMARY KEY,
        value      BLOB NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The version recorded in the file.
pub fn version(conn: &Connection) -> StoreResult<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

/// Applies every migration the file lacks, each in its own transaction
/// together with the version bump. A file from a newer build is refused.
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::Corrupt(format!(
            "schema version {found} is newer than this build's {CURRENT_VERSION}"
        )));
    }
    let start = usize::try_from(found)
        .map_err(|_| StoreError::Corrupt(format!("negative schema version {found}")))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and the lock.
        let now_at: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if now_at > index as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = index + 1, "store schema migrated");
    }
    Ok(())
}
