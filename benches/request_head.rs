//! The gateway's own reading of a request head before Pingora parses it
//! (`proxy::request_head`): finding the end of the head and judging it, for
//! a short head and for one carrying a JWT (the proxy's common case). It is
//! paid on every request on top of Pingora's own parse.
//! Run: `cargo bench --bench request_head`.

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::proxy::request_head::{check, HeadLimits, HeadScan};
use std::hint::black_box;

const LIMITS: HeadLimits = HeadLimits {
    max_bytes: 32 * 1024,
    max_fields: 100,
};

fn judge(head: &[u8]) -> usize {
    let mut scan = HeadScan::default();
    let len = scan
        .advance(head, &LIMITS)
        .expect("accepted")
        .expect("complete");
    check(&head[..len], &LIMITS).expect("accepted");
    len
}

fn bench(c: &mut Criterion) {
    let short = b"GET /open/x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n".to_vec();
    // wrk's request in the load benchmark: a 420-character bearer token.
    let token = format!("eyJ{}", "a".repeat(417));
    let jwt = format!(
        "GET /jwt/x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .into_bytes();
    // A browser-like head: a dozen fields.
    let browser = concat!(
        "GET /api/orders?page=2 HTTP/1.1\r\nHost: shop.example.com\r\n",
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n",
        "Accept: application/json, text/plain, */*\r\nAccept-Language: en-GB,en;q=0.9\r\n",
        "Accept-Encoding: gzip, deflate, br\r\nReferer: https://shop.example.com/orders\r\n",
        "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n",
        "Sec-Fetch-Dest: empty\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: same-origin\r\n",
        "Connection: keep-alive\r\nCache-Control: no-cache\r\n\r\n"
    )
    .as_bytes()
    .to_vec();
    let mut group = c.benchmark_group("request head, scan and judge");
    group.bench_function("short", |b| b.iter(|| judge(black_box(&short))));
    group.bench_function("with a JWT", |b| b.iter(|| judge(black_box(&jwt))));
    group.bench_function("browser, 13 fields", |b| {
        b.iter(|| judge(black_box(&browser)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
