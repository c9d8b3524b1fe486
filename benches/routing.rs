//! Route matching cost with 100 routes: the longest-prefix winner near the
//! end of the table, a host-bound route, and a miss. Target: under 100 ns.
//! Run: `cargo bench --bench routing`.

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis::config::Route;
use portcullis::proxy::router::{RouteMatch, Router};
use std::hint::black_box;

fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    for i in 0..90 {
        let yaml = format!("{{path: /service-{i:02}/v1/, upstream: api}}");
        out.push(serde_norway::from_str(&yaml).expect("route"));
    }
    for i in 0..9 {
        let yaml = format!("{{path: /tenant/, host: t{i}.example.com, upstream: api}}");
        out.push(serde_norway::from_str(&yaml).expect("route"));
    }
    out.push(serde_norway::from_str("{path: /, upstream: api}").expect("route"));
    out
}

fn bench(c: &mut Criterion) {
    let router = Router::new(&routes());
    assert_eq!(router.len(), 100);
    let get = http::Method::GET;
    let mut group = c.benchmark_group("route match, 100 routes");
    group.bench_function("prefix hit", |b| {
        b.iter(|| {
            matches!(
                router.find(
                    black_box(Some("api.example.com")),
                    black_box("/service-77/v1/orders/42"),
                    &get
                ),
                RouteMatch::Found(_)
            )
        })
    });
    group.bench_function("host-bound hit", |b| {
        b.iter(|| {
            matches!(
                router.find(
                    black_box(Some("t8.example.com")),
                    black_box("/tenant/x"),
                    &get
                ),
                RouteMatch::Found(_)
            )
        })
    });
    group.bench_function("fallback to /", |b| {
        b.iter(|| {
            matches!(
                router.find(
                    black_box(Some("api.example.com")),
                    black_box("/nothing/here"),
                    &get
                ),
                RouteMatch::Found(_)
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
