//! One accepted client connection, as the transport Pingora's HTTP session
//! reads and writes. It replaces Pingora's own client stream so that a
//! connection waiting between keep-alive requests holds only its socket and
//! peer address: response bytes are coalesced in a buffer that exists only
//! while a request is served (`go_idle` releases it), and the socket digest
//! Pingora asks each session for is built per request from the address
//! `accept` already returned, so it needs no system call.

use async_trait::async_trait;
use pingora_core::protocols::l4::socket::SocketAddr as PeerAddr;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::SystemTime;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Response bytes gathered before a write: the size of Pingora's own write
/// buffer (one Ethernet segment's payload), so that a response head and a
/// small body leave in one system call.
const WRITE_COALESCING: usize = 1460;

#[derive(Debug)]
pub struct ClientSocket {
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    accepted_at: SystemTime,
    /// Written bytes not yet sent; empty, with no allocation, while idle.
    unsent: Vec<u8>,
    /// The digest handed to the request being served.
    digest: Option<Arc<SocketDigest>>,
}

impl ClientSocket {
    pub fn new(tcp: TcpStream, peer: std::net::SocketAddr) -> Self {
        ClientSocket {
            tcp,
            peer,
            accepted_at: SystemTime::now(),
            unsent: Vec::new(),
            digest: None,
        }
    }

    pub fn peer(&self) -> std::net::SocketAddr {
        self.peer
    }

    /// Prepares the socket for serving a request: the digest Pingora's
    /// session takes its client address from.
    pub fn begin_request(&mut self) {
        let digest = SocketDigest::from_raw_fd(self.tcp.as_raw_fd());
        let _ = digest.peer_addr.set(Some(PeerAddr::Inet(self.peer)));
        self.digest = Some(Arc::new(digest));
    }

    /// Releases what only a request in flight needs, once it has been
    /// answered and the connection waits for the next one.
    pub fn go_idle(&mut self) {
        self.digest = None;
        if self.unsent.is_empty() {
            self.unsent = Vec::new();
        }
    }

    /// Ready once the client may have sent something (or closed), without a
    /// read buffer.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tcp.poll_read_ready(cx)
    }

    /// Sends the gathered bytes, keeping any the socket did not take yet.
    fn poll_send_unsent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.unsent.is_empty() {
            match ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.unsent)) {
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the client connection took no bytes",
                    )))
                }
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ClientSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.unsent.len() + buf.len() > WRITE_COALESCING {
            ready!(this.poll_send_unsent(cx))?;
        }
        if buf.len() >= WRITE_COALESCING {
            return Pin::new(&mut this.tcp).poll_write(cx, buf);
        }
        if this.unsent.capacity() == 0 {
            this.unsent.reserve_exact(WRITE_COALESCING);
        }
        this.unsent.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_unsent(cx))?;
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_unsent(cx))?;
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for ClientSocket {
    async fn shutdown(&mut self) {
        let _ = tokio::io::AsyncWriteExt::shutdown(self).await;
    }
}

impl UniqueID for ClientSocket {
    fn id(&self) -> UniqueIDType {
        self.tcp.as_raw_fd()
    }
}

impl Ssl for ClientSocket {}

impl GetTimingDigest for ClientSocket {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        vec![Some(TimingDigest {
            established_ts: self.accepted_at,
            ..TimingDigest::default()
        })]
    }
}

impl GetProxyDigest for ClientSocket {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        None
    }
}

impl GetSocketDigest for ClientSocket {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.digest.clone()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.digest = Some(Arc::new(digest));
    }
}

impl Peek for ClientSocket {}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A served socket and the client's end of its connection.
    async fn connected() -> (ClientSocket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (tcp, peer) = listener.accept().await.unwrap();
        (ClientSocket::new(tcp, peer), client)
    }

    fn nothing_arrived(client: &TcpStream) -> bool {
        let mut buf = [0u8; 16];
        matches!(client.try_read(&mut buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    #[tokio::test]
    async fn small_writes_are_sent_together_on_flush() {
        let (mut socket, mut client) = connected().await;
        socket.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        socket.write_all(b"body").await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(nothing_arrived(&client), "nothing leaves before the flush");
        socket.flush().await.unwrap();
        let mut got = vec![0u8; 23];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"HTTP/1.1 200 OK\r\n\r\nbody");
    }

    #[tokio::test]
    async fn a_large_write_goes_out_behind_what_was_gathered() {
        let (mut socket, mut client) = connected().await;
        socket.write_all(b"head").await.unwrap();
        let large = vec![b'x'; 4 * WRITE_COALESCING];
        socket.write_all(&large).await.unwrap();
        let mut got = vec![0u8; 4 + large.len()];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..4], b"head");
        assert!(got[4..].iter().all(|&b| b == b'x'));
    }

    #[tokio::test]
    async fn shutting_down_sends_what_was_gathered_first() {
        let (mut socket, mut client) = connected().await;
        socket.write_all(b"last words").await.unwrap();
        Shutdown::shutdown(&mut socket).await;
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"last words");
    }

    #[tokio::test]
    async fn an_idle_socket_holds_no_buffer_or_digest() {
        let (mut socket, _client) = connected().await;
        socket.begin_request();
        socket.write_all(b"answer").await.unwrap();
        socket.flush().await.unwrap();
        assert!(socket.unsent.capacity() > 0);
        socket.go_idle();
        assert_eq!(socket.unsent.capacity(), 0);
        assert!(socket.get_socket_digest().is_none());
    }

    #[tokio::test]
    async fn a_request_sees_the_address_accept_returned() {
        let (mut socket, client) = connected().await;
        socket.begin_request();
        let digest = socket.get_socket_digest().expect("a digest while serving");
        let peer = digest.peer_addr().and_then(|a| a.as_inet()).copied();
        assert_eq!(peer, Some(client.local_addr().unwrap()));
    }
}
