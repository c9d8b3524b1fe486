//! The embedded SQLite store: one file (WAL), created on first run, one
//! connection for writes and one for reads (WAL lets reads go on while a
//! write waits for another process's lock), each behind a fair mutex, every
//! call run on the blocking pool and answered within `BUSY_TIMEOUT` (queue
//! and lock waits included), every read-modify-write one `BEGIN IMMEDIATE`
//! transaction. A gateway that forks into a daemon closes both first; the
//! daemon's first calls open them again.

mod codes;
mod counters;
mod error;
mod revocations;
mod schema;
mod sessions;
mod upkeep;
mod users;

use super::{
    Clock, CodeCheck, CodeStored, Identifier, LockoutPolicy, NewSession, NewUser, PasswordFailure,
    RateBucket, RateDecision, RevocationQuery, SendAllowance, Session, Store, StoreError,
    StoreResult, UnixMs, User,
};
use async_trait::async_trait;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long a call may wait in all: for its connection (behind the calls
/// ahead of it) and then for another process's lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the readiness probe waits for the write lock.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// The SQLite implementation of [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    /// Writes and read-modify-write transactions, one at a time.
    writer: Link,
    /// Plain reads (`query_only`).
    reader: Link,
    clock: Arc<dyn Clock>,
    path: Arc<Path>,
}

/// One of the store's two connections to the file, and how it is opened.
/// None after `prepare_to_fork` until its next call opens it again: SQLite
/// connections must not cross a fork (the process's locks on the file do
/// not, so another process could take the file as unused and reset its
/// WAL index under the daemon).
#[derive(Clone)]
struct Link {
    conn: Arc<Mutex<Option<Connection>>>,
    open: fn(&Path) -> StoreResult<Connection>,
}

impl Link {
    fn new(conn: Connection, open: fn(&Path) -> StoreResult<Connection>) -> Link {
        Link {
            conn: Arc::new(Mutex::new(Some(conn))),
            open,
        }
    }

    /// Closes the connection unless a call holds it.
    fn close(&self) {
        if let Ok(mut conn) = self.conn.try_lock() {
            conn.take();
        }
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if needed) the file at
    /// `path`, sets WAL, `synchronous=NORMAL`, foreign keys and the busy
    /// timeout, and applies pending migrations.
    pub async fn open(path: &Path, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let (writer, reader) = tokio::task::spawn_blocking(move || {
            let writer = open_connection(&opened)?;
            Ok::<_, StoreError>((writer, open_reader(&opened)?))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("opening the store failed: {e}")))??;
        Ok(SqliteStore {
            writer: Link::new(writer, open_connection),
            reader: Link::new(reader, open_reader),
            clock,
            path: path.into(),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        self.read("schema_version", |conn, _| schema::version(conn))
            .await
    }

    /// Runs a write on the writer connection (see [`Self::call`]).
    async fn run<T, F>(&self, kind: &'static str, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, UnixMs) -> StoreResult<T> + Send + 'static,
    {
        self.call(&self.writer, kind, BUSY_TIMEOUT, op).await
    }

    /// Runs a plain read on the reader connection (see [`Self::call`]).
    async fn read<T, F>(&self, kind: &'static str, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, UnixMs) -> StoreResult<T> + Send + 'static,
    {
        self.call(&self.reader, kind, BUSY_TIMEOUT, op).await
    }

    /// Runs `op` on the blocking pool with the link's connection (opened
    /// first if it was closed) and the clock's "now" read under its lock
    /// (so time never runs backwards between its transactions). Waiting for the connection and then for another
    /// process's lock on the file take at most `within` together; after
    /// that the call is unavailable, so a locked file answers every caller
    /// in bounded time instead of queueing them. Failures of the backend are
    /// counted in metrics.
    async fn call<T, F>(
        &self,
        link: &Link,
        kind: &'static str,
        within: Duration,
        op: F,
    ) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, UnixMs) -> StoreResult<T> + Send + 'static,
    {
        let deadline = Instant::now() + within;
        let clock = Arc::clone(&self.clock);
        let (open, path) = (link.open, Arc::clone(&self.path));
        let result = match tokio::time::timeout(within, Arc::clone(&link.conn).lock_owned()).await {
            Err(_) => Err(StoreError::Unavailable(format!(
                "the store stayed busy for {within:?}"
            ))),
            // A panic in `op` drops the guard (and rolls back an open
            // transaction), so the connection stays usable.
            Ok(mut guard) => tokio::task::spawn_blocking(move || {
                let conn = match &mut *guard {
                    Some(conn) => conn,
                    closed @ None => closed.insert(open(&path)?),
                };
                conn.busy_timeout(deadline.saturating_duration_since(Instant::now()))?;
                let now = clock.now_ms();
                op(conn, now)
            })
            .await
            .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))
            .and_then(|r| r),
        };
        if let Err(StoreError::Unavailable(_) | StoreError::Corrupt(_)) = &result {
            crate::metrics::METRICS
                .store_errors_total
                .with_label_values(&[kind])
                .inc();
        }
        result
    }

    /// Like [`Self::run`], inside one `BEGIN IMMEDIATE` transaction that is
    /// committed when `op` succeeds and rolled back otherwise.
    async fn atomically<T, F>(&self, kind: &'static str, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, UnixMs) -> StoreResult<T> + Send + 'static,
    {
        self.run(kind, move |conn, now| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = op(&tx, now)?;
            tx.commit()?;
            Ok(value)
        })
        .await
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "{} cannot use WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    // WAL + NORMAL: a commit survives a crash of the process (kill -9); only
    // a power loss may drop the last transactions.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// The reader: a second connection to the file `open_connection` prepared,
/// refusing writes.
fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

use super::rules::{at_least_one, expiry, fold_brand, non_empty};

#[async_trait]
impl Store for SqliteStore {
    async fn find_user(&self, brand: &str, identifier: &Identifier) -> StoreResult<Option<User>> {
        let brand = fold_brand(brand);
        let identifier = identifier.clone();
        self.read("find_user", move |conn, now| {
            users::find(conn, &brand, &identifier, now)
        })
        .await
    }

    async fn get_user(&self, uid: &str) -> StoreResult<Option<User>> {
        let uid = uid.to_owned();
        self.read("get_user", move |conn, now| users::load(conn, &uid, now))
            .await
    }

    async fn find_or_create_user(&self, new: NewUser) -> StoreResult<(User, bool)> {
        users::check_new(&new)?;
        self.atomically("find_or_create_user", move |tx, now| {
            users::find_or_create(tx, new, now)
        })
        .await
    }

    async fn set_password(&self, uid: &str, password_hash: &str) -> StoreResult<()> {
        non_empty(password_hash, "password hash")?;
        let uid = uid.to_owned();
        let hash = password_hash.to_owned();
        self.run("set_password", move |conn, _| {
            users::set_password(conn, &uid, &hash)
        })
        .await
    }

    async fn delete_user(&self, uid: &str) -> StoreResult<bool> {
        let uid = uid.to_owned();
        self.run("delete_user", move |conn, _| users::delete(conn, &uid))
            .await
    }

    async fn lock_user(&self, uid: &str, until: UnixMs) -> StoreResult<()> {
        let uid = uid.to_owned();
        self.run("lock_user", move |conn, _| users::lock(conn, &uid, until))
            .await
    }

    async fn unlock_user(&self, uid: &str) -> StoreResult<()> {
        let uid = uid.to_owned();
        self.atomically("unlock_user", move |tx, _| users::unlock(tx, &uid))
            .await
    }

    async fn list_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<User>> {
        let after = after.unwrap_or("").to_owned();
        self.read("list_users", move |conn, now| {
            users::list(conn, &after, limit, now)
        })
        .await
    }

    async fn import_user(&self, user: User) -> StoreResult<()> {
        users::check_imported(&user)?;
        self.atomically("import_user", move |tx, _| users::import(tx, user))
            .await
    }

    async fn create_session(&self, new: NewSession) -> StoreResult<Session> {
        sessions::check_new(&new)?;
        self.atomically("create_session", move |tx, now| {
            sessions::create(tx, new, now)
        })
        .await
    }

    async fn get_session(&self, id: &str) -> StoreResult<Option<Session>> {
        let id = id.to_owned();
        self.read("get_session", move |conn, now| {
            sessions::load(conn, &id, now)
        })
        .await
    }

    async fn stage_password(&self, session_id: &str, password_hash: &str) -> StoreResult<bool> {
        non_empty(password_hash, "password hash")?;
        let id = session_id.to_owned();
        let hash = password_hash.to_owned();
        self.run("stage_password", move |conn, now| {
            sessions::stage_password(conn, &id, &hash, now)
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.atomically("delete_session", move |tx, now| {
            sessions::delete(tx, &id, now)
        })
        .await
    }

    async fn put_code(
        &self,
        session_id: &str,
        code_hash: &[u8],
        ttl: Duration,
    ) -> StoreResult<CodeStored> {
        if code_hash.is_empty() {
            return Err(StoreError::Invalid("code hash must not be empty".into()));
        }
        let id = session_id.to_owned();
        let hash = code_hash.to_vec();
        self.atomically("put_code", move |tx, now| {
            codes::put(tx, &id, &hash, ttl, now)
        })
        .await
    }

    async fn discard_code(&self, session_id: &str, code_hash: &[u8]) -> StoreResult<bool> {
        let id = session_id.to_owned();
        let hash = code_hash.to_vec();
        self.run("discard_code", move |conn, _| {
            codes::discard(conn, &id, &hash)
        })
        .await
    }

    async fn check_code(
        &self,
        session_id: &str,
        code_hash: &[u8],
        max_attempts: u32,
    ) -> StoreResult<CodeCheck> {
        at_least_one(max_attempts, "max_attempts")?;
        let id = session_id.to_owned();
        let hash = code_hash.to_vec();
        self.atomically("check_code", move |tx, now| {
            codes::check(tx, &id, &hash, max_attempts, now)
        })
        .await
    }

    async fn count_code_send(
        &self,
        brand: &str,
        identifier: &Identifier,
        max_sends: u32,
        window: Duration,
    ) -> StoreResult<SendAllowance> {
        at_least_one(max_sends, "max_sends")?;
        let brand = fold_brand(brand);
        let identifier = identifier.clone();
        self.atomically("count_code_send", move |tx, now| {
            counters::count_send(tx, &brand, &identifier, max_sends, window, now)
        })
        .await
    }

    async fn record_password_failure(
        &self,
        uid: &str,
        policy: LockoutPolicy,
    ) -> StoreResult<PasswordFailure> {
        at_least_one(policy.max_failures, "max_failures")?;
        let uid = uid.to_owned();
        self.atomically("record_password_failure", move |tx, now| {
            counters::record_password_failure(tx, &uid, policy, now)
        })
        .await
    }

    async fn clear_password_failures(&self, uid: &str) -> StoreResult<()> {
        // Only a read when nothing is counted, so a right password still
        // logs in while writes wait for a lock or fail.
        let owned = uid.to_owned();
        let counted = self
            .read("clear_password_failures", move |conn, _| {
                counters::has_password_failures(conn, &owned)
            })
            .await?;
        if !counted {
            return Ok(());
        }
        let uid = uid.to_owned();
        self.run("clear_password_failures", move |conn, _| {
            counters::clear_password_failures(conn, &uid)
        })
        .await
    }

    async fn take_rate_token(&self, key: &str, bucket: RateBucket) -> StoreResult<RateDecision> {
        non_empty(key, "rate limit key")?;
        if !(bucket.rps.is_finite() && bucket.rps > 0.0) || bucket.burst == 0 {
            return Err(StoreError::Invalid(
                "a rate bucket needs rps > 0 and burst >= 1".into(),
            ));
        }
        let key = key.to_owned();
        self.atomically("take_rate_token", move |tx, now| {
            counters::take_rate_token(tx, &key, bucket, now)
        })
        .await
    }

    async fn revoke_token(&self, jti: &str, expires_at: UnixMs) -> StoreResult<()> {
        non_empty(jti, "jti")?;
        let jti = jti.to_owned();
        self.run("revoke_token", move |conn, _| {
            revocations::revoke_token(conn, &jti, expires_at)
        })
        .await
    }

    async fn revoke_family(&self, family: &str, expires_at: UnixMs) -> StoreResult<()> {
        non_empty(family, "token family")?;
        let family = family.to_owned();
        self.run("revoke_family", move |conn, _| {
            revocations::revoke_family(conn, &family, expires_at)
        })
        .await
    }

    async fn revoke_user_before(&self, uid: &str, issued_before: UnixMs) -> StoreResult<()> {
        non_empty(uid, "uid")?;
        let uid = uid.to_owned();
        self.run("revoke_user_before", move |conn, _| {
            revocations::revoke_user_before(conn, &uid, issued_before)
        })
        .await
    }

    async fn is_revoked(&self, query: RevocationQuery<'_>) -> StoreResult<bool> {
        let jti = query.jti.to_owned();
        let family = query.family.map(str::to_owned);
        let uid = query.uid.to_owned();
        let issued_at = query.issued_at;
        self.read("is_revoked", move |conn, now| {
            revocations::is_revoked(conn, &jti, family.as_deref(), &uid, issued_at, now)
        })
        .await
    }

    async fn get_or_create_secret(&self, name: &str) -> StoreResult<Vec<u8>> {
        non_empty(name, "secret name")?;
        let name = name.to_owned();
        self.atomically("get_or_create_secret", move |tx, now| {
            upkeep::get_or_create_secret(tx, &name, now)
        })
        .await
    }

    async fn health(&self) -> StoreResult<()> {
        self.read("health", |conn, _| upkeep::health(conn)).await?;
        self.call(&self.writer, "health", HEALTH_TIMEOUT, |conn, _| {
            upkeep::writable(conn)
        })
        .await
    }

    async fn sweep_expired(&self) -> StoreResult<u64> {
        self.atomically("sweep", upkeep::sweep_expired).await
    }

    fn prepare_to_fork(&self) {
        self.writer.close();
        self.reader.close();
    }
}

#[cfg(test)]
mod tests;
