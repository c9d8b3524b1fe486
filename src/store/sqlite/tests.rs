//! The SQLite store against the shared contract, plus what only a file can
//! show: creation, WAL, migrations, durability across reopening, the sweeper.

use super::super::contract::run_store_contract;
use super::super::*;
use super::schema::CURRENT_VERSION;
use std::time::Duration;

const START: UnixMs = 1_700_000_000_000;

async fn open_at(path: &std::path::Path, clock: Arc<ManualClock>) -> SqliteStore {
    SqliteStore::open(path, clock).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_meets_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(START));
    let store = open_at(&dir.path().join("contract.db"), clock.clone()).await;
    run_store_contract(Arc::new(store), clock).await;
}

#[tokio::test]
async fn the_file_and_its_directories_are_created_in_wal_mode_on_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/portcullis.db");
    let store = open_at(&path, Arc::new(ManualClock::new(START))).await;
    assert!(path.is_file());
    assert_eq!(store.path(), path.as_path());
    assert_eq!(store.schema_version().await.unwrap(), CURRENT_VERSION);
    let probe = rusqlite::Connection::open(&path).unwrap();
    let mode: String = probe
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn registrations_and_secrets_survive_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let clock = Arc::new(ManualClock::new(START));
    let first = open_at(&path, clock.clone()).await;
    let new = NewUser {
        brand: "acme".into(),
        identifiers: vec![Identifier::new(IdentifierType::Email, "k@example.com")],
        contact: Contact::default(),
        password_hash: None,
    };
    let (user, _) = first.find_or_create_user(new).await.unwrap();
    first
        .set_password(&user.uid, "$argon2id$kept")
        .await
        .unwrap();
    first.revoke_user_before(&user.uid, START).await.unwrap();
    let pepper = first.get_or_create_secret("otp_pepper").await.unwrap();
    drop(first);

    let second = open_at(&path, clock).await;
    let found = second
        .find_user(
            "acme",
            &Identifier::new(IdentifierType::Email, "k@example.com"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.uid, user.uid);
    assert_eq!(found.password_hash.as_deref(), Some("$argon2id$kept"));
    assert_eq!(
        second.get_or_create_secret("otp_pepper").await.unwrap(),
        pepper
    );
    let query = RevocationQuery {
        jti: "j",
        family: None,
        uid: &user.uid,
        issued_at: START - 1,
    };
    assert!(second.is_revoked(query).await.unwrap());
    assert_eq!(
        second.schema_version().await.unwrap(),
        CURRENT_VERSION,
        "migrations run once"
    );
}

#[tokio::test]
async fn a_file_written_by_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
        .unwrap();
    drop(conn);
    let opened = SqliteStore::open(&path, Arc::new(ManualClock::new(START))).await;
    assert!(matches!(opened, Err(StoreError::Corrupt(_))));
}

#[tokio::test]
async fn a_path_that_cannot_be_created_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let opened =
        SqliteStore::open(&blocker.join("store.db"), Arc::new(ManualClock::new(START))).await;
    assert!(matches!(opened, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn the_config_opens_sqlite_and_refuses_redis_for_now() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::config::Store {
        path: dir.path().join("from-config.db"),
        ..Default::default()
    };
    let store = open(&config, Arc::new(SystemClock)).await.unwrap();
    store.health().await.unwrap();
    config.kind = crate::config::StoreKind::Redis;
    assert!(matches!(
        open(&config, Arc::new(SystemClock)).await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn the_sweeper_removes_expired_sessions_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sweep.db");
    let clock = Arc::new(ManualClock::new(START));
    let store: Arc<dyn Store> = Arc::new(open_at(&path, clock.clone()).await);
    let session = NewSession {
        id: Some("to-be-swept".into()),
        brand: "acme".into(),
        family: Family::Web,
        identifier: Identifier::new(IdentifierType::Mobile, "123456"),
        device_id: None,
        contact: Contact::default(),
        staged_password_hash: None,
        ttl: Duration::from_secs(60),
    };
    store.create_session(session).await.unwrap();
    clock.advance(Duration::from_secs(61));

    let task = spawn_sweeper(store, Duration::from_millis(10));
    let probe = rusqlite::Connection::open(&path).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows: i64 = probe
            .query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))
            .unwrap();
        if rows == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_go_on_and_the_store_is_unready_while_another_process_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let store = open_at(&path, Arc::new(ManualClock::new(START))).await;
    let email = Identifier::new(IdentifierType::Email, "held@example.com");
    let new = NewUser {
        brand: "acme".into(),
        identifiers: vec![email.clone()],
        contact: Contact::default(),
        password_hash: Some("$argon2id$held".into()),
    };
    let (user, _) = store.find_or_create_user(new).await.unwrap();

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let found = store.find_user("acme", &email).await.unwrap();
    assert_eq!(found.map(|u| u.uid), Some(user.uid.clone()));
    assert!(matches!(
        store.health().await,
        Err(StoreError::Unavailable(_))
    ));
    // Nothing to forget: a read, so a right password still logs in.
    store.clear_password_failures(&user.uid).await.unwrap();
    blocker.execute_batch("ROLLBACK").unwrap();
    store.health().await.unwrap();
}

/// Set in the child process of the kill -9 test: the file to register into.
const CRASH_CHILD_ENV: &str = "PORTCULLIS_STORE_KILL9_CHILD";

#[tokio::test]
async fn a_committed_registration_survives_kill_9() {
    let email = Identifier::new(IdentifierType::Email, "survivor@example.com");
    if let Ok(path) = std::env::var(CRASH_CHILD_ENV) {
        // Child: commit a registration, then die without any clean-up.
        let store = open_at(
            std::path::Path::new(&path),
            Arc::new(ManualClock::new(START)),
        )
        .await;
        let new = NewUser {
            brand: "acme".into(),
            identifiers: vec![email],
            contact: Contact::default(),
            password_hash: Some("$argon2id$survives".into()),
        };
        store.find_or_create_user(new).await.unwrap();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.db");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::sqlite::tests::a_committed_registration_survives_kill_9",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the child died of SIGKILL: {status:?}"
    );

    let store = open_at(&path, Arc::new(ManualClock::new(START))).await;
    let user = store.find_user("acme", &email).await.unwrap().unwrap();
    assert_eq!(user.password_hash.as_deref(), Some("$argon2id$survives"));
}

/// What a gateway about to daemonize does (`prepare_to_fork`): both
/// connections close, so none crosses the fork (the last one to close
/// checkpoints the WAL and removes it and its index), and the next calls
/// open them again on the same file.
#[tokio::test]
async fn closed_connections_let_go_of_the_file_and_the_next_call_opens_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fork.db");
    let store = open_at(&path, Arc::new(ManualClock::new(START))).await;
    let pepper = store.get_or_create_secret("pepper").await.unwrap();
    let wal = dir.path().join("fork.db-wal");
    let index = dir.path().join("fork.db-shm");
    assert!(wal.exists() && index.exists());

    store.prepare_to_fork();
    assert!(
        !wal.exists() && !index.exists(),
        "a connection is still open"
    );

    assert_eq!(store.get_or_create_secret("pepper").await.unwrap(), pepper);
    assert_eq!(store.schema_version().await.unwrap(), CURRENT_VERSION);
    assert!(wal.exists());
    store.health().await.unwrap();
}
