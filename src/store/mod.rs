//! The store contract: every record the gateway keeps (users, login sessions,
//! one-time codes, counters, lockouts, revocations, generated secrets) and the
//! one async trait through which the auth flows reach them.
//!
//! Every read-modify-write that two gateway instances could race on is ONE
//! trait method (checking a code, counting a send, counting a password
//! failure, taking a rate-limit token, creating a user), so a shared backend
//! (Redis) implements each as one atomic script and the flows never need locks.
//!
//! Time: the store owns a [`Clock`]; methods take lifetimes as [`Duration`]s
//! and compute expiry from that clock. Absolute instants (token `exp`, `iat`)
//! are unix milliseconds ([`UnixMs`]); convert JWT seconds with `* 1000`.
//! Expired records are invisible to every read and removed by
//! [`Store::sweep_expired`]. Every implementation judges expiry by its
//! injected clock (a Redis backend passes "now" into its scripts and keeps
//! `PX` only for cleanup), so one contract suite runs against all of them.

pub mod clock;
#[cfg(test)]
pub mod contract;
pub mod migrate;
mod redis;
mod rules;
mod sqlite;
mod sweeper;

pub use clock::{Clock, ManualClock, SystemClock};
pub use redis::{RedisSettings, RedisStore};
pub use sqlite::SqliteStore;
pub use sweeper::spawn_sweeper;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Milliseconds since the unix epoch.
pub type UnixMs = i64;

/// An instant that never comes: a lock or revocation without end.
pub const NEVER: UnixMs = i64::MAX;

/// Length in bytes of the secrets made by [`Store::get_or_create_secret`].
pub const SECRET_LEN: usize = 32;

/// What the store can fail with. Callers map [`StoreError::Unavailable`] to
/// 503; the others are mistakes of the caller or of the stored data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or failed (I/O, busy, pool closed).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The operation names a user that does not exist.
    #[error("no such user")]
    UnknownUser,
    /// A new record collides with an existing one (session id already
    /// taken, identifier already held by another user).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The arguments cannot be stored (empty id, zero limit, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A stored value could not be read back (schema from the future, bad enum text).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The kind of an identifier, as written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IdentifierType {
    Mobile,
    Email,
    Username,
}

impl IdentifierType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierType::Mobile => "MOBILE",
            IdentifierType::Email => "EMAIL",
            IdentifierType::Username => "USERNAME",
        }
    }
}

impl fmt::Display for IdentifierType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IdentifierType {
    type Err = StoreError;
    /// Exactly `MOBILE`, `EMAIL` or `USERNAME`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "MOBILE" => Ok(IdentifierType::Mobile),
            "EMAIL" => Ok(IdentifierType::Email),
            "USERNAME" => Ok(IdentifierType::Username),
            other => Err(StoreError::Invalid(format!(
                "unknown identifier type {other:?}"
            ))),
        }
    }
}

/// One way a person names themselves: a type and a value. The store compares
/// values byte for byte; the flows normalise them first (e.g. lower-case email).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdentifierType,
    pub value: String,
}

impl Identifier {
    pub fn new(kind: IdentifierType, value: impl Into<String>) -> Self {
        Identifier {
            kind,
            value: value.into(),
        }
    }
}

/// Where codes can be sent besides the identifier itself (needed for USERNAME).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// The client family that opened a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Mobile,
    Web,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Mobile => "mobile",
            Family::Web => "web",
        }
    }
}

impl FromStr for Family {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mobile" => Ok(Family::Mobile),
            "web" => Ok(Family::Web),
            other => Err(StoreError::Invalid(format!("unknown family {other:?}"))),
        }
    }
}

/// An account. Brands are kept folded to ASCII lower case, so look-ups by
/// brand are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable random id (the token's `sub`/`uid`), chosen by the store.
    pub uid: String,
    pub brand: String,
    /// Every identifier the user can log in with, sorted; at least one.
    pub identifiers: Vec<Identifier>,
    pub contact: Contact,
    /// PHC string (argon2id), `None` until a password is set.
    pub password_hash: Option<String>,
    /// While `Some(t)` with `t` in the future, the account is locked
    /// ([`NEVER`] for an operator's lock without end). A lock that has
    /// passed reads back as `None`.
    pub locked_until: Option<UnixMs>,
    pub created_at: UnixMs,
}

/// What registration (or the operator's `user add`) knows about a new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub brand: String,
    /// At least one; no two of the same type.
    pub identifiers: Vec<Identifier>,
    pub contact: Contact,
    /// Set when the registering session staged one.
    pub password_hash: Option<String>,
}

/// A login session as token/generate opens it. Its fields are kept exactly
/// as given (the brand too); the flows compare them on later steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The caller's id (>= 128 bits of CSPRNG output), or `None` to let the
    /// store make one (see [`new_session_id`]).
    pub id: Option<String>,
    pub brand: String,
    pub family: Family,
    pub identifier: Identifier,
    /// Mobile only.
    pub device_id: Option<String>,
    pub contact: Contact,
    /// First-time password (PHC), committed when this session's code validates.
    pub staged_password_hash: Option<String>,
    pub ttl: Duration,
}

/// A live login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub brand: String,
    pub family: Family,
    pub identifier: Identifier,
    pub device_id: Option<String>,
    pub contact: Contact,
    pub staged_password_hash: Option<String>,
    /// Wrong codes tried so far in this session (survives a new code).
    pub failed_attempts: u32,
    /// Whether a code that has not expired waits for validation.
    pub has_code: bool,
    pub created_at: UnixMs,
    pub expires_at: UnixMs,
}

/// What happened to a stored code when it was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStored {
    /// The code is stored until `expires_at` (never after the session's end).
    Stored { expires_at: UnixMs },
    /// No live session with that id.
    NoSession,
}

/// The outcome of one try of a code, decided atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matched: code and session are consumed (deleted) and the
    /// session as it was is handed back (with its staged password).
    Accepted(Session),
    /// The code did not match; the try was counted.
    Wrong { attempts_left: u32 },
    /// The code did not match and that was the last allowed try: the
    /// session and its code are gone.
    Exhausted,
    /// The session lives but has no code (never generated, or discarded).
    NoCode,
    /// The code's time has passed (it is removed; the try is not counted).
    Expired,
    /// No live session with that id.
    NoSession,
}

/// Answer of the per-identifier send counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAllowance {
    /// Counted; `remaining` more sends fit in the current window.
    Allowed { remaining: u32 },
    /// The window is full (nothing counted); it ends at `until`.
    Refused { until: UnixMs },
}

/// How many wrong passwords lock an account and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within `window` that lock the account (>= 1).
    pub max_failures: u32,
    pub window: Duration,
    pub period: Duration,
}

/// Answer of [`Store::record_password_failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordFailure {
    /// Counted; `remaining` more failures before a lock.
    Counted { failures: u32, remaining: u32 },
    /// This failure locked the account until `until` (count it once in metrics).
    LockedNow { until: UnixMs },
    /// The account was already locked; nothing counted.
    AlreadyLocked { until: UnixMs },
}

/// A token bucket for the shared rate limiter (GCRA).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBucket {
    /// Sustained requests per second (> 0).
    pub rps: f64,
    /// Requests allowed at once (>= 1).
    pub burst: u32,
}

/// Answer of [`Store::take_rate_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: Duration },
}

/// A revocation question about one verified token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    pub jti: &'a str,
    /// The family shared by a token and the key issued with it.
    pub family: Option<&'a str>,
    pub uid: &'a str,
    /// The token's `iat`, in unix ms.
    pub issued_at: UnixMs,
}

/// Everything the gateway keeps. Used as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync {
    // ---- users (durable) ----

    /// The user of `brand` holding `identifier`.
    async fn find_user(&self, brand: &str, identifier: &Identifier) -> StoreResult<Option<User>>;

    /// The user with this uid.
    async fn get_user(&self, uid: &str) -> StoreResult<Option<User>>;

    /// Registration, atomically: when one of `new.identifiers` already
    /// belongs to a user of the brand, that user is returned unchanged with
    /// `false`; otherwise a user with a fresh random uid is created and
    /// returned with `true`. Identifiers held by two different users:
    /// `Conflict`.
    async fn find_or_create_user(&self, new: NewUser) -> StoreResult<(User, bool)>;

    /// Sets or replaces the password (PHC string). `UnknownUser` when absent.
    async fn set_password(&self, uid: &str, password_hash: &str) -> StoreResult<()>;

    /// Removes the user, their identifiers and counters. `false` when absent.
    async fn delete_user(&self, uid: &str) -> StoreResult<bool>;

    /// Locks the account until `until` ([`NEVER`] for no end).
    async fn lock_user(&self, uid: &str, until: UnixMs) -> StoreResult<()>;

    /// Lifts a lock and forgets counted password failures.
    async fn unlock_user(&self, uid: &str) -> StoreResult<()>;

    /// Up to `limit` users with uid greater than `after`, ordered by uid
    /// (paging for `portcullis migrate`).
    async fn list_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<User>>;

    /// Writes a user exactly as given (uid included), replacing any user
    /// with that uid; idempotent (`portcullis migrate`). `Conflict` when an
    /// identifier belongs to another uid.
    async fn import_user(&self, user: User) -> StoreResult<()>;

    // ---- sessions (ephemeral) ----

    /// Opens a session; `Conflict` when the caller's id is taken.
    async fn create_session(&self, new: NewSession) -> StoreResult<Session>;

    /// The live session with this id.
    async fn get_session(&self, id: &str) -> StoreResult<Option<Session>>;

    /// Stages a password (password/forget) on a live session; `false` when
    /// there is none.
    async fn stage_password(&self, session_id: &str, password_hash: &str) -> StoreResult<bool>;

    /// Ends a session and its code. `false` when there was none.
    async fn delete_session(&self, id: &str) -> StoreResult<bool>;

    // ---- one-time codes (ephemeral, bound to a session) ----

    /// Stores the keyed hash of a new code for the session, replacing any
    /// previous one; it expires after `ttl` or with the session, whichever
    /// comes first.
    async fn put_code(
        &self,
        session_id: &str,
        code_hash: &[u8],
        ttl: Duration,
    ) -> StoreResult<CodeStored>;

    /// Removes the session's code only if it is still this one (delivery
    /// failed: leave no code valid). `true` when removed.
    async fn discard_code(&self, session_id: &str, code_hash: &[u8]) -> StoreResult<bool>;

    /// One atomic try: compares `code_hash` in constant time with the stored
    /// one, counts a wrong try against `max_attempts` per session, and
    /// consumes code and session on success.
    async fn check_code(
        &self,
        session_id: &str,
        code_hash: &[u8],
        max_attempts: u32,
    ) -> StoreResult<CodeCheck>;

    // ---- counters ----

    /// Counts one code sent to `identifier` of `brand` if fewer than
    /// `max_sends` were sent in the current `window` (fixed window opened by
    /// the first send). The brand is compared without case.
    async fn count_code_send(
        &self,
        brand: &str,
        identifier: &Identifier,
        max_sends: u32,
        window: Duration,
    ) -> StoreResult<SendAllowance>;

    /// Counts a wrong password for the account; locks it when the policy's
    /// count is reached within its window. `UnknownUser` when absent.
    async fn record_password_failure(
        &self,
        uid: &str,
        policy: LockoutPolicy,
    ) -> StoreResult<PasswordFailure>;

    /// Forgets counted password failures (after a right password).
    async fn clear_password_failures(&self, uid: &str) -> StoreResult<()>;

    /// Takes one token from the shared bucket named `key` (GCRA).
    async fn take_rate_token(&self, key: &str, bucket: RateBucket) -> StoreResult<RateDecision>;

    // ---- revocations ----

    /// Revokes one token or key; remembered until `expires_at`: as long as
    /// the token can be presented anywhere (a web token's `exp` plus the
    /// `regenerate_window`; [`NEVER`] for a key without `exp`).
    async fn revoke_token(&self, jti: &str, expires_at: UnixMs) -> StoreResult<()>;

    /// Revokes a token family (token and key issued together) until `expires_at`.
    async fn revoke_family(&self, family: &str, expires_at: UnixMs) -> StoreResult<()>;

    /// Revokes everything issued to `uid` before `issued_before` (strictly
    /// earlier `iat`). Only ever moves the cut-off forward.
    ///
    /// JWT `iat` has whole seconds: pass the start of the current second
    /// (`now_ms / 1000 * 1000`), not `now_ms`, or the token minted right
    /// after (same second, `iat * 1000 < now_ms`) is revoked at birth.
    async fn revoke_user_before(&self, uid: &str, issued_before: UnixMs) -> StoreResult<()>;

    /// Whether any of the above covers this token.
    async fn is_revoked(&self, query: RevocationQuery<'_>) -> StoreResult<bool>;

    // ---- secrets and upkeep ----

    /// The secret named `name`: [`SECRET_LEN`] CSPRNG bytes made on first
    /// use and returned unchanged to every caller afterwards.
    async fn get_or_create_secret(&self, name: &str) -> StoreResult<Vec<u8>>;

    /// Ok when the backend answers (for `/readyz`).
    async fn health(&self) -> StoreResult<()>;

    /// Removes expired ephemeral records; returns how many.
    async fn sweep_expired(&self) -> StoreResult<u64>;

    /// Called just before the process forks into a daemon (`run --daemon`),
    /// after start-up's own calls: lets go of what the fork would break.
    /// Only the calling thread survives a fork, so a store served by a
    /// thread of its own (Redis) closes it with its connections and opens
    /// them again on the daemon's first call.
    fn prepare_to_fork(&self) {}
}

/// A fresh session id: 128 bits of CSPRNG output, URL-safe base64 (22 chars).
pub fn new_session_id() -> String {
    random_id()
}

/// 128 random bits as unpadded URL-safe base64.
pub(crate) fn random_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Opens the store the config names. A Redis store does not wait for
/// Redis: it connects on first use and reconnects by itself.
pub async fn open(
    config: &crate::config::Store,
    clock: Arc<dyn Clock>,
) -> StoreResult<Arc<dyn Store>> {
    match config.kind {
        crate::config::StoreKind::Sqlite => {
            let store = SqliteStore::open(&config.path, clock).await?;
            Ok(Arc::new(store))
        }
        crate::config::StoreKind::Redis => {
            let settings = RedisSettings::from_config(config)?;
            Ok(Arc::new(RedisStore::open(&settings, clock)?))
        }
    }
}
