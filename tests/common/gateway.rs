//! Starts the real `portcullis` binary on free ports with a config written by
//! the test, waits until it serves, and stops it when dropped. Its log is kept
//! in a file for assertions.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The HS256 secret of the signing key tests get when their config names none.
pub const TEST_SECRET: &[u8] = b"integration-test-secret-0123456789abcdef";

/// `body` plus a `tokens` section signing with `TEST_SECRET`, unless the
/// body has its own.
fn with_test_key(dir: &std::path::Path, body: &str) -> String {
    if body.contains("tokens:") {
        return body.to_string();
    }
    let secret = dir.join("signing.secret");
    std::fs::write(&secret, TEST_SECRET).expect("write secret");
    format!(
        "{body}\ntokens:\n  signing: [{{kid: test-1, alg: HS256, secret_file: {}}}]\n",
        secret.display()
    )
}

pub fn portcullis() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

pub struct Gateway {
    /// listen/admin/server sections, kept when the body is rewritten.
    header: String,
    pub port: u16,
    pub admin_port: u16,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    child: Option<Child>,
}

impl Gateway {
    /// Starts a gateway whose config is `body` plus listen/admin/server
    /// sections on fresh ports (so `body` must not contain those three).
    pub async fn start(body: &str) -> Gateway {
        Self::start_with_args(body, &[]).await
    }

    /// Like `start`, with extra arguments for `portcullis run`.
    pub async fn start_with_args(body: &str, args: &[&str]) -> Gateway {
        Self::launch(body, args, &[]).await
    }

    /// Like `start`, with extra environment variables for the process
    /// (not kept by `restart`).
    pub async fn start_with_env(body: &str, env: &[(&str, &str)]) -> Gateway {
        Self::launch(body, &[], env).await
    }

    /// Starts the process; when a port picked as free was taken by a
    /// parallel test before the gateway bound it, tries again on new ports.
    async fn launch(body: &str, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let mut last_log = String::new();
        for _ in 0..5 {
            let mut gw = Self::spawn(body, args, env);
            match gw.serving().await {
                Ok(()) => return gw,
                Err(log) if log.contains("in use") => last_log = log,
                Err(log) => panic!("portcullis did not start:\n{log}"),
            }
        }
        panic!("portcullis found no free ports in 5 tries:\n{last_log}")
    }

    fn spawn(body: &str, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let [port, admin_port] = super::free_ports();
        let d = dir.path().display();
        let header = format!(
            "listen: [{{address: 127.0.0.1:{port}}}]\n\
             admin: {{address: 127.0.0.1:{admin_port}}}\n\
             server: {{threads: 1, pid_file: {d}/pid, upgrade_sock: {d}/upgrade.sock, grace_period: 1s, graceful_shutdown_timeout: 2s}}\n"
        );
        let config_path = dir.path().join("portcullis.yaml");
        let body = with_test_key(dir.path(), body);
        std::fs::write(&config_path, format!("{header}{body}\n")).expect("write config");
        let log = std::fs::File::create(dir.path().join("gateway.log")).expect("log file");
        let child = portcullis()
            .args(["run", "-c"])
            .arg(&config_path)
            .args(args)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start portcullis");
        Gateway {
            header,
            port,
            admin_port,
            dir,
            config_path,
            child: Some(child),
        }
    }

    async fn wait_until_serving(&mut self) {
        if let Err(log) = self.serving().await {
            panic!("portcullis did not start:\n{log}");
        }
    }

    /// Waits until both listeners answer; `Err` with the log if the process
    /// exited or did not come up in time.
    async fn serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = super::client();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("exited early ({status}):\n{}", self.log()));
                }
            }
            // Pingora keeps retrying a port another process holds; give it up.
            let log = self.log();
            if log.contains("is in use") {
                return Err(log);
            }
            let admin = client.get(self.admin("/healthz")).send().await;
            let public = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await;
            if admin.is_ok() && public.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("not serving after 20 s:\n{}", self.log()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_port)
    }

    /// The admin listener's `/metrics` text.
    #[allow(dead_code)]
    pub async fn metrics_text(&self) -> String {
        super::client()
            .get(self.admin("/metrics"))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    /// Everything the gateway has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// A token signed by this gateway's key, through `portcullis token mint`.
    /// `args` are extra flags, e.g. `["--role", "VIEW"]`.
    pub fn mint(&self, sub: &str, args: &[&str]) -> String {
        let out = portcullis()
            .args(["token", "mint", "-c"])
            .arg(&self.config_path)
            .args(["--sub", sub, "--brand", "demo"])
            .args(args)
            .output()
            .expect("run token mint");
        assert!(
            out.status.success(),
            "token mint: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("token is text")
            .trim()
            .to_string()
    }

    /// Replaces the config body (listen/admin/server stay as they are).
    pub fn rewrite_config(&self, body: &str) {
        let body = with_test_key(self.dir.path(), body);
        std::fs::write(&self.config_path, format!("{}{body}\n", self.header))
            .expect("rewrite config");
    }

    /// Adds `keys` (YAML flow-mapping entries, e.g. `access_log: false`) to
    /// the config's server section and reloads it (SIGHUP), returning once
    /// the gateway has logged the reload.
    pub async fn reload_with_server_keys(&self, keys: &str) {
        let reloads = |log: String| log.matches("config reloaded").count();
        let before = reloads(self.log());
        let config = std::fs::read_to_string(&self.config_path).expect("read config");
        let server_end = "graceful_shutdown_timeout: 2s";
        assert!(config.contains(server_end), "the harness's server line");
        let config = config.replacen(server_end, &format!("{server_end}, {keys}"), 1);
        std::fs::write(&self.config_path, config).expect("write config");
        self.signal("HUP");
        for _ in 0..100 {
            if reloads(self.log()) > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no reload with server keys {keys}:\n{}", self.log());
    }

    /// Sends a signal to the gateway process.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().expect("gateway running");
        let ok = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{signal} {pid} failed");
    }

    /// Starts a second process with `--upgrade` on the same config; it takes
    /// the listeners over once this one gets SIGQUIT. The returned gateway
    /// owns the new process.
    pub fn start_successor(&self) -> Gateway {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("successor.log"))
            .expect("log file");
        let child = portcullis()
            .args(["run", "--upgrade", "-c"])
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start successor");
        Gateway {
            header: self.header.clone(),
            port: self.port,
            admin_port: self.admin_port,
            dir: tempfile::tempdir().expect("temp dir"),
            config_path: self.config_path.clone(),
            child: Some(child),
        }
    }

    /// Stops the process (SIGKILL) and starts a new one on the same config
    /// and folder, so the embedded store's file is the same.
    pub async fn restart(mut self) -> Gateway {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("gateway.log"))
            .expect("log file");
        let child = portcullis()
            .args(["run", "-c"])
            .arg(&self.config_path)
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("restart portcullis");
        self.child = Some(child);
        self.wait_until_serving().await;
        self
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
