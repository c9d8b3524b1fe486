//! Login sessions in Redis: one hash per session holding its binding, its
//! wrong-try count and its current code (keyed hash and end). One key, so
//! every try of a code is one script over one record: never accepted twice,
//! never counted past `max_attempts`, however many instances try at once.

use super::super::{
    random_id, CodeCheck, CodeStored, Contact, Family, Identifier, IdentifierType, NewSession,
    Session, StoreError, StoreResult, UnixMs,
};
use super::keys::Keys;
use super::{expiry, non_empty, px, reply};
use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use std::collections::HashMap;

/// KEYS: session, expiries. ARGV: now, end, px, field/value pairs.
/// 0 when a live session holds the id.
static CREATE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local x = redis.call('HGET', KEYS[1], 'x')
if x and tonumber(x) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], KEYS[1])
return 1
",
    )
});

/// KEYS: session. ARGV: now, field, value. 0 when no live session.
static SET_IF_LIVE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local x = redis.call('HGET', KEYS[1], 'x')
if not x or tonumber(x) <= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 1
",
    )
});

/// KEYS: session. ARGV: now. 1 when a live session was ended.
static DELETE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local x = redis.call('HGET', KEYS[1], 'x')
redis.call('DEL', KEYS[1])
if x and tonumber(x) > tonumber(ARGV[1]) then return 1 end
return 0
",
    )
});

/// KEYS: session. ARGV: now, code hash, code end. The code ends with the
/// session at the latest. Answers `nosession` or `stored <end>`.
static PUT_CODE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local x = redis.call('HGET', KEYS[1], 'x')
if not x or tonumber(x) <= tonumber(ARGV[1]) then return {'nosession'} end
local ends = ARGV[3]
if tonumber(x) < tonumber(ends) then ends = x end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'hx', ends)
return {'stored', ends}
",
    )
});

/// KEYS: session. ARGV: code hash. 1 when that code was removed.
static DISCARD_CODE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'h', 'hx')
return 1
",
    )
});

/// KEYS: session. ARGV: now, code hash, max attempts. The hashes are
/// compared in constant time. Answers `nosession`, `nocode`, `expired`,
/// `accepted <session hash>`, `exhausted` or `wrong <attempts left>`.
static CHECK_CODE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', KEYS[1])
local s = {}
for i = 1, #flat, 2 do s[flat[i]] = flat[i + 1] end
if not s.x or tonumber(s.x) <= now then return {'nosession'} end
if not s.h then return {'nocode'} end
if tonumber(s.hx) <= now then
  redis.call('HDEL', KEYS[1], 'h', 'hx')
  return {'expired'}
end
local given = ARGV[2]
local diff = 0
if #given ~= #s.h then diff = 1 end
for i = 1, #s.h do
  diff = bit.bor(diff, bit.bxor(string.byte(s.h, i), string.byte(given, i) or 0))
end
if diff == 0 then
  redis.call('DEL', KEYS[1])
  return {'accepted', flat}
end
local failed = tonumber(s.n or '0') + 1
local max = tonumber(ARGV[3])
if failed >= max then
  redis.call('DEL', KEYS[1])
  return {'exhausted'}
end
redis.call('HSET', KEYS[1], 'n', failed)
return {'wrong', max - failed}
",
    )
});

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

pub async fn create(
    c: &mut ConnectionManager,
    keys: &Keys,
    new: NewSession,
    now: UnixMs,
) -> StoreResult<Session> {
    let id = new.id.unwrap_or_else(random_id);
    let expires_at = expiry(now, new.ttl, "session ttl")?;
    let session = Session {
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
    };
    let mut invocation = CREATE.key(keys.session(&session.id));
    invocation
        .key(keys.expiries())
        .arg(now)
        .arg(expires_at)
        .arg(px(now, expires_at));
    for (name, value) in to_hash(&session) {
        invocation.arg(name).arg(value);
    }
    let created: i64 = invocation.invoke_async(c).await?;
    if created == 0 {
        return Err(StoreError::Conflict("session id already in use".into()));
    }
    Ok(session)
}

pub async fn load(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    now: UnixMs,
) -> StoreResult<Option<Session>> {
    let value: redis::Value = redis::cmd("HGETALL")
        .arg(keys.session(id))
        .query_async(c)
        .await?;
    from_hash(id, &session_fields(&value)?, now)
}

pub async fn stage_password(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    hash: &str,
    now: UnixMs,
) -> StoreResult<bool> {
    let staged: i64 = SET_IF_LIVE
        .key(keys.session(id))
        .arg(now)
        .arg("p")
        .arg(hash)
        .invoke_async(c)
        .await?;
    Ok(staged == 1)
}

pub async fn delete(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    now: UnixMs,
) -> StoreResult<bool> {
    let live: i64 = DELETE
        .key(keys.session(id))
        .arg(now)
        .invoke_async(c)
        .await?;
    Ok(live == 1)
}

pub async fn put_code(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    hash: &[u8],
    until: UnixMs,
    now: UnixMs,
) -> StoreResult<CodeStored> {
    let parts = reply::parts(
        PUT_CODE
            .key(keys.session(id))
            .arg(now)
            .arg(hash)
            .arg(until)
            .invoke_async(c)
            .await?,
    )?;
    match reply::status(&parts)?.as_str() {
        "stored" => Ok(CodeStored::Stored {
            expires_at: reply::int(reply::at(&parts, 1)?)?,
        }),
        "nosession" => Ok(CodeStored::NoSession),
        other => Err(StoreError::Corrupt(format!("put_code answered {other}"))),
    }
}

pub async fn discard_code(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    hash: &[u8],
) -> StoreResult<bool> {
    let removed: i64 = DISCARD_CODE
        .key(keys.session(id))
        .arg(hash)
        .invoke_async(c)
        .await?;
    Ok(removed == 1)
}

pub async fn check_code(
    c: &mut ConnectionManager,
    keys: &Keys,
    id: &str,
    hash: &[u8],
    max_attempts: u32,
    now: UnixMs,
) -> StoreResult<CodeCheck> {
    let parts = reply::parts(
        CHECK_CODE
            .key(keys.session(id))
            .arg(now)
            .arg(hash)
            .arg(max_attempts)
            .invoke_async(c)
            .await?,
    )?;
    match reply::status(&parts)?.as_str() {
        "accepted" => {
            let fields = session_fields(reply::at(&parts, 1)?)?;
            let session = from_hash(id, &fields, now)?
                .ok_or_else(|| StoreError::Corrupt("an accepted session was empty".into()))?;
            Ok(CodeCheck::Accepted(session))
        }
        "wrong" => {
            let left = reply::int(reply::at(&parts, 1)?)?;
            Ok(CodeCheck::Wrong {
                attempts_left: u32::try_from(left).unwrap_or(0),
            })
        }
        "exhausted" => Ok(CodeCheck::Exhausted),
        "nocode" => Ok(CodeCheck::NoCode),
        "expired" => Ok(CodeCheck::Expired),
        "nosession" => Ok(CodeCheck::NoSession),
        other => Err(StoreError::Corrupt(format!("check_code answered {other}"))),
    }
}

/// The text fields of a session hash; the code hash (binary) is left out.
fn session_fields(value: &redis::Value) -> StoreResult<HashMap<String, String>> {
    let redis::Value::Array(items) = value else {
        return reply::fields(value);
    };
    let mut fields = HashMap::new();
    for pair in items.chunks(2) {
        if let [name, value] = pair {
            let name = reply::text(name)?;
            let value = if name == "h" {
                String::new()
            } else {
                reply::text(value)?
            };
            fields.insert(name, value);
        }
    }
    Ok(fields)
}

fn to_hash(session: &Session) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("b", session.brand.clone()),
        ("f", session.family.as_str().to_owned()),
        ("k", session.identifier.kind.as_str().to_owned()),
        ("v", session.identifier.value.clone()),
        ("n", "0".to_owned()),
        ("c", session.created_at.to_string()),
        ("x", session.expires_at.to_string()),
    ];
    let optional = [
        ("d", &session.device_id),
        ("m", &session.contact.mobile),
        ("e", &session.contact.email),
        ("p", &session.staged_password_hash),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.clone()))),
    );
    fields
}

/// The live session a hash holds, `None` when absent or ended.
fn from_hash(
    id: &str,
    fields: &HashMap<String, String>,
    now: UnixMs,
) -> StoreResult<Option<Session>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let expires_at = reply::field_ms(fields, "x")?;
    if expires_at <= now {
        return Ok(None);
    }
    let family: Family = reply::field(fields, "f")?
        .parse()
        .map_err(|_| StoreError::Corrupt("session family".into()))?;
    let kind: IdentifierType = reply::field(fields, "k")?
        .parse()
        .map_err(|_| StoreError::Corrupt("session identifier type".into()))?;
    let has_code = fields.contains_key("h")
        && fields
            .get("hx")
            .map(|t| reply::number(t))
            .transpose()?
            .is_some_and(|end| end > now);
    Ok(Some(Session {
        id: id.to_owned(),
        brand: reply::field(fields, "b")?.to_owned(),
        family,
        identifier: Identifier::new(kind, reply::field(fields, "v")?),
        device_id: fields.get("d").cloned(),
        contact: Contact {
            mobile: fields.get("m").cloned(),
            email: fields.get("e").cloned(),
        },
        staged_password_hash: fields.get("p").cloned(),
        failed_attempts: u32::try_from(reply::field_ms(fields, "n")?).unwrap_or(u32::MAX),
        has_code,
        created_at: reply::field_ms(fields, "c")?,
        expires_at,
    }))
}
