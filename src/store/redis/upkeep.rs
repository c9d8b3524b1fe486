//! Housekeeping of the Redis store: generated secrets, the readiness probe
//! and the sweep of records whose end (by the store's clock) has passed.

use super::super::{StoreError, StoreResult, UnixMs, SECRET_LEN};
use super::keys::Keys;
use super::reply;
use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;

/// Keys swept per script run; a sweep runs a few batches at most.
const SWEEP_BATCH: usize = 500;
const SWEEP_BATCHES: usize = 8;

/// KEYS: secret. ARGV: a fresh value. The first value written wins.
static GET_OR_CREATE_SECRET: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current then return current end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
",
    )
});

/// KEYS: expiries. ARGV: now, batch size. Deletes the keys whose end has
/// passed; answers {deleted, looked at}.
static SWEEP: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local deleted = 0
for _, key in ipairs(ended) do
  deleted = deleted + redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], key)
end
return {deleted, #ended}
",
    )
});

pub async fn get_or_create_secret(
    c: &mut ConnectionManager,
    keys: &Keys,
    name: &str,
) -> StoreResult<Vec<u8>> {
    let fresh: [u8; SECRET_LEN] = rand::random();
    let value: redis::Value = GET_OR_CREATE_SECRET
        .key(keys.secret(name))
        .arg(fresh.as_slice())
        .invoke_async(c)
        .await?;
    let secret = reply::bytes(&value)?;
    if secret.len() != SECRET_LEN {
        return Err(StoreError::Corrupt(format!(
            "secret {name:?} has {} bytes",
            secret.len()
        )));
    }
    Ok(secret)
}

/// A PING round trip.
pub async fn health(c: &mut ConnectionManager) -> StoreResult<()> {
    let pong: String = redis::cmd("PING").query_async(c).await?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(StoreError::Unavailable("PING did not answer PONG".into()))
    }
}

/// Deletes ended sessions, counters and revocations; returns how many keys
/// were still there (Redis may have dropped some by their `PX` already).
pub async fn sweep_expired(
    c: &mut ConnectionManager,
    keys: &Keys,
    now: UnixMs,
) -> StoreResult<u64> {
    let mut removed = 0u64;
    for _ in 0..SWEEP_BATCHES {
        let (deleted, looked_at): (u64, usize) = SWEEP
            .key(keys.expiries())
            .arg(now)
            .arg(SWEEP_BATCH)
            .invoke_async(c)
            .await?;
        removed += deleted;
        if looked_at < SWEEP_BATCH {
            break;
        }
    }
    Ok(removed)
}
