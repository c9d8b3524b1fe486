//! A small HTTP/1.1 upstream for tests. Every answer is JSON naming the
//! backend and echoing the request (method, path, headers, header names as
//! written, body length), and names the backend in an `X-Served-By` header.
//! `/healthz` answers 200 or 503 as the test sets it; `/slow?ms=N` waits N ms
//! before answering.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub struct Upstream {
    pub name: String,
    pub port: u16,
    healthy: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    pub async fn start(name: &str) -> Upstream {
        Self::start_on(name, 0).await
    }

    /// Like `start`, on a given port (0: any free one), e.g. to bring a
    /// stopped backend back where the gateway expects it.
    pub async fn start_on(name: &str, port: u16) -> Upstream {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind upstream");
        let port = listener.local_addr().expect("upstream addr").port();
        let healthy = Arc::new(AtomicBool::new(true));
        let served = Arc::new(AtomicUsize::new(0));
        let (h, s, n) = (healthy.clone(), served.clone(), name.to_string());
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let (h, s, n) = (h.clone(), s.clone(), n.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, &n, &h, &s).await;
                });
            }
        });
        Upstream {
            name: name.to_string(),
            port,
            healthy,
            served,
            task,
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What `/healthz` answers from now on.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }

    /// Requests served, health checks excluded.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a chunked body to its end (trailers included); returns its length.
async fn read_chunked_body<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
) -> std::io::Result<usize> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut len = 0;
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).await?;
        let size = size_line.trim_end().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("chunk size"))?;
        if size == 0 {
            loop {
                let mut trailer = String::new();
                if reader.read_line(&mut trailer).await? == 0 || trailer.trim_end().is_empty() {
                    return Ok(len);
                }
            }
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk).await?;
        if !chunk.ends_with(b"\r\n") {
            return Err(bad("chunk end"));
        }
        len += size;
    }
}

async fn serve(
    conn: tokio::net::TcpStream,
    name: &str,
    healthy: &AtomicBool,
    served: &AtomicUsize,
) -> std::io::Result<()> {
    let (read, mut write) = conn.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        let mut header_names: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                header_names.push(k.trim().to_string());
                let k = k.trim().to_ascii_lowercase();
                let v = v.trim().to_string();
                headers
                    .entry(k)
                    .and_modify(|e| {
                        e.push_str(", ");
                        e.push_str(&v);
                    })
                    .or_insert(v);
            }
        }
        let len = if headers
            .get("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            read_chunked_body(&mut reader).await?
        } else {
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).await?;
            len
        };

        let path = target.split('?').next().unwrap_or("").to_string();
        let (status, reply) = if path == "/healthz" {
            if healthy.load(Ordering::SeqCst) {
                (200, serde_json::json!({"healthy": true}))
            } else {
                (503, serde_json::json!({"healthy": false}))
            }
        } else {
            if path == "/slow" {
                let ms: u64 = target
                    .split("ms=")
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            served.fetch_add(1, Ordering::SeqCst);
            (
                200,
                serde_json::json!({
                    "backend": name,
                    "method": method,
                    "target": target,
                    "headers": headers,
                    "header_names": header_names,
                    "body_len": len,
                }),
            )
        };
        let text = reply.to_string();
        let reason = if status == 200 {
            "OK"
        } else {
            "Service Unavailable"
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nX-Served-By: {name}\r\nContent-Length: {}\r\n\r\n",
            text.len()
        );
        write.write_all(head.as_bytes()).await?;
        write.write_all(text.as_bytes()).await?;
    }
}
