//! The Redis store against the shared contract on a real `redis-server`,
//! plus what only Redis shows: TTLs on ephemeral keys, the key prefix, an
//! outage answered promptly and recovered from without reopening.

use super::super::contract::run_store_contract;
use super::super::*;
use super::test_server::RedisServer;
use super::{RedisSettings, RedisStore};
use std::time::{Duration, Instant};

const START: UnixMs = 1_700_000_000_000;

fn settings(server: &RedisServer, prefix: &str) -> RedisSettings {
    RedisSettings {
        url: server.url(),
        key_prefix: prefix.into(),
        pool_size: 4,
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(500),
    }
}

fn open(server: &RedisServer, prefix: &str, clock: Arc<dyn Clock>) -> RedisStore {
    RedisStore::open(&settings(server, prefix), clock).unwrap()
}

async fn raw(server: &RedisServer) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_meets_the_store_contract() {
    let server = RedisServer::start();
    let clock = Arc::new(ManualClock::new(START));
    let store = open(&server, "contract:", clock.clone());
    run_store_contract(Arc::new(store), clock).await;
}

#[tokio::test]
async fn ephemeral_records_carry_a_ttl_and_users_do_not() {
    let server = RedisServer::start();
    let store = open(&server, "ttl:", Arc::new(SystemClock));
    let (user, _) = store
        .find_or_create_user(NewUser {
            brand: "acme".into(),
            identifiers: vec![Identifier::new(IdentifierType::Email, "t@example.com")],
            contact: Contact::default(),
            password_hash: None,
        })
        .await
        .unwrap();
    let session = store
        .create_session(NewSession {
            id: None,
            brand: "acme".into(),
            family: Family::Web,
            identifier: Identifier::new(IdentifierType::Email, "t@example.com"),
            device_id: None,
            contact: Contact::default(),
            staged_password_hash: None,
            ttl: Duration::from_secs(600),
        })
        .await
        .unwrap();
    store
        .revoke_token("jti-1", SystemClock.now_ms() + 60_000)
        .await
        .unwrap();
    let mut c = raw(&server).await;
    let pttl = |key: String| {
        let mut c = c.clone();
        async move {
            let ms: i64 = ::redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut c)
                .await
                .unwrap();
            ms
        }
    };
    let session_ttl = pttl(format!("ttl:session:{}", session.id)).await;
    assert!(
        session_ttl > 590_000 && session_ttl <= 600_000,
        "{session_ttl}"
    );
    let revoked_ttl = pttl("ttl:revoked:jti:jti-1".into()).await;
    assert!(revoked_ttl > 0 && revoked_ttl <= 60_000, "{revoked_ttl}");
    assert_eq!(
        pttl(format!("ttl:user:{}", user.uid)).await,
        -1,
        "users are durable"
    );
    let foreign: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(foreign.iter().all(|k| k.starts_with("ttl:")), "{foreign:?}");
}

#[tokio::test]
async fn two_prefixes_on_one_redis_do_not_see_each_other() {
    let server = RedisServer::start();
    let a = open(&server, "a:", Arc::new(SystemClock));
    let b = open(&server, "b:", Arc::new(SystemClock));
    let pepper_a = a.get_or_create_secret("otp_pepper").await.unwrap();
    let pepper_b = b.get_or_create_secret("otp_pepper").await.unwrap();
    assert_ne!(pepper_a, pepper_b);
}

#[tokio::test]
async fn an_outage_answers_unavailable_promptly_and_recovery_needs_no_reopening() {
    let mut server = RedisServer::start();
    let store = open(&server, "outage:", Arc::new(SystemClock));
    store.health().await.unwrap();

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let result = store.get_session("any").await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "answered after {:?}",
            started.elapsed()
        );
    }
    assert!(store.health().await.is_err());

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.health().await.is_err() {
        assert!(Instant::now() < deadline, "the store never reconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.get_session("any").await.unwrap(), None);
}

#[tokio::test]
async fn a_store_opens_while_redis_is_down_and_serves_once_it_is_up() {
    let mut server = RedisServer::start();
    server.stop();
    let store = open(&server, "late:", Arc::new(SystemClock));
    assert!(store.health().await.is_err());
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.health().await.is_err() {
        assert!(Instant::now() < deadline, "the store never connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_password_in_the_url_is_used_and_a_wrong_one_is_refused_without_echoing_it() {
    let server = RedisServer::start_with_password("right-pass-5521");
    let good = open(&server, "auth:", Arc::new(SystemClock));
    good.health().await.unwrap();

    let mut wrong = settings(&server, "auth:");
    wrong.url = wrong.url.replace("right-pass-5521", "wrong-pass-9932");
    let refused = RedisStore::open(&wrong, Arc::new(SystemClock))
        .unwrap()
        .health()
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");
    assert!(!refused.to_string().contains("pass"), "{refused}");
    assert!(
        !format!("{wrong:?}").contains("pass"),
        "settings hide the URL"
    );
}

/// Waits (up to two seconds) until Redis has `n` clients connected; the
/// last count seen.
async fn clients_connected(conn: &mut ::redis::aio::MultiplexedConnection, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let info: String = ::redis::cmd("INFO")
            .arg("clients")
            .query_async(conn)
            .await
            .unwrap();
        let count = info
            .lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .and_then(|c| c.trim().parse().ok())
            .expect("INFO clients names connected_clients");
        if count == n || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a gateway about to daemonize does (`prepare_to_fork`): the store's
/// sockets close with its runtime thread, so none is left in the daemon
/// without a thread to serve it, and the next call opens them again.
#[test]
fn closed_connections_are_gone_from_redis_and_the_next_call_opens_them_again() {
    let server = RedisServer::start();
    let store = open(&server, "fork:", Arc::new(SystemClock));
    let check = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut watcher = check.block_on(raw(&server));
    let use_every_connection = |store: &RedisStore| {
        check.block_on(async {
            for _ in 0..8 {
                store.list_users(None, 1).await.unwrap(); // the pool in turn
            }
            store.get_or_create_secret("pepper").await.unwrap()
        })
    };
    let before = use_every_connection(&store);
    assert_eq!(
        check.block_on(clients_connected(&mut watcher, 1 + 4)),
        1 + 4
    );

    // Outside any runtime, as `server::build` calls it.
    store.prepare_to_fork();
    assert_eq!(check.block_on(clients_connected(&mut watcher, 1)), 1);

    assert_eq!(
        use_every_connection(&store),
        before,
        "the same store answers"
    );
    assert_eq!(
        check.block_on(clients_connected(&mut watcher, 1 + 4)),
        1 + 4
    );
}
