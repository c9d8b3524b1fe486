//! The public listeners: binds each `listen` address (or takes it over from
//! the process being upgraded), accepts connections and runs each as a task
//! of `ClientConnections`. This replaces Pingora's listening service for the
//! proxy so that an idle keep-alive connection is only that task and its
//! socket (`ClientSocket`); Pingora's accept path wraps every connection in
//! its own task, stream and buffers for its whole life. The admin listener
//! still uses Pingora's service.

use crate::proxy::client_socket::ClientSocket;
use crate::proxy::connection::ClientConnections;
use crate::proxy::shutdown_signal::ShutdownSignal;
use async_trait::async_trait;
use pingora_core::server::{ListenFds, ShutdownWatch};
use pingora_core::services::Service;
use std::net::ToSocketAddrs;
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket};

/// Connections waiting to be accepted, as Pingora asks for.
const BACKLOG: u32 = 65535;
/// A taken address is tried again this often, this many times (as Pingora's
/// listener does): a process being stopped may still hold it.
const BIND_RETRY: Duration = Duration::from_secs(1);
const BIND_TRIES: usize = 30;
/// After running out of file descriptors, accepting pauses this long.
const OUT_OF_FILES_PAUSE: Duration = Duration::from_millis(500);

pub struct PublicListeners {
    addresses: Vec<String>,
    connections: Arc<ClientConnections>,
}

impl PublicListeners {
    pub fn new(addresses: Vec<String>, connections: ClientConnections) -> Self {
        PublicListeners {
            addresses,
            connections: Arc::new(connections),
        }
    }
}

#[async_trait]
impl Service for PublicListeners {
    async fn start_service(
        &mut self,
        fds: Option<ListenFds>,
        shutdown: ShutdownWatch,
        listeners_per_fd: usize,
    ) {
        let mut accepting = Vec::new();
        let signal = ShutdownSignal::new(shutdown.clone());
        pingora_runtime::current_handle().spawn(signal.clone().relay());
        for address in &self.addresses {
            let listener = match listen_retrying(address, fds.as_ref()).await {
                Ok(listener) => Arc::new(listener),
                Err(e) => {
                    tracing::error!(address = %address, error = %e, "cannot listen");
                    eprintln!("portcullis: cannot listen on {address}: {e}");
                    std::process::exit(1);
                }
            };
            for _ in 0..listeners_per_fd.max(1) {
                accepting.push(pingora_runtime::current_handle().spawn(accept_loop(
                    listener.clone(),
                    self.connections.clone(),
                    signal.clone(),
                )));
            }
        }
        futures_util::future::join_all(accepting).await;
        self.connections.cleanup().await;
    }

    fn name(&self) -> &str {
        "portcullis proxy"
    }

    fn listen_addresses(&self) -> Option<Vec<String>> {
        Some(self.addresses.clone())
    }
}

/// `listen`, trying again while the address is in use.
async fn listen_retrying(address: &str, fds: Option<&ListenFds>) -> std::io::Result<TcpListener> {
    let mut tries = 1;
    loop {
        match listen(address, fds) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < BIND_TRIES => {
                tracing::warn!(address = %address, "the address is in use, will try again");
                tries += 1;
                tokio::time::sleep(BIND_RETRY).await;
            }
            result => return result,
        }
    }
}

/// The listening socket of `address`: the one the previous process handed
/// over in a graceful upgrade, else a new one, recorded so that it can be
/// handed to the next.
fn listen(address: &str, fds: Option<&ListenFds>) -> std::io::Result<TcpListener> {
    if let Some(fd) = fds.and_then(|table| table.lock().get(address).copied()) {
        // SAFETY: the descriptor came from the upgrade socket as a listening
        // TCP socket for this address and nothing else in this process owns it.
        let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        listener.set_nonblocking(true)?;
        return TcpListener::from_std(listener);
    }
    let addr = address.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    })?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(BACKLOG)?;
    if let Some(table) = fds {
        table.lock().add(address.to_string(), listener.as_raw_fd());
    }
    Ok(listener)
}

/// Accepts until the server shuts down; each connection becomes a task on
/// one of the service's worker threads.
async fn accept_loop(
    listener: Arc<TcpListener>,
    connections: Arc<ClientConnections>,
    signal: Arc<ShutdownSignal>,
) {
    let mut shutdown = signal.watch().clone();
    loop {
        let accepted = tokio::select! {
            biased;
            changed = shutdown.changed() => match changed {
                Ok(()) if !*shutdown.borrow() => continue,
                _ => break,
            },
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                // Small answers leave at once rather than waiting for an
                // acknowledgement (Nagle), as Pingora's listener does.
                let _ = tcp.set_nodelay(true);
                let socket = Box::new(ClientSocket::new(tcp, peer));
                pingora_runtime::current_handle()
                    .spawn(connections.clone().serve(socket, signal.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    tokio::time::sleep(OUT_OF_FILES_PAUSE).await;
                }
            }
        }
    }
}
