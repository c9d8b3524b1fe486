//! Housekeeping of the SQLite store: generated secrets, the readiness
//! probes and the sweep of expired records.

use super::super::{StoreError, StoreResult, UnixMs, SECRET_LEN};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

/// The named secret, made from the CSPRNG on first use.
pub fn get_or_create_secret(tx: &Transaction<'_>, name: &str, now: UnixMs) -> StoreResult<Vec<u8>> {
    let existing: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM secrets WHERE name = ?1",
            params![name],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(value) = existing {
        if value.len() != SECRET_LEN {
            return Err(StoreError::Corrupt(format!(
                "secret {name:?} has {} bytes",
                value.len()
            )));
        }
        return Ok(value);
    }
    let value: [u8; SECRET_LEN] = rand::random();
    tx.execute(
        "INSERT INTO secrets (name, value, created_at) VALUES (?1, ?2, ?3)",
        params![name, value.as_slice(), now],
    )?;
    Ok(value.to_vec())
}

/// A round trip through SQLite.
pub fn health(conn: &Connection) -> StoreResult<()> {
    let one: i64 = conn.query_row("SELECT 1", [], |row| row.get(0))?;
    if one == 1 {
        Ok(())
    } else {
        Err(StoreError::Unavailable("SELECT 1 did not answer 1".into()))
    }
}

/// Whether the writer can write: a connection SQLite opened read-only (it
/// falls back to that, silently, when the file is write-protected) makes
/// the store unready, as does another process holding the write lock (the
/// lock is taken and given back).
pub fn writable(conn: &mut Connection) -> StoreResult<()> {
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(StoreError::Unavailable(
            "the database file is read-only".into(),
        ));
    }
    conn.transaction_with_behavior(TransactionBehavior::Immediate)?
        .rollback()?;
    Ok(())
}

/// Deletes every ephemeral row whose time has passed and clears passed
/// locks; returns the number of rows deleted.
pub fn sweep_expired(tx: &Transaction<'_>, now: UnixMs) -> StoreResult<u64> {
    const TABLES: &[&str] = &[
        "codes",
        "sessions",
        "code_sends",
        "password_failures",
        "rate_buckets",
        "revoked_tokens",
        "revoked_families",
    ];
    let mut removed = 0u64;
    for table in TABLES {
        let sql = format!("DELETE FROM {table} WHERE expires_at <= ?1");
        removed += tx.execute(&sql, params![now])? as u64;
    }
    tx.execute(
        "UPDATE users SET locked_until = NULL WHERE locked_until <= ?1",
        params![now],
    )?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::OpenFlags;

    #[test]
    fn a_read_only_connection_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut writer = Connection::open(&path).unwrap();
        writer.execute_batch("CREATE TABLE t (x)").unwrap();
        writable(&mut writer).unwrap();

        // What SQLite opens, without a word, on a write-protected file.
        let mut read_only =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        assert!(matches!(
            writable(&mut read_only),
            Err(StoreError::Unavailable(why)) if why.contains("read-only")
        ));
    }
}
