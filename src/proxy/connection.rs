//! The client connection loop of the public listeners. Each HTTP/1 request
//! head is read here first, under a total deadline (slowloris) and judged
//! by `request_head`; a refusal is a JSON envelope and a closed connection,
//! and an accepted head is handed, bytes and all, to Pingora's proxy
//! (`HttpProxy::process_new_http`), which parses it again and serves it.
//! Between requests on a keep-alive connection the idle timeout applies,
//! and the connection holds no buffer (see `ClientSocket`).

use crate::config::Server;
use crate::envelope::error_json;
use crate::gateway::Gateway;
use crate::metrics::METRICS;
use crate::proxy::client_socket::ClientSocket;
use crate::proxy::request_head::{self, HeadLimits, HeadScan, Refusal};
use crate::proxy::shutdown_signal::ShutdownSignal;
use crate::proxy::Proxy;
use bytes::BytesMut;
use pingora_core::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora_core::protocols::http::ServerSession;
use pingora_core::server::ShutdownWatch;
use pingora_proxy::HttpProxy;
use pingora_timeout::fast_timeout::fast_timeout;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The first read buffer of a head, taken once the client has sent
/// something; most heads (a JWT included) fit.
const HEAD_BUFFER_FIRST: usize = 2048;
/// How a head that does not fit grows (Pingora's own head buffer size).
const HEAD_BUFFER_GROWTH: usize = 4096;
/// After a refusal, unread request bytes are drained for this long so that
/// closing does not reset the connection before the answer is read.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// The public listeners' connections: the request-head gate in front of
/// the proxy.
pub struct ClientConnections {
    proxy: Arc<HttpProxy<Proxy>>,
    gateway: Arc<Gateway>,
}

impl ClientConnections {
    pub fn new(proxy: HttpProxy<Proxy>, gateway: Arc<Gateway>) -> Self {
        ClientConnections {
            proxy: Arc::new(proxy),
            gateway,
        }
    }
}

/// How reading one request head ended.
enum Head {
    /// The bytes received so far, beginning with a complete accepted head.
    Accepted(BytesMut),
    Refused(Refusal),
    /// The client closed, went idle past the keep-alive timeout, or the
    /// server is shutting down: close without an answer.
    Gone,
}

impl ClientConnections {
    /// Serves one client connection until it closes, is refused, idles out
    /// or the server shuts down. While it waits for a request this future is
    /// all an idle connection costs (with its socket), so it holds only that
    /// wait: everything from the first byte of a request on runs in a boxed
    /// future (`serve_request`), and Pingora's session in one of its own.
    pub async fn serve(
        self: Arc<Self>,
        mut socket: Box<ClientSocket>,
        shutdown: Arc<ShutdownSignal>,
    ) {
        // What Pingora carries from one request to the next on the
        // connection, boxed for the same reason.
        let mut persistent: Option<Box<HttpPersistentSettings>> = None;
        let mut kept_alive = false;
        // One timer for the connection's waits for a head, moved on before
        // each: a later deadline is one atomic store, where a new timer per
        // request would be registered and cancelled every time.
        let mut idle = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
        // Likewise one wait for the server's shutdown, registered once: it
        // ends when shutdown begins after the connection came. It closes a
        // kept-alive connection waiting for its next request; a new one
        // still gets its first request served (without keep-alive), because
        // its client sent it before it could know: closing it then failed
        // a request now and then during a graceful upgrade.
        let mut stopping = std::pin::pin!(shutdown.begins());
        loop {
            if kept_alive && shutdown.has_begun() {
                return; // no new request on a kept-alive connection
            }
            // Until the first byte of a head: the keep-alive timeout between
            // requests, the header timeout on a new connection.
            let wait = {
                let snapshot = self.gateway.snapshot();
                if kept_alive {
                    snapshot.config.server.keepalive_timeout.get()
                } else {
                    snapshot.config.limits.header_read_timeout.get()
                }
            };
            idle.as_mut().reset(tokio::time::Instant::now() + wait);
            loop {
                // Readable first: a request that came with the deadline is served.
                let readable = std::future::poll_fn(|cx| {
                    if let Poll::Ready(ready) = socket.poll_readable(cx) {
                        return Poll::Ready(ready.is_ok());
                    }
                    // Once either has ended the connection closes: neither
                    // is polled again.
                    if (kept_alive && stopping.as_mut().poll(cx).is_ready())
                        || idle.as_mut().poll(cx).is_ready()
                    {
                        return Poll::Ready(false);
                    }
                    Poll::Pending
                })
                .await;
                if !readable {
                    return;
                }
                let served = Box::pin(self.serve_request(socket, &mut persistent, &shutdown));
                match served.await {
                    Served::KeptAlive(next) => {
                        socket = next;
                        break;
                    }
                    // The readiness was stale: wait again, to the same deadline.
                    Served::NothingYet(same) => socket = same,
                    Served::Closed => return,
                }
            }
            kept_alive = true;
        }
    }

    /// One request, from its first bytes: reads and judges the head, then
    /// hands it to Pingora, which gives the socket back for keep-alive.
    async fn serve_request(
        &self,
        mut socket: Box<ClientSocket>,
        persistent: &mut Option<Box<HttpPersistentSettings>>,
        shutdown: &ShutdownSignal,
    ) -> Served {
        let mut buf = BytesMut::with_capacity(HEAD_BUFFER_FIRST);
        // One read attempt, not a wait: the connection's own future does the
        // waiting, under the idle deadline. A read as any other (not a
        // `try_read`), so that a short read clears the socket's readiness
        // and the next wait does not begin with a read that finds nothing.
        let first = {
            let mut read = std::pin::pin!(socket.read_buf(&mut buf));
            std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await
        };
        match first {
            Poll::Ready(Ok(n)) if n > 0 => {}
            Poll::Pending => return Served::NothingYet(socket),
            Poll::Ready(_) => return Served::Closed,
        }
        let config = self.gateway.snapshot().config.clone();
        let limits = HeadLimits {
            max_bytes: config.limits.max_header_bytes.bytes() as usize,
            max_fields: config.limits.max_header_count,
        };
        let header_timeout = config.limits.header_read_timeout.get();
        let buf = match read_rest_of_head(&mut socket, buf, &limits, header_timeout).await {
            Head::Accepted(buf) => buf,
            Head::Refused(refusal) => {
                // Boxed: a refusal is rare, and its state would otherwise
                // be copied into every request's future.
                Box::pin(refuse(&mut socket, refusal, &config.server)).await;
                return Served::Closed;
            }
            Head::Gone => return Served::Closed,
        };
        socket.begin_request();
        let keepalive = config.server.keepalive_timeout.get();
        drop(config);
        let settings = persistent.take().map(|settings| *settings);
        let serving = self.hand_to_proxy(socket, buf, settings, keepalive, shutdown.watch());
        let Some(reused) = serving.await else {
            return Served::Closed;
        };
        let (next, settings) = reused.consume();
        // Pingora hands back the socket it was given.
        let Ok(mut next) = next.into_any().downcast::<ClientSocket>() else {
            tracing::error!("the proxy handed back a connection of another kind; closing it");
            return Served::Closed;
        };
        next.go_idle();
        *persistent = settings.map(Box::new);
        Served::KeptAlive(next)
    }

    pub async fn cleanup(&self) {
        self.proxy.http_cleanup().await;
    }
}

/// How serving one request on a connection ended.
enum Served {
    /// Answered; the connection waits for the next request.
    KeptAlive(Box<ClientSocket>),
    /// The socket looked readable but had nothing to read.
    NothingYet(Box<ClientSocket>),
    /// Closed by either side, refused, or not to be reused.
    Closed,
}

impl ClientConnections {
    /// Hands an accepted head and its connection to Pingora's proxy. Not
    /// async on purpose: the session (over a kilobyte) is built here and
    /// moved into Pingora's boxed future, so it never takes room in the
    /// request's future.
    fn hand_to_proxy<'a>(
        &'a self,
        stream: Box<ClientSocket>,
        head: BytesMut,
        persistent: Option<HttpPersistentSettings>,
        keepalive: Duration,
        shutdown: &'a ShutdownWatch,
    ) -> Serving<'a> {
        let mut session = ServerSession::new_http1(stream);
        match persistent {
            Some(settings) => settings.apply_to_session(&mut session),
            None => session.set_keepalive(Some(keepalive.as_secs())),
        }
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        session.set_pipelined_prefix(head);
        self.proxy.process_new_http(session, shutdown)
    }
}

/// Pingora serving one request (and its keep-alive hand-back).
type Serving<'a> = Pin<Box<dyn Future<Output = Option<ReusedHttpStream>> + Send + 'a>>;

/// Reads the rest of a head whose first bytes are in `buf`, within `total`
/// of their arrival, and judges it.
async fn read_rest_of_head(
    stream: &mut ClientSocket,
    mut buf: BytesMut,
    limits: &HeadLimits,
    total: Duration,
) -> Head {
    let deadline = Instant::now() + total;
    let mut scan = HeadScan::default();
    loop {
        match scan.advance(&buf, limits) {
            Err(refusal) => return Head::Refused(refusal),
            Ok(Some(len)) => {
                return match request_head::check(&buf[..len], limits) {
                    Ok(()) => Head::Accepted(buf),
                    Err(refusal) => Head::Refused(refusal),
                };
            }
            Ok(None) => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if buf.len() == buf.capacity() {
            buf.reserve(HEAD_BUFFER_GROWTH);
        }
        match fast_timeout(left, stream.read_buf(&mut buf)).await {
            Err(_) => return Head::Refused(request_head::HEADER_TIMEOUT),
            Ok(Ok(n)) if n > 0 => {}
            // Closed or broken halfway through a head: nobody to answer.
            Ok(_) => return Head::Gone,
        }
    }
}

/// Answers a refused head with the JSON envelope and closes the connection.
async fn refuse(stream: &mut ClientSocket, refusal: Refusal, server: &Server) {
    METRICS
        .requests_refused_total
        .with_label_values(&[refusal.reason])
        .inc();
    let request_id = crate::proxy::request_id::RequestId::generate_if(server.request_ids);
    if server.access_log {
        let client = stream.peer();
        tracing::info!(
            target: "access",
            request_id = %request_id,
            client = %client,
            status = refusal.status,
            refused = refusal.reason,
            "request head refused",
        );
    }
    let body = error_json(u32::from(refusal.status), refusal.message);
    let id_line = if request_id.is_empty() {
        String::new()
    } else {
        format!("x-request-id: {request_id}\r\n")
    };
    let reason = http::StatusCode::from_u16(refusal.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut answer = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ncache-control: no-store\r\n{}connection: close\r\n\r\n",
        refusal.status,
        body.len(),
        id_line,
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    if stream.write_all(&answer).await.is_err() || stream.flush().await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Lingering close: read what the client is still sending (up to a
    // bound) so the kernel does not answer it with a reset that could
    // discard the response before the client reads it.
    let mut sink = vec![0u8; 4096];
    let mut drained = 0;
    let _ = fast_timeout(LINGER, async {
        while drained < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future_size<A, B, C, F: Future>(_: impl Fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn a_waiting_connection_fits_a_384_byte_task() {
        // A spawned task is one allocation: tokio's header (32 bytes), its
        // scheduler and id (16), the future, and its trailer (48), rounded
        // up to the 128-byte alignment tokio gives tasks on x86-64. The
        // connection's future while it waits between requests is most of
        // what an idle keep-alive connection costs; at 288 bytes or less
        // the task is 384 bytes, one more byte makes it 512.
        let size = future_size(ClientConnections::serve);
        assert!(size <= 288, "the connection future is {size} bytes");
    }
}
