//! A throwaway `redis-server` for tests: started on a free loopback port
//! (another one if that port is taken before redis-server binds it) with no
//! persistence (optionally with a password, or TLS only), stopped (killed)
//! and started again on the same port on demand, killed when dropped.
//! Standard library only, so the unit tests and the integration harness
//! (`tests/common`) share this one file.

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

    /// Starts on a free port; when another process took that port between
    /// picking it and redis-server binding it, tries again on a new one.
    fn launch(password: Option<String>, tls: Option<TlsFiles>) -> Self {
        let mut server = RedisServer {
            port: 0,
            password,
            tls,
            child: None,
        };
        let mut last = String::new();
        for _ in 0..5 {
            server.port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port on loopback");
            match server.try_start() {
                Ok(()) => return server,
                Err(why) => last = why,
            }
        }
        panic!("redis-server did not start in 5 tries: {last}");
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
        if let Err(why) = self.try_start() {
            panic!("redis-server did not start again: {why}");
        }
    }

    /// (Re)starts the server on `self.port` and waits until it answers
    /// there. `Err` when it exited (its port was taken) or another process
    /// answers on the port.
    fn try_start(&mut self) -> Result<(), String> {
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
        loop {
            self.still_running()?;
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                return self.confirm_answering(stream);
            }
            if Instant::now() > deadline {
                return Err(format!("did not listen on port {}", self.port));
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// Whether the listener on the port is this redis-server and not some
    /// other test's process: a plain server answers PING (or asks for the
    /// password); a TLS one must still be alive a moment after listening.
    fn confirm_answering(&mut self, mut stream: TcpStream) -> Result<(), String> {
        if self.tls.is_some() {
            sleep(Duration::from_millis(200));
            return self.still_running();
        }
        use std::io::{Read, Write};
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut reply = [0u8; 16];
        let n = stream
            .write_all(b"PING\r\n")
            .and_then(|()| stream.read(&mut reply))
            .unwrap_or(0);
        let reply = &reply[..n];
        if reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH") {
            Ok(())
        } else {
            self.stop();
            Err(format!("another process answers on port {}", self.port))
        }
    }

    /// `Err` when the child has exited (its port was taken, most likely).
    fn still_running(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => {
                self.child = None;
                Err(format!("exited ({status}) on port {}", self.port))
            }
            _ => Ok(()),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
