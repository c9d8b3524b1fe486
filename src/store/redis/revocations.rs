//! Revoked tokens, families and users in Redis: one key each, written so
//! that a revocation only ever grows, and read together in one MGET.

use super::super::{StoreResult, UnixMs, NEVER};
use super::keys::Keys;
use super::{px, reply};
use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;

/// KEYS: revocation, expiries. ARGV: end (unix ms), px (0: no end).
/// Keeps the later of the stored and the given end.
static REVOKE_UNTIL: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[1], KEYS[1])
end
return 1
",
    )
});

/// KEYS: cut-off. ARGV: issued before. Only moves the cut-off forward.
static REVOKE_USER_BEFORE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
",
    )
});

/// Revokes a token or family until `until` ([`NEVER`]: for good).
pub async fn revoke_until(
    c: &mut ConnectionManager,
    keys: &Keys,
    key: &str,
    until: UnixMs,
    now: UnixMs,
) -> StoreResult<()> {
    let ttl = if until == NEVER { 0 } else { px(now, until) };
    let _: i64 = REVOKE_UNTIL
        .key(key)
        .key(keys.expiries())
        .arg(until)
        .arg(ttl)
        .invoke_async(c)
        .await?;
    Ok(())
}

pub async fn revoke_user_before(
    c: &mut ConnectionManager,
    keys: &Keys,
    uid: &str,
    issued_before: UnixMs,
) -> StoreResult<()> {
    let _: i64 = REVOKE_USER_BEFORE
        .key(keys.revoked_user(uid))
        .arg(issued_before)
        .invoke_async(c)
        .await?;
    Ok(())
}

/// Whether the token (key `token`), its user's cut-off (key `user`) or its
/// family (key `family`) covers a token issued at `issued_at`.
pub async fn is_revoked(
    c: &mut ConnectionManager,
    token: &str,
    user: &str,
    family: Option<&str>,
    issued_at: UnixMs,
    now: UnixMs,
) -> StoreResult<bool> {
    let mut cmd = redis::cmd("MGET");
    cmd.arg(token).arg(user);
    if let Some(family) = family {
        cmd.arg(family);
    }
    let values: Vec<Option<String>> = cmd.query_async(c).await?;
    let read = |i: usize| -> StoreResult<Option<UnixMs>> {
        values
            .get(i)
            .cloned()
            .flatten()
            .map(|t| reply::number(&t))
            .transpose()
    };
    let token = read(0)?.is_some_and(|end| end > now);
    let user = read(1)?.is_some_and(|before| before > issued_at);
    let family = family.is_some() && read(2)?.is_some_and(|end| end > now);
    Ok(token || user || family)
}
