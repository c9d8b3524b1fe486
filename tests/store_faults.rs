//! SQLite store faults over HTTP (issue 9): a database file locked by another
//! process, or made read-only under the running gateway, gets the auth API a
//! 503 JSON envelope while proxied tokens keep flowing, and the gateway
//! recovers by itself when the fault clears, with nothing lost. A gateway
//! killed with SIGKILL in the middle of a registration load comes back with
//! every acknowledged registration whole and nothing half-written.

mod common;

use common::{Gateway, Upstream, Webhook};
use portcullis::store::{SqliteStore, Store, SystemClock};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORD: &str = "correct horse";

/// A gateway on its embedded store (the default `./data/portcullis.db`)
/// with a password brand, `/user/login` on it and one protected route.
async fn gateway(up: &Upstream, hook: &Webhook) -> Gateway {
    Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\n\
         routes:\n  - {{path: /api/, upstream: api}}\n\
         otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
         limits: {{rate: {{auth_per_ip: null, auth_per_identifier: null}}}}\n\
         login: {{brand: pwd, token_ttl: 1h}}\n\
         brands:\n  PWD: {{password_enabled: true}}\n",
        up.address(),
        hook.url()
    ))
    .await
}

fn database(gw: &Gateway) -> PathBuf {
    gw.dir.path().join("data/portcullis.db")
}

/// The auth API of one gateway address, as a client sees it.
#[derive(Clone)]
struct Api {
    base: String,
    admin: String,
    hook: Arc<Webhook>,
}

impl Api {
    fn of(gw: &Gateway, hook: &Arc<Webhook>) -> Api {
        Api {
            base: gw.url(""),
            admin: gw.admin(""),
            hook: hook.clone(),
        }
    }

    /// Status and JSON body; `Err` when no answer came (connection refused
    /// or cut).
    async fn post(&self, path: &str, body: Value) -> Result<(u16, Value), reqwest::Error> {
        let resp = common::client()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    async fn answer(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(path, body)
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// token/generate for a new account with its first password.
    async fn open_registration(&self, email: &str) -> Result<(u16, Value), reqwest::Error> {
        let staged = with(
            who(email),
            json!({"password": PASSWORD, "confirmPassword": PASSWORD}),
        );
        self.post("/auth/v1/token/generate", staged).await
    }

    /// otp/generate then otp/validate on an open registration session.
    async fn finish_registration(
        &self,
        email: &str,
        session: &str,
    ) -> Result<(u16, Value), reqwest::Error> {
        let bound = with(who(email), json!({"sessionId": session}));
        let (status, sent) = self.post("/auth/v1/otp/generate", bound.clone()).await?;
        if status != 200 {
            return Ok((status, sent));
        }
        let otp = self.hook.last_code_for(email).unwrap_or_default();
        self.post("/auth/v1/otp/validate", with(bound, json!({"otp": otp})))
            .await
    }

    /// The whole registration: 200 and the login answer, or the first
    /// refusal, or `Err` when an answer never came.
    async fn register(&self, email: &str) -> Result<(u16, Value), reqwest::Error> {
        let (status, opened) = self.open_registration(email).await?;
        match opened["user"]["sessionId"].as_str() {
            Some(session) if status == 200 => self.finish_registration(email, session).await,
            _ => Ok((status, opened)),
        }
    }

    /// `POST /user/login` with the account's password.
    async fn login(&self, email: &str) -> (u16, Value) {
        self.answer(
            "/user/login",
            json!({"emailId": email, "password": PASSWORD}),
        )
        .await
    }

    async fn protected(&self, token: &str) -> u16 {
        common::client()
            .get(format!("{}/api/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    async fn ready(&self) -> (u16, Value) {
        let resp = common::client()
            .get(format!("{}/readyz", self.admin))
            .send()
            .await
            .expect("readyz");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn who(email: &str) -> Value {
    json!({"identifierType": "EMAIL", "identifierValue": email, "brand": "pwd", "deviceId": "device-1"})
}

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("object").clone() {
        base[k] = v;
    }
    base
}

/// A registration that must succeed; its USER token.
async fn registered(api: &Api, email: &str) -> String {
    let (status, done) = api.register(email).await.expect("an answer");
    assert_eq!(status, 200, "registering {email}: {done}");
    done["auth"]["token"].as_str().expect("token").to_string()
}

/// The store-unavailable envelope of API.md section 3.
fn assert_unavailable(what: &str, (status, body): &(u16, Value)) {
    assert_eq!(*status, 503, "{what}: {body}");
    assert_eq!(
        body["status"],
        json!({"success": false, "code": 503, "message": "Service unavailable"}),
        "{what}"
    );
}

/// A gateway with data from before a fault: ann registered (with her
/// token), bob's registration opened but not finished.
struct BeforeTheFault {
    gw: Gateway,
    api: Api,
    token: String,
    bob_session: String,
    _up: Upstream,
}

impl BeforeTheFault {
    async fn start() -> BeforeTheFault {
        let (up, hook) = (
            Upstream::start("api").await,
            Arc::new(Webhook::start().await),
        );
        let gw = gateway(&up, &hook).await;
        let api = Api::of(&gw, &hook);
        let token = registered(&api, "ann@example.com").await;
        assert_eq!(api.protected(&token).await, 200);
        let (status, opened) = api.open_registration("bob@example.com").await.unwrap();
        assert_eq!(status, 200, "{opened}");
        let bob_session = opened["user"]["sessionId"].as_str().unwrap().to_string();
        BeforeTheFault {
            gw,
            api,
            token,
            bob_session,
            _up: up,
        }
    }

    /// After the fault, without a restart: ready, bob's registration
    /// finishes, carol registers, and all three log in with their passwords.
    async fn assert_recovered(&self) {
        assert_eq!(self.api.ready().await.0, 200);
        let (status, done) = self
            .api
            .finish_registration("bob@example.com", &self.bob_session)
            .await
            .unwrap();
        assert_eq!(status, 200, "the session opened before the fault: {done}");
        registered(&self.api, "carol@example.com").await;
        for email in ["ann@example.com", "bob@example.com", "carol@example.com"] {
            let (status, answer) = self.api.login(email).await;
            assert_eq!(status, 200, "{email}: {answer}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_locked_by_another_process_answers_503_and_recovers_by_itself() {
    let before = BeforeTheFault::start().await;
    let api = &before.api;

    // Another process takes the write lock and keeps it past the store's
    // busy timeout: every write the gateway tries waits, then gives up.
    let blocker = rusqlite::Connection::open(database(&before.gw)).expect("open the file");
    blocker
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("take the lock");
    let (opening, logging_in, proxied, readiness) = tokio::join!(
        api.open_registration("carol@example.com"),
        api.login("ann@example.com"),
        api.protected(&before.token),
        api.ready(),
    );
    assert_unavailable("a new login session", &opening.expect("an answer"));
    assert_eq!(
        logging_in.0, 200,
        "a right password needs only reads: {}",
        logging_in.1
    );
    assert_eq!(proxied, 200, "proxied tokens keep flowing");
    assert_eq!(readiness.0, 503, "not ready while locked: {}", readiness.1);
    assert_eq!(readiness.1["store"], "unavailable");
    blocker.execute_batch("ROLLBACK").expect("release the lock");
    drop(blocker);

    before.assert_recovered().await;
}

/// Files made immutable (`chattr +i`), which stops root too; made mutable
/// again when dropped, also when the test fails.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `None` with the reason when this machine cannot do it (no `chattr`,
    /// a filesystem without the flag, no CAP_LINUX_IMMUTABLE) or when the
    /// flag does not stop a write here.
    fn set(paths: &[PathBuf]) -> Result<Immutable, String> {
        let probe = paths[0].with_extension("probe");
        std::fs::write(&probe, b"probe").map_err(|e| format!("cannot write a probe: {e}"))?;
        let flagged = Immutable(vec![probe.clone()]);
        chattr("+i", &probe)?;
        let stops_writes = std::fs::OpenOptions::new()
            .append(true)
            .open(&probe)
            .is_err();
        drop(flagged);
        let _ = std::fs::remove_file(&probe);
        if !stops_writes {
            return Err("an immutable file still opens for writing".into());
        }
        let mut flagged = Immutable(Vec::new());
        for path in paths {
            chattr("+i", path)?;
            flagged.0.push(path.clone());
        }
        Ok(flagged)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = chattr("-i", path);
        }
    }
}

fn chattr(flag: &str, path: &Path) -> Result<(), String> {
    let out = std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .output()
        .map_err(|e| format!("chattr cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "chattr {flag} {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_made_read_only_answers_503_for_writes_and_recovers_by_itself() {
    let before = BeforeTheFault::start().await;
    let api = &before.api;

    // The database and its write-ahead log; not the shared-memory index,
    // which readers write to as well.
    let db = database(&before.gw);
    let files = [db.clone(), PathBuf::from(format!("{}-wal", db.display()))];
    let read_only = match Immutable::set(&files) {
        Ok(flagged) => flagged,
        Err(reason) => {
            eprintln!("SKIPPED: cannot make the database read-only here: {reason}");
            return;
        }
    };
    assert_unavailable(
        "a new login session",
        &api.open_registration("carol@example.com").await.unwrap(),
    );
    assert_unavailable(
        "finishing a registration",
        &api.finish_registration("bob@example.com", &before.bob_session)
            .await
            .unwrap(),
    );
    let (status, answer) = api.login("ann@example.com").await;
    assert_eq!(status, 200, "a right password needs only reads: {answer}");
    assert_eq!(
        api.protected(&before.token).await,
        200,
        "proxied tokens keep flowing"
    );
    drop(read_only);

    before.assert_recovered().await;
}

/// Concurrent clients registering accounts over HTTP during the crash test.
const WORKERS: usize = 8;
/// Acknowledged registrations to wait for before the kill.
const ACKNOWLEDGED_BEFORE_KILL: usize = 20;

/// What one client tried: each e-mail and whether its registration was
/// acknowledged (200); the last one may have had no answer.
type Tried = Vec<(String, bool)>;

/// Registers new accounts one after the other until `stop`, or until an
/// answer does not come (the gateway died under it).
async fn register_until(
    api: Api,
    worker: usize,
    acked: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
) -> Tried {
    let mut tried = Tried::new();
    for n in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let email = format!("w{worker}-{n}@example.com");
        match api.register(&email).await {
            Ok((200, _)) => {
                *acked.lock().unwrap() += 1;
                tried.push((email, true));
            }
            Ok((status, body)) => panic!("registering {email} under load: {status} {body}"),
            Err(_) => {
                tried.push((email, false));
                break;
            }
        }
    }
    tried
}

#[tokio::test(flavor = "multi_thread")]
async fn registrations_acknowledged_before_a_sigkill_are_whole_after_the_restart() {
    let (up, hook) = (
        Upstream::start("api").await,
        Arc::new(Webhook::start().await),
    );
    let gw = gateway(&up, &hook).await;
    let api = Api::of(&gw, &hook);
    let acked = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| tokio::spawn(register_until(api.clone(), w, acked.clone(), stop.clone())))
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while *acked.lock().unwrap() < ACKNOWLEDGED_BEFORE_KILL {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load never got going:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.signal("KILL");
    stop.store(true, Ordering::SeqCst);
    let mut tried = Tried::new();
    for worker in workers {
        tried.extend(worker.await.expect("a client"));
    }

    let gw = gw.restart().await;
    let api = Api::of(&gw, &hook);
    let logins =
        futures_util::future::join_all(tried.iter().map(|(email, _)| api.login(email))).await;
    for ((email, acknowledged), (status, body)) in tried.iter().zip(&logins) {
        if *acknowledged {
            assert_eq!(*status, 200, "{email} was acknowledged: {body}");
        } else {
            assert!(
                [200, 404].contains(status),
                "{email} had no answer; it must be whole or absent: {status} {body}"
            );
        }
    }

    // In the file itself: intact, and every account has its password.
    let file = rusqlite::Connection::open_with_flags(
        database(&gw),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the file");
    let check: String = file
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity check");
    assert_eq!(check, "ok");
    let store = SqliteStore::open(&database(&gw), Arc::new(SystemClock))
        .await
        .expect("open the store");
    let users = store
        .list_users(None, 10_000)
        .await
        .expect("every user reads back");
    let acknowledged = tried.iter().filter(|(_, acked)| *acked).count();
    assert!(
        (acknowledged..=tried.len()).contains(&users.len()),
        "{} users for {acknowledged} acknowledged of {} tried",
        users.len(),
        tried.len()
    );
    for user in &users {
        assert!(user.password_hash.is_some(), "half-written: {}", user.uid);
        let email = &user.identifiers.first().expect("an identifier").value;
        assert!(tried.iter().any(|(e, _)| e == email), "unknown {email}");
    }
}
