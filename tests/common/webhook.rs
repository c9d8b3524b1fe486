//! A code-delivery webhook for tests: records every JSON body POSTed to it
//! and answers 200, or 500 while told to fail.

use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub struct Webhook {
    pub port: u16,
    received: Arc<Mutex<Vec<Value>>>,
    failing: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Webhook {
    pub async fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind webhook");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let (r, f) = (received.clone(), failing.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    return;
                };
                let (r, f) = (r.clone(), f.clone());
                tokio::spawn(async move {
                    let (read, mut write) = conn.into_split();
                    let mut reader = BufReader::new(read);
                    loop {
                        let mut len = 0usize;
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).await.unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    len = v.trim().parse().unwrap_or(0);
                                }
                            }
                        }
                        let mut body = vec![0u8; len];
                        if reader.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let status = if f.load(Ordering::SeqCst) {
                            "500 Internal Server Error"
                        } else {
                            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                                if let Ok(mut all) = r.lock() {
                                    all.push(v);
                                }
                            }
                            "200 OK"
                        };
                        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                        if write.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Webhook {
            port,
            received,
            failing,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/otp", self.port)
    }

    /// Every delivery so far.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The code of the latest delivery to `identifier_value`.
    pub fn last_code_for(&self, identifier_value: &str) -> Option<String> {
        self.received()
            .iter()
            .rev()
            .find(|m| m["identifierValue"] == identifier_value)
            .and_then(|m| m["otp"].as_str().map(str::to_string))
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}
