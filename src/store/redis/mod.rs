//! The shared Redis store: several gateway instances on one Redis behave
//! as one. Every read-modify-write is one Lua script that receives "now"
//! from the store's clock, so expiry is judged the same way on every
//! instance and by the contract suite; `PX`/`PEXPIRE` only clean up.
//!
//! Connections come from a small pool of async connection managers that
//! reconnect by themselves. They and every call run on the store's own
//! runtime thread, so they outlive whichever runtime opened the store and
//! serve Pingora's runtimes alike. A gateway that forks into a daemon
//! closes them first (the thread would not survive the fork); the daemon's
//! first call opens them again. Every call is bounded by the connect and
//! command timeouts, so an outage answers `Unavailable` promptly.

mod counters;
mod error;
mod keys;
mod reply;
mod revocations;
mod sessions;
mod settings;
mod upkeep;
mod users;

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

use super::{
    Clock, CodeCheck, CodeStored, Identifier, LockoutPolicy, NewSession, NewUser, PasswordFailure,
    RateBucket, RateDecision, RevocationQuery, SendAllowance, Session, Store, StoreError,
    StoreResult, UnixMs, User,
};
use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use keys::Keys;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
pub use settings::RedisSettings;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The runtime the connections live on; shut down without blocking when
/// the last holder lets go.
struct StoreRuntime(Option<tokio::runtime::Runtime>);

impl Drop for StoreRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The pool and the runtime thread it lives on. Made again on first use
/// after `close_connections`: threads do not survive a fork, so a gateway
/// about to daemonize closes them and its daemon opens its own.
struct Connections {
    runtime: StoreRuntime,
    handle: tokio::runtime::Handle,
    pool: Box<[ConnectionManager]>,
    next: AtomicUsize,
}

impl Connections {
    /// Starts the runtime thread and prepares the pool without waiting for
    /// Redis: the gateway starts (not ready) while Redis is down and
    /// connects when it comes.
    fn start(
        client: &redis::Client,
        config: &ConnectionManagerConfig,
        pool_size: usize,
    ) -> StoreResult<Connections> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("redis-store")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the store runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let pool = {
            let _inside = runtime.enter();
            (0..pool_size.max(1))
                .map(|_| client.get_connection_manager_lazy(config.clone()))
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(Connections {
            runtime: StoreRuntime(Some(runtime)),
            handle,
            pool: pool.into(),
            next: AtomicUsize::new(0),
        })
    }

    /// One connection of the pool, in turn.
    fn connection(&self) -> ConnectionManager {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        self.pool[i].clone()
    }
}

/// The Redis implementation of [`Store`].
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    config: ConnectionManagerConfig,
    pool_size: usize,
    /// The open connections (shared by every clone of the store); none
    /// after `close_connections` until the next call.
    open: Arc<ArcSwapOption<Connections>>,
    /// Held while connections are being made, so that only one set is.
    opening: Arc<Mutex<()>>,
    keys: Keys,
    clock: Arc<dyn Clock>,
    /// The longest one call may take: a reconnect plus a command.
    deadline: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field("pool", &self.pool_size)
            .field("open", &self.open.load().is_some())
            .finish()
    }
}

impl RedisStore {
    /// Prepares the pool without waiting for Redis: the gateway starts (not
    /// ready) while Redis is down and connects when it comes.
    pub fn open(settings: &RedisSettings, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|e| error::bad_url(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connections = Connections::start(&client, &config, settings.pool_size)?;
        Ok(RedisStore {
            client,
            config,
            pool_size: settings.pool_size,
            open: Arc::new(ArcSwapOption::from_pointee(connections)),
            opening: Arc::new(Mutex::new(())),
            keys: Keys::new(&settings.key_prefix),
            clock,
            deadline: settings.connect_timeout + settings.command_timeout,
        })
    }

    /// The open connections, made first if `close_connections` closed them.
    fn connections(&self) -> StoreResult<Arc<Connections>> {
        if let Some(open) = self.open.load_full() {
            return Ok(open);
        }
        let _opening = self.opening.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = self.open.load_full() {
            return Ok(open); // another call made them meanwhile
        }
        let made = Arc::new(Connections::start(
            &self.client,
            &self.config,
            self.pool_size,
        )?);
        self.open.store(Some(made.clone()));
        Ok(made)
    }

    /// Closes the connections and stops the store's runtime thread, waiting
    /// (up to a second) until the sockets are closed; the next call opens
    /// them again. For a gateway about to fork into a daemon: the fork
    /// would keep the sockets but not the thread that serves them, so every
    /// call would time out.
    fn close_connections(&self) {
        let Some(open) = self.open.swap(None) else {
            return;
        };
        let Ok(mut connections) = Arc::try_unwrap(open) else {
            return; // a call in flight still holds them; the last one lets go
        };
        let Some(runtime) = connections.runtime.0.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Blocking is not allowed inside a runtime.
            runtime.shutdown_background();
        } else {
            drop(connections); // the pool's handles go before their runtime
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }

    /// Runs `op` on the store's runtime with a pooled connection, the key
    /// names and "now" from the clock, bounded by the deadline (then
    /// abandoned). Failures of the backend are counted in metrics.
    async fn run<T, F, Fut>(&self, kind: &'static str, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(ConnectionManager, Keys, UnixMs) -> Fut,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
    {
        let now = self.clock.now_ms();
        let connections = self.connections()?;
        let mut task =
            connections
                .handle
                .spawn(op(connections.connection(), self.keys.clone(), now));
        let result = match tokio::time::timeout(self.deadline, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("store task failed: {e}"))),
            Err(_) => {
                task.abort();
                Err(StoreError::Unavailable(format!(
                    "redis did not answer within {} ms",
                    self.deadline.as_millis()
                )))
            }
        };
        if let Err(StoreError::Unavailable(_) | StoreError::Corrupt(_)) = &result {
            crate::metrics::METRICS
                .store_errors_total
                .with_label_values(&[kind])
                .inc();
        }
        result
    }
}

/// Milliseconds from `now` until `until`, at least 1 (for `PX`).
fn px(now: UnixMs, until: UnixMs) -> i64 {
    until.saturating_sub(now).max(1)
}

use super::rules::{at_least_one, expiry, fold_brand, non_empty};

#[async_trait]
impl Store for RedisStore {
    async fn find_user(&self, brand: &str, identifier: &Identifier) -> StoreResult<Option<User>> {
        let key = self.keys.identifier(&fold_brand(brand), identifier);
        self.run("find_user", move |mut c, keys, now| async move {
            users::find(&mut c, &keys, &key, now).await
        })
        .await
    }

    async fn get_user(&self, uid: &str) -> StoreResult<Option<User>> {
        let uid = uid.to_owned();
        self.run("get_user", move |mut c, keys, now| async move {
            users::load(&mut c, &keys, &uid, now).await
        })
        .await
    }

    async fn find_or_create_user(&self, new: NewUser) -> StoreResult<(User, bool)> {
        users::check_parts(&new.brand, &new.identifiers)?;
        self.run("find_or_create_user", move |mut c, keys, now| async move {
            users::find_or_create(&mut c, &keys, new, now).await
        })
        .await
    }

    async fn set_password(&self, uid: &str, password_hash: &str) -> StoreResult<()> {
        non_empty(password_hash, "password hash")?;
        let (uid, hash) = (uid.to_owned(), password_hash.to_owned());
        self.run("set_password", move |mut c, keys, _| async move {
            users::set_field(&mut c, &keys, &uid, "pw", &hash).await
        })
        .await
    }

    async fn delete_user(&self, uid: &str) -> StoreResult<bool> {
        let uid = uid.to_owned();
        self.run("delete_user", move |mut c, keys, _| async move {
            users::delete(&mut c, &keys, &uid).await
        })
        .await
    }

    async fn lock_user(&self, uid: &str, until: UnixMs) -> StoreResult<()> {
        let uid = uid.to_owned();
        self.run("lock_user", move |mut c, keys, _| async move {
            users::set_field(&mut c, &keys, &uid, "lock", &until.to_string()).await
        })
        .await
    }

    async fn unlock_user(&self, uid: &str) -> StoreResult<()> {
        let uid = uid.to_owned();
        self.run("unlock_user", move |mut c, keys, _| async move {
            users::unlock(&mut c, &keys, &uid).await
        })
        .await
    }

    async fn list_users(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<User>> {
        let after = after.map(str::to_owned);
        self.run("list_users", move |mut c, keys, now| async move {
            users::list(&mut c, &keys, after.as_deref(), limit, now).await
        })
        .await
    }

    async fn import_user(&self, user: User) -> StoreResult<()> {
        if user.uid.is_empty() {
            return Err(StoreError::Invalid("uid must not be empty".into()));
        }
        users::check_parts(&user.brand, &user.identifiers)?;
        self.run("import_user", move |mut c, keys, _| async move {
            users::import(&mut c, &keys, user).await
        })
        .await
    }

    async fn create_session(&self, new: NewSession) -> StoreResult<Session> {
        sessions::check_new(&new)?;
        self.run("create_session", move |mut c, keys, now| async move {
            sessions::create(&mut c, &keys, new, now).await
        })
        .await
    }

    async fn get_session(&self, id: &str) -> StoreResult<Option<Session>> {
        let id = id.to_owned();
        self.run("get_session", move |mut c, keys, now| async move {
            sessions::load(&mut c, &keys, &id, now).await
        })
        .await
    }

    async fn stage_password(&self, session_id: &str, password_hash: &str) -> StoreResult<bool> {
        non_empty(password_hash, "password hash")?;
        let (id, hash) = (session_id.to_owned(), password_hash.to_owned());
        self.run("stage_password", move |mut c, keys, now| async move {
            sessions::stage_password(&mut c, &keys, &id, &hash, now).await
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run("delete_session", move |mut c, keys, now| async move {
            sessions::delete(&mut c, &keys, &id, now).await
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
        let (id, hash) = (session_id.to_owned(), code_hash.to_vec());
        self.run("put_code", move |mut c, keys, now| async move {
            let until = expiry(now, ttl, "code ttl")?;
            sessions::put_code(&mut c, &keys, &id, &hash, until, now).await
        })
        .await
    }

    async fn discard_code(&self, session_id: &str, code_hash: &[u8]) -> StoreResult<bool> {
        let (id, hash) = (session_id.to_owned(), code_hash.to_vec());
        self.run("discard_code", move |mut c, keys, _| async move {
            sessions::discard_code(&mut c, &keys, &id, &hash).await
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
        let (id, hash) = (session_id.to_owned(), code_hash.to_vec());
        self.run("check_code", move |mut c, keys, now| async move {
            sessions::check_code(&mut c, &keys, &id, &hash, max_attempts, now).await
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
        let key = self.keys.code_sends(&fold_brand(brand), identifier);
        self.run("count_code_send", move |mut c, keys, now| async move {
            let window_end = expiry(now, window, "send window")?;
            counters::count_send(&mut c, &keys, &key, max_sends, window_end, now).await
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
        self.run(
            "record_password_failure",
            move |mut c, keys, now| async move {
                counters::record_password_failure(&mut c, &keys, &uid, policy, now).await
            },
        )
        .await
    }

    async fn clear_password_failures(&self, uid: &str) -> StoreResult<()> {
        let uid = uid.to_owned();
        self.run(
            "clear_password_failures",
            move |mut c, keys, _| async move {
                counters::clear_password_failures(&mut c, &keys, &uid).await
            },
        )
        .await
    }

    async fn take_rate_token(&self, key: &str, bucket: RateBucket) -> StoreResult<RateDecision> {
        non_empty(key, "rate limit key")?;
        if !(bucket.rps.is_finite() && bucket.rps > 0.0) || bucket.burst == 0 {
            return Err(StoreError::Invalid(
                "a rate bucket needs rps > 0 and burst >= 1".into(),
            ));
        }
        let key = self.keys.rate_bucket(key);
        self.run("take_rate_token", move |mut c, _, now| async move {
            counters::take_rate_token(&mut c, &key, bucket, now).await
        })
        .await
    }

    async fn revoke_token(&self, jti: &str, expires_at: UnixMs) -> StoreResult<()> {
        non_empty(jti, "jti")?;
        let key = self.keys.revoked_token(jti);
        self.run("revoke_token", move |mut c, keys, now| async move {
            revocations::revoke_until(&mut c, &keys, &key, expires_at, now).await
        })
        .await
    }

    async fn revoke_family(&self, family: &str, expires_at: UnixMs) -> StoreResult<()> {
        non_empty(family, "token family")?;
        let key = self.keys.revoked_family(family);
        self.run("revoke_family", move |mut c, keys, now| async move {
            revocations::revoke_until(&mut c, &keys, &key, expires_at, now).await
        })
        .await
    }

    async fn revoke_user_before(&self, uid: &str, issued_before: UnixMs) -> StoreResult<()> {
        non_empty(uid, "uid")?;
        let uid = uid.to_owned();
        self.run("revoke_user_before", move |mut c, keys, _| async move {
            revocations::revoke_user_before(&mut c, &keys, &uid, issued_before).await
        })
        .await
    }

    async fn is_revoked(&self, query: RevocationQuery<'_>) -> StoreResult<bool> {
        let token = self.keys.revoked_token(query.jti);
        let user = self.keys.revoked_user(query.uid);
        let family = query.family.map(|f| self.keys.revoked_family(f));
        let issued_at = query.issued_at;
        self.run("is_revoked", move |mut c, _, now| async move {
            revocations::is_revoked(&mut c, &token, &user, family.as_deref(), issued_at, now).await
        })
        .await
    }

    async fn get_or_create_secret(&self, name: &str) -> StoreResult<Vec<u8>> {
        non_empty(name, "secret name")?;
        let name = name.to_owned();
        self.run("get_or_create_secret", move |mut c, keys, _| async move {
            upkeep::get_or_create_secret(&mut c, &keys, &name).await
        })
        .await
    }

    async fn health(&self) -> StoreResult<()> {
        self.run("health", |mut c, _, _| async move {
            upkeep::health(&mut c).await
        })
        .await
    }

    fn prepare_to_fork(&self) {
        self.close_connections();
    }

    async fn sweep_expired(&self) -> StoreResult<u64> {
        self.run("sweep", |mut c, keys, now| async move {
            upkeep::sweep_expired(&mut c, &keys, now).await
        })
        .await
    }
}
