//! A tiny upstream that misbehaves on purpose: it reads each request head
//! and then answers with the fault it was started with (refused connections
//! are simply a port nobody listens on). It counts connections so tests can
//! tell a reused pooled connection from a fresh one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the upstream does after reading a request head.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Closes the connection without a byte (FIN).
    CloseSilently,
    /// Resets the connection (RST) without a byte.
    Reset,
    /// Sends a status line and headers promising 1000 body bytes, a few of
    /// them, then resets.
    ResetMidBody,
    /// Keeps the connection open and never answers.
    Hang,
    /// Waits this long, then answers 200 properly.
    Slow(Duration),
    /// Answers bytes that are not HTTP.
    Garbage,
    /// Answers a status line with a four-digit status.
    BadStatusLine,
    /// Answers 200 with keep-alive, then closes the idle connection shortly
    /// after, leaving a dead connection in the gateway's pool.
    CloseAfterAnswer,
}

pub struct Faulty {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Faulty {
    pub async fn start(fault: Fault) -> Faulty {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(conn, fault));
            }
        });
        Faulty {
            port,
            connections,
            task,
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads up to the end of a request head; false when the peer went away.
async fn read_head(conn: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";

async fn serve(mut conn: TcpStream, fault: Fault) {
    loop {
        if !read_head(&mut conn).await {
            return;
        }
        match fault {
            Fault::CloseSilently => return,
            Fault::Reset => return reset(conn),
            Fault::ResetMidBody => {
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":")
                    .await;
                let _ = conn.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                return reset(conn);
            }
            Fault::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Fault::Slow(wait) => {
                tokio::time::sleep(wait).await;
                if conn.write_all(OK).await.is_err() {
                    return;
                }
            }
            Fault::Garbage => {
                let _ = conn
                    .write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http at all\r\n\r\n")
                    .await;
                return;
            }
            Fault::BadStatusLine => {
                let _ = conn
                    .write_all(b"HTTP/1.1 2000 Fine\r\nContent-Length: 0\r\n\r\n")
                    .await;
                return;
            }
            Fault::CloseAfterAnswer => {
                let _ = conn.write_all(OK).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                return;
            }
        }
    }
}

/// Drops the connection with SO_LINGER 0, so the peer gets an RST.
fn reset(conn: TcpStream) {
    let _ = conn.set_zero_linger();
    drop(conn);
}
