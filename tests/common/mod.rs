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
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// Sends raw bytes and returns everything the server answers until it closes
/// the connection or goes quiet for a second.
pub async fn raw_request(port: u16, bytes: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to gateway");
    s.write_all(bytes).await.expect("write request");
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
