//! Accounts in Redis: one hash per user, one key per identifier naming its
//! uid, and a sorted set of uids for paging. Registration and import check
//! and claim every identifier in one script.

use super::super::{Contact, Identifier, StoreError, StoreResult, UnixMs, User};
use super::keys::Keys;
use super::{fold_brand, reply};
use once_cell::sync::Lazy;
use redis::aio::ConnectionManager;
use std::collections::{BTreeSet, HashMap};

/// KEYS: users set, user hash, identifier keys. ARGV: prefix, uid, then the
/// hash's field/value pairs. Creates the user unless an identifier has an
/// owner, whose hash is answered instead.
static FIND_OR_CREATE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local owner = false
for i = 3, #KEYS do
  local uid = redis.call('GET', KEYS[i])
  if uid then
    if owner and owner ~= uid then return {'conflict'} end
    owner = uid
  end
end
if owner then
  return {'found', redis.call('HGETALL', ARGV[1] .. 'user:' .. owner)}
end
redis.call('HSET', KEYS[2], unpack(ARGV, 3))
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[2]) end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
return {'created'}
",
    )
});

/// KEYS: the identifier key. ARGV: prefix. The owner's hash, or nothing.
static FIND: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local uid = redis.call('GET', KEYS[1])
if not uid then return {} end
return redis.call('HGETALL', ARGV[1] .. 'user:' .. uid)
",
    )
});

/// KEYS: user hash. ARGV: field, value. 0 when the user is absent.
static SET_FIELD: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
",
    )
});

/// KEYS: user hash, password failures. 0 when the user is absent.
static UNLOCK: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], 'lock')
redis.call('DEL', KEYS[2])
return 1
",
    )
});

/// KEYS: user hash, users set, password failures. ARGV: uid.
/// Frees the identifiers the user still owns.
static DELETE: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
local ikeys = redis.call('HGET', KEYS[1], 'ikeys')
if not ikeys then return 0 end
for _, k in ipairs(cjson.decode(ikeys)) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
",
    )
});

/// KEYS: user hash, users set, identifier keys. ARGV: uid, then the hash's
/// field/value pairs. Replaces the user and its identifiers as given.
static IMPORT: Lazy<redis::Script> = Lazy::new(|| {
    redis::Script::new(
        r"
for i = 3, #KEYS do
  local uid = redis.call('GET', KEYS[i])
  if uid and uid ~= ARGV[1] then return {'conflict', i - 3} end
end
local old = redis.call('HGET', KEYS[1], 'ikeys')
if old then
  for _, k in ipairs(cjson.decode(old)) do
    if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
for i = 3, #KEYS do redis.call('SET', KEYS[i], ARGV[1]) end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return {'ok'}
",
    )
});

/// Refuses a user that could not be looked up again.
pub fn check_parts(brand: &str, identifiers: &[Identifier]) -> StoreResult<()> {
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

pub async fn find(
    c: &mut ConnectionManager,
    keys: &Keys,
    identifier_key: &str,
    now: UnixMs,
) -> StoreResult<Option<User>> {
    let value: redis::Value = FIND
        .key(identifier_key)
        .arg(keys.prefix())
        .invoke_async(c)
        .await?;
    from_hash(&reply::fields(&value)?, now)
}

pub async fn load(
    c: &mut ConnectionManager,
    keys: &Keys,
    uid: &str,
    now: UnixMs,
) -> StoreResult<Option<User>> {
    let value: redis::Value = redis::cmd("HGETALL")
        .arg(keys.user(uid))
        .query_async(c)
        .await?;
    from_hash(&reply::fields(&value)?, now)
}

pub async fn find_or_create(
    c: &mut ConnectionManager,
    keys: &Keys,
    new: super::super::NewUser,
    now: UnixMs,
) -> StoreResult<(User, bool)> {
    let mut identifiers = new.identifiers;
    identifiers.sort();
    let user = User {
        uid: uuid::Uuid::new_v4().to_string(),
        brand: fold_brand(&new.brand),
        identifiers,
        contact: new.contact,
        password_hash: new.password_hash,
        locked_until: None,
        created_at: now,
    };
    let identifier_keys = identifier_keys(keys, &user);
    let mut invocation = FIND_OR_CREATE.key(keys.users());
    invocation.key(keys.user(&user.uid));
    for key in &identifier_keys {
        invocation.key(key);
    }
    invocation.arg(keys.prefix()).arg(&user.uid);
    for (name, value) in to_hash(&user, &identifier_keys)? {
        invocation.arg(name).arg(value);
    }
    let parts = reply::parts(invocation.invoke_async(c).await?)?;
    match reply::status(&parts)?.as_str() {
        "created" => Ok((user, true)),
        "found" => {
            let found = from_hash(&reply::fields(reply::at(&parts, 1)?)?, now)?
                .ok_or_else(|| StoreError::Corrupt("an identifier names a missing user".into()))?;
            Ok((found, false))
        }
        "conflict" => Err(StoreError::Conflict(
            "the identifiers belong to different users".into(),
        )),
        other => Err(StoreError::Corrupt(format!(
            "registration answered {other}"
        ))),
    }
}

/// Sets one field of an existing user (password hash, lock).
pub async fn set_field(
    c: &mut ConnectionManager,
    keys: &Keys,
    uid: &str,
    field: &str,
    value: &str,
) -> StoreResult<()> {
    let changed: i64 = SET_FIELD
        .key(keys.user(uid))
        .arg(field)
        .arg(value)
        .invoke_async(c)
        .await?;
    found(changed)
}

pub async fn unlock(c: &mut ConnectionManager, keys: &Keys, uid: &str) -> StoreResult<()> {
    let changed: i64 = UNLOCK
        .key(keys.user(uid))
        .key(keys.password_failures(uid))
        .invoke_async(c)
        .await?;
    found(changed)
}

pub async fn delete(c: &mut ConnectionManager, keys: &Keys, uid: &str) -> StoreResult<bool> {
    let deleted: i64 = DELETE
        .key(keys.user(uid))
        .key(keys.users())
        .key(keys.password_failures(uid))
        .arg(uid)
        .invoke_async(c)
        .await?;
    Ok(deleted == 1)
}

/// Up to `limit` users after `after` in uid order.
pub async fn list(
    c: &mut ConnectionManager,
    keys: &Keys,
    after: Option<&str>,
    limit: usize,
    now: UnixMs,
) -> StoreResult<Vec<User>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let start = after.map_or_else(|| "-".to_owned(), |uid| format!("({uid}"));
    let uids: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys.users())
        .arg(start)
        .arg("+")
        .arg("BYLEX")
        .arg("LIMIT")
        .arg(0)
        .arg(limit)
        .query_async(c)
        .await?;
    let mut users = Vec::with_capacity(uids.len());
    for uid in uids {
        if let Some(user) = load(c, keys, &uid, now).await? {
            users.push(user);
        }
    }
    Ok(users)
}

pub async fn import(c: &mut ConnectionManager, keys: &Keys, user: User) -> StoreResult<()> {
    let mut user = user;
    user.brand = fold_brand(&user.brand);
    user.identifiers.sort();
    let identifier_keys = identifier_keys(keys, &user);
    let mut invocation = IMPORT.key(keys.user(&user.uid));
    invocation.key(keys.users());
    for key in &identifier_keys {
        invocation.key(key);
    }
    invocation.arg(&user.uid);
    for (name, value) in to_hash(&user, &identifier_keys)? {
        invocation.arg(name).arg(value);
    }
    let parts = reply::parts(invocation.invoke_async(c).await?)?;
    match reply::status(&parts)?.as_str() {
        "ok" => Ok(()),
        "conflict" => {
            let i = usize::try_from(reply::int(reply::at(&parts, 1)?)?).unwrap_or(usize::MAX);
            let kind = user
                .identifiers
                .get(i)
                .map_or_else(|| "an".to_owned(), |id| id.kind.to_string());
            Err(StoreError::Conflict(format!(
                "{kind} identifier held by another user"
            )))
        }
        other => Err(StoreError::Corrupt(format!("import answered {other}"))),
    }
}

fn identifier_keys(keys: &Keys, user: &User) -> Vec<String> {
    user.identifiers
        .iter()
        .map(|identifier| keys.identifier(&user.brand, identifier))
        .collect()
}

/// The user as hash fields; absent options are absent fields.
fn to_hash(user: &User, identifier_keys: &[String]) -> StoreResult<Vec<(&'static str, String)>> {
    let json = |what: &str, value: serde_json::Result<String>| {
        value.map_err(|e| StoreError::Invalid(format!("cannot encode {what}: {e}")))
    };
    let mut fields = vec![
        ("uid", user.uid.clone()),
        ("brand", user.brand.clone()),
        (
            "ids",
            json("identifiers", serde_json::to_string(&user.identifiers))?,
        ),
        (
            "ikeys",
            json("identifier keys", serde_json::to_string(identifier_keys))?,
        ),
        ("created", user.created_at.to_string()),
    ];
    let optional = [
        ("mobile", user.contact.mobile.clone()),
        ("email", user.contact.email.clone()),
        ("pw", user.password_hash.clone()),
        ("lock", user.locked_until.map(|t| t.to_string())),
    ];
    fields.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    Ok(fields)
}

/// The user a hash holds; `None` for an empty hash. A passed lock reads as none.
fn from_hash(fields: &HashMap<String, String>, now: UnixMs) -> StoreResult<Option<User>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let identifiers: Vec<Identifier> = serde_json::from_str(reply::field(fields, "ids")?)
        .map_err(|e| StoreError::Corrupt(format!("stored identifiers: {e}")))?;
    let locked_until = match fields.get("lock") {
        Some(t) => Some(reply::number(t)?).filter(|&t| t > now),
        None => None,
    };
    Ok(Some(User {
        uid: reply::field(fields, "uid")?.to_owned(),
        brand: reply::field(fields, "brand")?.to_owned(),
        identifiers,
        contact: Contact {
            mobile: fields.get("mobile").cloned(),
            email: fields.get("email").cloned(),
        },
        password_hash: fields.get("pw").cloned(),
        locked_until,
        created_at: reply::field_ms(fields, "created")?,
    }))
}

fn found(changed: i64) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::UnknownUser)
    } else {
        Ok(())
    }
}
