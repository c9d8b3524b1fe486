//! The client connection loop of the public listeners. Each HTTP/1 request
//! head is read here first, under a total deadline (slowloris) and judged
//! by `request_head`; a refusal is a JSON envelope and a closed connection,
//! and an accepted head is handed, bytes and all, to Pingora's proxy
//! (`HttpProxy::process_new_http`), which parses it again and serves it.
//! Between requests on a keep-alive connection the idle timeout applies.

use crate::config::Server;
use crate::envelope::error_json;
use crate::gateway::Gateway;
use crate::metrics::METRICS;
use crate::proxy::request_head::{self, HeadLimits, HeadScan, Refusal};
use crate::proxy::Proxy;
use async_trait::async_trait;
use bytes::BytesMut;
use pingora_core::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream, ServerApp};
use pingora_core::protocols::http::ServerSession;
use pingora_core::protocols::Stream;
use pingora_core::server::ShutdownWatch;
use pingora_proxy::HttpProxy;
use pingora_timeout::fast_timeout::fast_timeout;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

/// The first read buffer of a head, taken once the client has sent
/// something; most heads (a JWT included) fit.
const HEAD_BUFFER_FIRST: usize = 2048;
/// How a head that does not fit grows (Pingora's own head buffer size).
const HEAD_BUFFER_GROWTH: usize = 4096;
/// After a refusal, unread request bytes are drained for this long so that
/// closing does not reset the connection before the answer is read.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// The public listeners' application: the request-head gate in front of
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

/// The time allowed for one head: `idle` until its first byte and `total`
/// from that byte on. On a new connection `idle` is the header timeout too.
struct Deadlines {
    idle: Duration,
    total: Duration,
}

#[async_trait]
impl ServerApp for ClientConnections {
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut persistent: Option<HttpPersistentSettings> = None;
        let mut kept_alive = false;
        // One timer for the connection's waits for a head, moved on before
        // each: a later deadline is one atomic store, where a new timer per
        // request would be registered and cancelled every time.
        let mut idle = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
        // Likewise one wait for the server's shutdown, registered once: it
        // ends when shutdown begins after the connection came (or the
        // server's side of the watch is gone).
        let mut stopping = std::pin::pin!(shutdown_begins(shutdown.clone()));
        loop {
            if kept_alive && *shutdown.borrow() {
                return None; // no new request on a kept-alive connection
            }
            let config = self.gateway.snapshot().config.clone();
            let limits = HeadLimits {
                max_bytes: config.limits.max_header_bytes.bytes() as usize,
                max_fields: config.limits.max_header_count,
            };
            let header_timeout = config.limits.header_read_timeout.get();
            let keepalive = config.server.keepalive_timeout.get();
            let deadlines = Deadlines {
                idle: if kept_alive {
                    keepalive
                } else {
                    header_timeout
                },
                total: header_timeout,
            };
            let buf = match read_head(
                &mut stream,
                &limits,
                &deadlines,
                idle.as_mut(),
                stopping.as_mut(),
            )
            .await
            {
                Head::Accepted(buf) => buf,
                Head::Refused(refusal) => {
                    // Boxed: its state lives only while a refusal is written,
                    // not in every idle connection's future.
                    Box::pin(refuse(&mut stream, refusal, &config.server)).await;
                    return None;
                }
                Head::Gone => return None,
            };
            let serving = self.serve(stream, buf, persistent.take(), keepalive, shutdown);
            let reused = serving.await?;
            let (next, settings) = reused.consume();
            stream = next;
            persistent = settings;
            kept_alive = true;
        }
    }

    async fn cleanup(&self) {
        self.proxy.http_cleanup().await;
    }
}

impl ClientConnections {
    /// Hands an accepted head and its connection to Pingora's proxy. Not
    /// async on purpose: the session (over a kilobyte) is built here and
    /// moved into Pingora's boxed future, so it never takes room in the
    /// connection's own future, which every idle connection keeps.
    fn serve<'a>(
        &'a self,
        stream: Stream,
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

/// Waits until the client may have sent something, holding no read buffer,
/// so that an idle keep-alive connection costs no buffer memory. The first
/// poll reads into an empty buffer: Pending (no system call) while the
/// socket has not been readable since the last read drained it, which is
/// the case between requests. Any later poll means the task was woken: the
/// caller then reads for real, so a busy connection makes no extra call.
struct FirstByte<'a> {
    stream: &'a mut Stream,
    polled: bool,
}

impl Future for FirstByte<'_> {
    type Output = std::io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polled {
            return Poll::Ready(Ok(()));
        }
        self.polled = true;
        let mut nothing = ReadBuf::new(&mut []);
        Pin::new(&mut **self.stream).poll_read(cx, &mut nothing)
    }
}

/// The first bytes of a head: waits without a buffer (`FirstByte`), then
/// reads into a fresh one.
async fn first_read(stream: &mut Stream) -> std::io::Result<BytesMut> {
    FirstByte {
        stream,
        polled: false,
    }
    .await?;
    let mut buf = BytesMut::with_capacity(HEAD_BUFFER_FIRST);
    stream.read_buf(&mut buf).await?;
    Ok(buf)
}

/// Ends once the server begins to shut down after this call (or can no
/// longer say so). A connection keeps one, so that waiting for the next head
/// registers nothing new per request.
async fn shutdown_begins(mut shutdown: ShutdownWatch) {
    shutdown.borrow_and_update();
    let _ = shutdown.changed().await;
}

/// Reads until a complete head has arrived and judges it. The wait for its
/// first byte also ends on the connection's idle timer and on `stopping`
/// (its wait for shutdown).
async fn read_head(
    stream: &mut Stream,
    limits: &HeadLimits,
    deadlines: &Deadlines,
    mut idle: Pin<&mut Sleep>,
    stopping: Pin<&mut impl Future<Output = ()>>,
) -> Head {
    idle.as_mut()
        .reset(tokio::time::Instant::now() + deadlines.idle);
    let first = tokio::select! {
        biased;
        read = first_read(stream) => read,
        // Once this has ended the connection closes: it is never polled again.
        () = stopping => return Head::Gone,
        _ = idle => return Head::Gone,
    };
    let mut buf = match first {
        Ok(buf) if !buf.is_empty() => buf,
        _ => return Head::Gone,
    };
    let deadline = Instant::now() + deadlines.total;
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
async fn refuse(stream: &mut Stream, refusal: Refusal, server: &Server) {
    METRICS
        .requests_refused_total
        .with_label_values(&[refusal.reason])
        .inc();
    let request_id = crate::proxy::request_id::RequestId::generate_if(server.request_ids);
    if server.access_log {
        let client = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().cloned());
        tracing::info!(
            target: "access",
            request_id = %request_id,
            client = ?client,
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
