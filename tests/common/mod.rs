//! Test harness shared by the integration tests: a real upstream HTTP server
//! running inside the test, the real `portcullis` binary started as a child
//! process on free ports, and small raw-HTTP helpers.
#![allow(dead_code, unused_imports)]

pub mod gateway;
pub mod jwks;
#[path = "../../src/store/redis/test_server.rs"]
pub mod redis_server;
pub mod upstream;
pub mod webhook;

pub use gateway::{portcullis, Gateway, TEST_SECRET};
pub use jwks::JwksServer;
pub use redis_server::RedisServer;
pub use upstream::Upstream;
pub use webhook::Webhook;

use std::net::TcpListener;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// `N` different ports nobody listens on right now. All are held at once
/// while picking, so the kernel cannot hand out the same one twice (picking
/// them one by one can, and a gateway whose admin port equals its public
/// port refuses to start).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port on loopback"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("bound address").port())
}

/// A loopback port that refuses connections for as long as this value
/// lives: the socket is bound (so no other test or gateway can take the port)
/// but never listens, so a connect to it is answered with a reset.
pub struct RefusingPort {
    _socket: tokio::net::TcpSocket,
    pub address: String,
}

impl RefusingPort {
    pub fn new() -> RefusingPort {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind("127.0.0.1:0".parse().expect("loopback address"))
            .expect("bind a loopback port");
        let address = socket.local_addr().expect("bound address").to_string();
        RefusingPort {
            _socket: socket,
            address,
        }
    }
}

/// A new connection to `port` on loopback that has sent `bytes`.
pub async fn connect_and_send(port: u16, bytes: &[u8]) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to gateway");
    s.write_all(bytes).await.expect("write request");
    s
}

/// Sends raw bytes and returns everything the server answers until it closes
/// the connection or goes quiet for a second.
pub async fn raw_request(port: u16, bytes: &[u8]) -> String {
    let mut s = connect_and_send(port, bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON body of a raw HTTP response.
pub fn json_body(raw: &str) -> serde_json::Value {
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}
