//! Token verification cost: a cache hit (the proxy's steady state), a full
//! verification per algorithm (a cache miss; measured through
//! `verify_expired_within`, which runs every check but skips the cache), and
//! the bare HMAC-SHA256 of the same signing input as a yardstick.
//! Run: `cargo bench --bench verify`; compare ratios, not absolute numbers.

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use portcullis::config::{Algorithm, SigningKey, Tokens};
use portcullis::tokens::{keygen, MintRequest, NoRevocations, Role, TokenService};
use std::future::Future;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

// The gateway runs on mimalloc (src/main.rs); its allocations are measured on it.
#[global_allocator]
static GLOBAL: portcullis::allocator::GatewayAllocator = portcullis::allocator::GatewayAllocator;

const SECRET: &str = "bench-secret-that-is-longer-than-32-bytes";

/// Runs a future that completes without waiting (verification never waits
/// unless a JWKS fetch or a revocation look-up is due).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("verification waited in a benchmark"),
    }
}

fn key(dir: &Path, alg: Algorithm, kid: &str) -> SigningKey {
    let mut key = SigningKey {
        kid: kid.into(),
        alg,
        secret_env: None,
        secret_file: None,
        create_if_missing: false,
        private_key: None,
        public_key: None,
    };
    if alg.is_hmac() {
        let file = dir.join(format!("{kid}.secret"));
        std::fs::write(&file, SECRET).expect("secret");
        key.secret_file = Some(file);
    } else {
        key.private_key = Some(keygen(alg, dir, kid).expect("keygen").private);
    }
    key
}

fn service(dir: &Path, alg: Algorithm, kid: &str) -> TokenService {
    let mut cfg = Tokens {
        signing: vec![key(dir, alg, kid)],
        ..Tokens::default()
    };
    cfg.cache.revocation_check_interval = portcullis::config::Dur::secs(3600);
    TokenService::new(&cfg, Arc::new(NoRevocations), false).expect("bench config")
}

fn request() -> MintRequest {
    MintRequest {
        uid: "u-1234567890".into(),
        brand: "DEMO".into(),
        role: Role::User,
        device: Some("8b0d4f1e-0b7a-4c55-9d8e-2f1f0c1c9b77".into()),
        identifiers: vec!["MOBILE|+15550100".into()],
        ttl: Some(Duration::from_secs(3600)),
        family: portcullis::tokens::new_family_id(),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");

    let hs = service(dir.path(), Algorithm::HS256, "hs");
    let token = hs.mint(&request()).expect("mint").token;
    ready(hs.verify(&token)).expect("valid");
    c.bench_function("verify/cache_hit", |b| {
        b.iter(|| ready(hs.verify(black_box(&token))).expect("valid"))
    });

    for (alg, kid) in [
        (Algorithm::HS256, "hs256"),
        (Algorithm::RS256, "rs256"),
        (Algorithm::ES256, "es256"),
        (Algorithm::EdDSA, "eddsa"),
    ] {
        let svc = service(dir.path(), alg, kid);
        let token = svc.mint(&request()).expect("mint").token;
        c.bench_function(&format!("verify/miss/{kid}"), |b| {
            b.iter(|| {
                ready(svc.verify_expired_within(black_box(&token), Duration::ZERO)).expect("valid")
            })
        });
    }

    let input = token
        .rsplit_once('.')
        .map(|(input, _)| input)
        .unwrap_or_default();
    c.bench_function("hmac_sha256/signing_input", |b| {
        b.iter(|| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
            mac.update(black_box(input.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
