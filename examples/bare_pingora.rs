//! A bare Pingora reverse proxy: a measuring stick for the load benchmark
//! (`benches/load/run.sh`), not part of Portcullis.
//!
//! It forwards every request to one upstream with no auth, no routing, no
//! metrics, no request ids and no header changes, on one worker thread, with
//! the listener read buffer Portcullis uses by default (none) and the same
//! upstream keep-alive pool size. Portcullis' throughput divided by this one's
//! shows what Portcullis adds on top of Pingora; this one divided by HAProxy's
//! shows how much of the gap to HAProxy is Pingora itself.
//!
//! Build: `cargo build --release --example bare_pingora`
//! Run:   `target/release/examples/bare_pingora LISTEN_ADDR UPSTREAM_ADDR`
//!        (e.g. `127.0.0.1:6190 127.0.0.1:8000`)

use async_trait::async_trait;
use pingora_core::listeners::{L4BufferSettings, ListenerConfig};
use pingora_core::server::configuration::{Opt, ServerConf};
use pingora_core::server::Server;
use pingora_core::upstreams::peer::HttpPeer;
use pingora_proxy::{ProxyHttp, Session};

/// The allocator Portcullis uses, so that the ratio to this proxy measures
/// Portcullis' code and not a different malloc.
#[global_allocator]
static GLOBAL: portcullis::allocator::GatewayAllocator = portcullis::allocator::GatewayAllocator;

/// The whole proxy: one upstream address, nothing per request.
struct Bare {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora_error::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_pingora LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    // Portcullis' defaults where they touch the proxy path: one worker here
    // (the benchmark runs Portcullis with `threads: 1`), no work stealing, a
    // pool of 128 upstream keep-alive connections.
    let conf = ServerConf {
        threads: 1,
        work_stealing: false,
        upstream_keepalive_pool_size: 128,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    let mut proxy = pingora_proxy::http_proxy_service(&server.configuration, Bare { upstream });
    // No read buffer in front of the socket, as Portcullis' own client
    // connections (`proxy::client_socket`) have none.
    let buffers = L4BufferSettings::default().read(0);
    proxy.add_listener(ListenerConfig::tcp(&listen).l4_buffer(buffers));
    server.add_service(proxy);
    server.run_forever();
}
