//! Counters with a window in SQLite: codes sent per identifier, wrong
//! passwords per account (with the lock they lead to), and the shared
//! rate-limit buckets (GCRA).

use super::super::{
    Identifier, LockoutPolicy, PasswordFailure, RateBucket, RateDecision, SendAllowance,
    StoreError, StoreResult, UnixMs,
};
use super::expiry;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::time::Duration;

/// Counts one send if the identifier's window has room.
pub fn count_send(
    tx: &Transaction<'_>,
    brand: &str,
    identifier: &Identifier,
    max_sends: u32,
    window: Duration,
    now: UnixMs,
) -> StoreResult<SendAllowance> {
    let kind = identifier.kind.as_str();
    let current: Option<(u32, i64)> = tx
        .query_row(
            "SELECT sends, expires_at FROM code_sends WHERE brand = ?1 AND kind = ?2 AND value = ?3",
            params![brand, kind, identifier.value],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (sends, window_end) = match current {
        Some((sends, end)) if end > now => {
            if sends >= max_sends {
                return Ok(SendAllowance::Refused { until: end });
            }
            (sends + 1, end)
        }
        _ => (1, expiry(now, window, "send window")?),
    };
    tx.execute(
        "INSERT INTO code_sends (brand, kind, value, sends, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (brand, kind, value) DO UPDATE SET sends = excluded.sends, expires_at = excluded.expires_at",
        params![brand, kind, identifier.value, sends, window_end],
    )?;
    Ok(SendAllowance::Allowed {
        remaining: max_sends.saturating_sub(sends),
    })
}

/// Counts a wrong password; the count that reaches the policy's limit
/// within its window locks the account and starts a fresh count.
pub fn record_password_failure(
    tx: &Transaction<'_>,
    uid: &str,
    policy: LockoutPolicy,
    now: UnixMs,
) -> StoreResult<PasswordFailure> {
    let lock: Option<Option<i64>> = tx
        .query_row(
            "SELECT locked_until FROM users WHERE uid = ?1",
            params![uid],
            |row| row.get(0),
        )
        .optional()?;
    match lock {
        None => return Err(StoreError::UnknownUser),
        Some(Some(until)) if until > now => return Ok(PasswordFailure::AlreadyLocked { until }),
        Some(_) => {}
    }
    let current: Option<(u32, i64)> = tx
        .query_row(
            "SELECT failures, expires_at FROM password_failures WHERE uid = ?1",
            params![uid],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (failures, window_end) = match current {
        Some((failures, end)) if end > now => (failures.saturating_add(1), end),
        _ => (1, expiry(now, policy.window, "lockout window")?),
    };
    if failures >= policy.max_failures {
        let until = expiry(now, policy.period, "lockout period")?;
        tx.execute(
            "UPDATE users SET locked_until = ?2 WHERE uid = ?1",
            params![uid, until],
        )?;
        tx.execute("DELETE FROM password_failures WHERE uid = ?1", params![uid])?;
        return Ok(PasswordFailure::LockedNow { until });
    }
    tx.execute(
        "INSERT INTO password_failures (uid, failures, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (uid) DO UPDATE SET failures = excluded.failures, expires_at = excluded.expires_at",
        params![uid, failures, window_end],
    )?;
    Ok(PasswordFailure::Counted {
        failures,
        remaining: policy.max_failures - failures,
    })
}

/// Whether any failures are counted for the account.
pub fn has_password_failures(conn: &Connection, uid: &str) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM password_failures WHERE uid = ?1)",
        params![uid],
        |row| row.get(0),
    )?)
}

pub fn clear_password_failures(conn: &Connection, uid: &str) -> StoreResult<()> {
    conn.execute("DELETE FROM password_failures WHERE uid = ?1", params![uid])?;
    Ok(())
}

/// GCRA: each request moves the bucket's "theoretical arrival time" one
/// emission interval on; a request is refused when that time runs further
/// ahead of now than the burst allows.
pub fn take_rate_token(
    tx: &Transaction<'_>,
    key: &str,
    bucket: RateBucket,
    now: UnixMs,
) -> StoreResult<RateDecision> {
    let interval = 1000.0 / bucket.rps;
    let tolerance = interval * f64::from(bucket.burst - 1);
    let now_f = now as f64;
    let stored: Option<(f64, i64)> = tx
        .query_row(
            "SELECT tat, expires_at FROM rate_buckets WHERE key = ?1",
            params![key],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let tat = match stored {
        Some((tat, end)) if end > now => tat.max(now_f),
        _ => now_f,
    };
    let ahead = tat - now_f;
    if ahead > tolerance {
        let wait_ms = (ahead - tolerance).ceil().max(1.0);
        return Ok(RateDecision::Limited {
            retry_after: Duration::from_millis(wait_ms as u64),
        });
    }
    let new_tat = tat + interval;
    let expires_at = new_tat.ceil() as i64;
    tx.execute(
        "INSERT INTO rate_buckets (key, tat, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET tat = excluded.tat, expires_at = excluded.expires_at",
        params![key, new_tat, expires_at],
    )?;
    Ok(RateDecision::Allowed)
}
