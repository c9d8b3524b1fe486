//! A throwaway `redis-server` for tests: started on a free loopback port
//! with no persistence (optionally with a password, or TLS only), stopped
//! (killed) and started again on the same port on demand, killed when dropped. Standard library only, so the unit tests
//! and the integration harness (`tests/common`) share this one file.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// One `redis-server` child process owned by a test.
pub struct RedisServer {
    port: u16,
    password: Option<String>,
    tls: Option<TlsFiles>,
    child: Option<Child>,
}

/// PEM files of a TLS-only server: its certificate and key, and the CA.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        Self::launch(None, None)
    }

    /// Like `start`, refusing clients without `password`.
    pub fn start_with_password(password: &str) -> Self {
        Self::launch(Some(password.to_owned()), None)
    }

    /// Like `start`, speaking TLS only (`rediss://`). Only the integration
    /// tests use it (they can hand the gateway process a trusted CA).
    #[allow(dead_code)]
    pub fn start_with_tls(files: TlsFiles) -> Self {
        Self::launch(None, Some(files))
    }

    fn launch(password: Option<String>, tls: Option<TlsFiles>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on loopback");
        let mut server = RedisServer {
            port,
            password,
            tls,
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>` (`rediss://` with TLS), with the
    /// password if there is one.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server at once (the data is lost: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty) and waits for it.
    pub fn restart(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        let port = self.port.to_string();
        match &self.tls {
            None => command.args(["--port", &port]),
            Some(tls) => command
                .args(["--port", "0", "--tls-port", &port])
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .args(["--tls-auth-clients", "no"]),
        };
        command
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/ensure-tools.sh test)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {}",
                self.port
            );
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
