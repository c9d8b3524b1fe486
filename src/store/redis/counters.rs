//! Counters with a window in Redis: codes sent per identifier, wrong
//! passwords per account (with the lock they lead to), and the shared
//! rate-limit buckets (GCRA). Each count is one script, so instances
//! racing on one counter never go past its limit together.

use super::super::{
    LockoutPolicy, PasswordFailure, RateBucket, RateDecision, SendAllowance, StoreError,
    StoreResult, UnixMs,
};
use super::keys::Keys;
use super::{expiry, px, reply};
use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use std::time::Duration;

/// KEYS: counter, expiries. ARGV: now, max, end of a new window, its px.
/// Answers `allowed <remaining>` or `refused <window end>`.
static COUNT_SEND: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'n', 'x')
if v[1] and v[2] and tonumber(v[2]) > now then
  local sent = tonumber(v[1])
  if sent >= max then return {'refused', v[2]} end
  redis.call('HSET', KEYS[1], 'n', sent + 1)
  return {'allowed', max - sent - 1}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'n', 1, 'x', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
return {'allowed', max - 1}
",
    )
});

/// KEYS: user, failures, expiries. ARGV: now, max, end of a new window,
/// its px, end of a lock. Answers `unknown`, `already <until>`,
/// `locked <until>` or `counted <failures> <remaining>`.
static PASSWORD_FAILURE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
local lock = redis.call('HGET', KEYS[1], 'lock')
if lock and tonumber(lock) > now then return {'already', lock} end
local v = redis.call('HMGET', KEYS[2], 'n', 'x')
local failures = 1
local fresh = true
if v[1] and v[2] and tonumber(v[2]) > now then
  failures = tonumber(v[1]) + 1
  fresh = false
end
if failures >= max then
  redis.call('HSET', KEYS[1], 'lock', ARGV[5])
  redis.call('DEL', KEYS[2])
  return {'locked', ARGV[5]}
end
if fresh then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'n', failures, 'x', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[3], KEYS[2])
else
  redis.call('HSET', KEYS[2], 'n', failures)
end
return {'counted', failures, max - failures}
",
    )
});

/// KEYS: bucket. ARGV: now, emission interval (ms), tolerance (ms).
/// GCRA: each request moves the bucket's theoretical arrival time one
/// interval on; refused while it runs further ahead of now than the burst
/// allows. Answers `allowed` or `limited <ms to wait>`.
static TAKE_RATE_TOKEN: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local ahead = tat - now
if ahead > tolerance then
  return {'limited', math.max(1, math.ceil(ahead - tolerance))}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
return {'allowed'}
",
    )
});

pub async fn count_send(
    c: &mut ConnectionManager,
    keys: &Keys,
    key: &str,
    max_sends: u32,
    window_end: UnixMs,
    now: UnixMs,
) -> StoreResult<SendAllowance> {
    let parts = reply::parts(
        COUNT_SEND
            .key(key)
            .key(keys.expiries())
            .arg(now)
            .arg(max_sends)
            .arg(window_end)
            .arg(px(now, window_end))
            .invoke_async(c)
            .await?,
    )?;
    match reply::status(&parts)?.as_str() {
        "allowed" => Ok(SendAllowance::Allowed {
            remaining: count(reply::int(reply::at(&parts, 1)?)?),
        }),
        "refused" => Ok(SendAllowance::Refused {
            until: reply::int(reply::at(&parts, 1)?)?,
        }),
        other => Err(StoreError::Corrupt(format!(
            "count_code_send answered {other}"
        ))),
    }
}

pub async fn record_password_failure(
    c: &mut ConnectionManager,
    keys: &Keys,
    uid: &str,
    policy: LockoutPolicy,
    now: UnixMs,
) -> StoreResult<PasswordFailure> {
    let window_end = expiry(now, policy.window, "lockout window")?;
    let lock_end = expiry(now, policy.period, "lockout period")?;
    let parts = reply::parts(
        PASSWORD_FAILURE
            .key(keys.user(uid))
            .key(keys.password_failures(uid))
            .key(keys.expiries())
            .arg(now)
            .arg(policy.max_failures)
            .arg(window_end)
            .arg(px(now, window_end))
            .arg(lock_end)
            .invoke_async(c)
            .await?,
    )?;
    match reply::status(&parts)?.as_str() {
        "unknown" => Err(StoreError::UnknownUser),
        "already" => Ok(PasswordFailure::AlreadyLocked {
            until: reply::int(reply::at(&parts, 1)?)?,
        }),
        "locked" => Ok(PasswordFailure::LockedNow {
            until: reply::int(reply::at(&parts, 1)?)?,
        }),
        "counted" => Ok(PasswordFailure::Counted {
            failures: count(reply::int(reply::at(&parts, 1)?)?),
            remaining: count(reply::int(reply::at(&parts, 2)?)?),
        }),
        other => Err(StoreError::Corrupt(format!(
            "record_password_failure answered {other}"
        ))),
    }
}

pub async fn clear_password_failures(
    c: &mut ConnectionManager,
    keys: &Keys,
    uid: &str,
) -> StoreResult<()> {
    let _: i64 = redis::cmd("DEL")
        .arg(keys.password_failures(uid))
        .query_async(c)
        .await?;
    Ok(())
}

pub async fn take_rate_token(
    c: &mut ConnectionManager,
    key: &str,
    bucket: RateBucket,
    now: UnixMs,
) -> StoreResult<RateDecision> {
    let interval = 1000.0 / bucket.rps;
    let tolerance = interval * f64::from(bucket.burst - 1);
    let parts = reply::parts(
        TAKE_RATE_TOKEN
            .key(key)
            .arg(now)
            .arg(format!("{interval:.6}"))
            .arg(format!("{tolerance:.6}"))
            .invoke_async(c)
            .await?,
    )?;
    match reply::status(&parts)?.as_str() {
        "allowed" => Ok(RateDecision::Allowed),
        "limited" => {
            let wait = reply::int(reply::at(&parts, 1)?)?;
            Ok(RateDecision::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1).max(1)),
            })
        }
        other => Err(StoreError::Corrupt(format!(
            "take_rate_token answered {other}"
        ))),
    }
}

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
