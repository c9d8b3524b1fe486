//! Password checks: the time of `/user/login` for an unknown account and
//! for a wrong password, side by side (they must not tell each other apart;
//! criterion records both distributions), and how long a task on a tokio
//! worker waits to run (the proxy path's view) with and without a storm of
//! argon2id checks running at the same time on the blocking pool.
//! Run: `cargo bench --bench passwords`; compare the pairs, not absolute numbers.

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::auth::{passwords, ApiRequest, AuthApi, AuthDeps, Settings};
use portcullis::bridges::Issuer;
use portcullis::config::{Brand, Config, Dur, Login, PasswordPolicy, SigningKey, Tokens};
use portcullis::otp::{CodeHasher, LogSender};
use portcullis::store::{Identifier, IdentifierType, NewUser, SqliteStore, Store, SystemClock};
use portcullis::tokens::{NoRevocations, TokenService};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PASSWORD: &str = "correct horse";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn config(dir: &std::path::Path) -> Config {
    let secret = dir.join("bench.secret");
    std::fs::write(&secret, "bench-secret-that-is-longer-than-32-bytes").expect("secret");
    let mut cfg = Config {
        tokens: Tokens {
            signing: vec![SigningKey {
                kid: "b1".into(),
                alg: portcullis::config::Algorithm::HS256,
                secret_env: None,
                secret_file: Some(secret),
                create_if_missing: false,
                private_key: None,
                public_key: None,
            }],
            ..Tokens::default()
        },
        ..Config::default()
    };
    // Never lock: every wrong password takes the counting path.
    cfg.brands.insert(
        "BENCH".into(),
        Brand {
            password_enabled: true,
            password: PasswordPolicy {
                min_length: 8,
                max_attempts: u32::MAX,
            },
            ..Brand::default()
        },
    );
    cfg.login = Some(Login {
        brand: "BENCH".into(),
        token_ttl: Dur::secs(3600),
    });
    cfg
}

fn login(email: &str, password: &str) -> ApiRequest {
    ApiRequest {
        method: http::Method::POST,
        path: "/user/login".into(),
        content_type: Some("application/json".into()),
        authorization: None,
        client_ip: None,
        body: serde_json::json!({"emailId": email, "password": password})
            .to_string()
            .into(),
    }
}

fn bench_login(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path());
    let rt = runtime();
    let api = rt.block_on(async {
        let clock = Arc::new(SystemClock);
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("bench.db"), clock.clone())
                .await
                .expect("store"),
        );
        let hash = passwords::hash(PASSWORD.into()).await.expect("hash");
        store
            .find_or_create_user(NewUser {
                brand: "BENCH".into(),
                identifiers: vec![Identifier::new(IdentifierType::Email, "ann@example.com")],
                contact: Default::default(),
                password_hash: Some(hash),
            })
            .await
            .expect("user");
        let tokens =
            TokenService::new(&cfg.tokens, Arc::new(NoRevocations), false).expect("tokens");
        Arc::new(AuthApi::new(
            Settings::from_config(&cfg),
            AuthDeps {
                store,
                tokens: Arc::new(Issuer(Arc::new(tokens))),
                sender: Arc::new(LogSender::new(false)),
                hasher: CodeHasher::new(vec![7; 32]).expect("hasher"),
                clock,
            },
        ))
    });
    let mut group = c.benchmark_group("user_login");
    group.sample_size(30);
    for (name, email, password) in [
        ("unknown_account", "nobody@example.com", PASSWORD),
        ("wrong_password", "ann@example.com", "wrong horse"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let answer = rt.block_on(api.handle(login(black_box(email), password)));
                assert!(answer.status == 404 || answer.status == 405);
            })
        });
    }
    group.finish();
}

fn bench_worker_under_storm(c: &mut Criterion) {
    let rt = runtime();
    let hash = rt.block_on(passwords::hash(PASSWORD.into())).expect("hash");
    let mut group = c.benchmark_group("worker_wait");
    group.bench_function("idle", |b| {
        b.iter(|| rt.block_on(async { tokio::spawn(async { black_box(1) }).await }))
    });
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..8 {
        let (stop, hash) = (stop.clone(), hash.clone());
        rt.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = passwords::verify("wrong horse".into(), Some(hash.clone())).await;
            }
        });
    }
    group.bench_function("password_storm", |b| {
        b.iter(|| rt.block_on(async { tokio::spawn(async { black_box(1) }).await }))
    });
    stop.store(true, Ordering::Relaxed);
    group.finish();
}

criterion_group!(benches, bench_login, bench_worker_under_storm);
criterion_main!(benches);
