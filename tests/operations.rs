//! Operating a running gateway: hot reload (SIGHUP / `portcullis reload`) and
//! graceful upgrade, each under a load loop that must see zero failures; and
//! a graceful stop.

mod common;

use common::{portcullis, Gateway, Upstream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests `url` in a loop from a few tasks until stopped; counts
/// successes and failures (anything but a 200, or no answer at all).
struct LoadLoop {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LoadLoop {
    fn start(url: String, client: reqwest::Client) -> LoadLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let tasks = (0..4)
            .map(|_| {
                let (stop, ok, failed, url, client) = (
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    url.clone(),
                    client.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        match client.get(&url).send().await {
                            Ok(r) if r.status() == 200 => {
                                ok.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(r) => {
                                eprintln!("load loop got {}", r.status());
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => {
                                eprintln!("load loop error: {e}");
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        LoadLoop {
            stop,
            ok,
            failed,
            tasks,
        }
    }

    async fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            let _ = t.await;
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

fn routes(upstream: &Upstream, paths: &[&str]) -> String {
    let mut body = format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n",
        upstream.address()
    );
    for p in paths {
        body.push_str(&format!("  - {{path: {p}, upstream: api, auth: none}}\n"));
    }
    body
}

async fn status_of(url: &str) -> u16 {
    common::client()
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn metric(gw: &Gateway, line_start: &str) -> Option<String> {
    let text = common::client()
        .get(gw.admin("/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_adds_and_removes_routes_without_failing_a_request() {
    let up = Upstream::start("api").await;
    let gw = Gateway::start(&routes(&up, &["/steady/", "/old/"])).await;
    assert_eq!(status_of(&gw.url("/old/x")).await, 200);
    assert_eq!(status_of(&gw.url("/new/x")).await, 404);

    let load = LoadLoop::start(gw.url("/steady/x"), common::client());
    tokio::time::sleep(Duration::from_millis(300)).await;
    gw.rewrite_config(&routes(&up, &["/steady/", "/new/"]));
    let out = portcullis()
        .args(["reload", "-c"])
        .arg(&gw.config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, failed) = load.finish().await;

    assert_eq!(failed, 0, "no request fails during a reload");
    assert!(ok > 10, "the load loop ran ({ok} requests)");
    assert_eq!(status_of(&gw.url("/new/x")).await, 200);
    assert_eq!(status_of(&gw.url("/old/x")).await, 404);
    assert_eq!(
        metric(&gw, "portcullis_config_reloads_total{result=\"ok\"}")
            .await
            .as_deref(),
        Some("portcullis_config_reloads_total{result=\"ok\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_is_refused_and_the_old_one_keeps_serving() {
    let up = Upstream::start("api").await;
    let gw = Gateway::start(&routes(&up, &["/kept/"])).await;
    gw.rewrite_config("routes:\n  - {path: /x/, upstream: nowhere}\n");

    // The command validates first and signals nothing.
    let out = portcullis()
        .args(["reload", "-c"])
        .arg(&gw.config_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("routes[0].upstream"));

    // A bare SIGHUP reads the bad file, logs why, and keeps the old config.
    gw.signal("HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(status_of(&gw.url("/kept/x")).await, 200);
    assert_eq!(
        metric(&gw, "portcullis_config_reloads_total{result=\"error\"}")
            .await
            .as_deref(),
        Some("portcullis_config_reloads_total{result=\"error\"} 1")
    );
    assert!(gw.log().contains("config reload rejected"), "{}", gw.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_upgrade_hands_the_listeners_over_without_failing_a_request() {
    let up = Upstream::start("api").await;
    let mut old = Gateway::start(&routes(&up, &["/"])).await;
    // A new connection per request, so every request exercises the listener.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let load = LoadLoop::start(old.url("/x"), client);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut new = old.start_successor();
    tokio::time::sleep(Duration::from_millis(500)).await;
    old.signal("QUIT");
    let exited = tokio::task::spawn_blocking(move || old.wait_exit(Duration::from_secs(15)))
        .await
        .unwrap();
    assert!(exited.is_some(), "the old process exits after handing over");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ok, failed) = load.finish().await;

    assert_eq!(failed, 0, "no request fails during the upgrade");
    assert!(ok > 10, "the load loop ran ({ok} requests)");
    assert_eq!(
        status_of(&format!("http://127.0.0.1:{}/x", new.port)).await,
        200
    );
    assert!(
        new.wait_exit(Duration::from_millis(10)).is_none(),
        "the new process serves on"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_stop_closes_idle_keep_alive_connections_at_once() {
    use tokio::io::AsyncReadExt;
    let up = Upstream::start("api").await;
    let mut gw = Gateway::start(&routes(&up, &["/"])).await;
    let mut idle = common::connect_and_send(gw.port, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("answered")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    // Let the rest of the answer arrive; the connection then waits, kept alive.
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_millis(300), idle.read(&mut buf)).await
    {
        assert!(n > 0, "the gateway keeps the connection open");
    }

    gw.signal("TERM");
    // Closed when the stop begins, not at the end of the 60 s keep-alive
    // timeout, nor when the process exits after its grace period.
    let end = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf))
        .await
        .expect("the idle connection is closed");
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    let log_when_closed = gw.log();
    assert!(
        gw.wait_exit(Duration::from_secs(10)).is_some(),
        "the gateway exits after its grace period"
    );
    assert!(gw.log().contains("grace period ends"), "{}", gw.log());
    assert!(
        !log_when_closed.contains("grace period ends"),
        "closed by the stop signal, not by the process exiting:\n{log_when_closed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_opened_before_a_graceful_stop_still_gets_its_first_request_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = Upstream::start("api").await;
    let mut gw = Gateway::start(&routes(&up, &["/"])).await;
    let mut fresh = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    // Accepted and waiting for its first bytes when the stop begins.
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.signal("TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    fresh
        .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), fresh.read_to_end(&mut answer))
        .await
        .expect("answered and closed within the grace period")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(
        gw.wait_exit(Duration::from_secs(10)).is_some(),
        "the gateway exits after its grace period"
    );
}

/// The directory a daemon runs in, with the signing secret and two free
/// ports. Its config uses relative paths, as conf/portcullis.yaml does:
/// they mean this directory.
struct DaemonHome {
    dir: tempfile::TempDir,
    port: u16,
    admin_port: u16,
}

impl DaemonHome {
    fn new() -> DaemonHome {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("signing.secret"), common::TEST_SECRET).unwrap();
        let [port, admin_port] = common::free_ports();
        DaemonHome {
            dir,
            port,
            admin_port,
        }
    }

    fn pid_file(&self) -> std::path::PathBuf {
        self.dir.path().join("pid")
    }

    /// Writes portcullis.yaml: `store`, the `more` top-level keys, and
    /// routes at `paths` to `up`.
    fn write_config(&self, store: &str, more: &str, up: &Upstream, paths: &[&str]) {
        let (port, admin_port) = (self.port, self.admin_port);
        let config = format!(
            "listen: [{{address: 127.0.0.1:{port}}}]\n\
             admin: {{address: 127.0.0.1:{admin_port}}}\n\
             server: {{threads: 1, pid_file: {}, upgrade_sock: ./upgrade.sock, grace_period: 1s, graceful_shutdown_timeout: 2s}}\n\
             store: {store}\n\
             tokens:\n  signing: [{{kid: test-1, alg: HS256, secret_file: ./signing.secret}}]\n{more}{}",
            self.pid_file().display(),
            routes(up, paths)
        );
        std::fs::write(self.dir.path().join("portcullis.yaml"), config).unwrap();
    }

    /// Starts `portcullis run --daemon -c portcullis.yaml` here and waits
    /// until /one/x answers 200 and the daemon's pid is in the pid file.
    async fn start(&self) -> Daemon {
        let log_path = self.dir.path().join("gateway.log");
        let log_file = std::fs::File::create(&log_path).unwrap();
        let started = portcullis()
            .args(["run", "--daemon", "-c", "portcullis.yaml"])
            .current_dir(self.dir.path())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .stdin(std::process::Stdio::null())
            .status()
            .expect("start portcullis --daemon");
        let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        assert!(started.success(), "{}", log());
        let url = format!("http://127.0.0.1:{}/one/x", self.port);
        for _ in 0..200 {
            let serving = status_of(&url).await == 200;
            let written = std::fs::read_to_string(self.pid_file()).ok();
            if let (true, Some(pid)) = (serving, written.and_then(|t| t.trim().parse::<u32>().ok()))
            {
                return Daemon { pid, log_path };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the daemon did not serve {url}:\n{}", log());
    }
}

/// A daemonized gateway; killed when dropped (if a test fails before it
/// stops it).
struct Daemon {
    pid: u32,
    log_path: std::path::PathBuf,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !thread_names(self.pid).is_empty() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
    }
}

/// The threads of process `pid`, by name.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|name| name.trim_end().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_daemonized_gateway_keeps_its_working_directory_and_allocator_upkeep_and_reloads() {
    let up = Upstream::start("api").await;
    let home = DaemonHome::new();
    let store = "{path: ./data/portcullis.db}";
    home.write_config(store, "", &up, &["/one/"]);
    let daemon = home.start().await;
    let pid = daemon.pid;
    let kill = |signal: &str| {
        std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .unwrap()
    };

    // Relative paths in the config (the upgrade socket among them) mean
    // what they meant before the fork.
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        home.dir.path().canonicalize().unwrap()
    );
    // Threads started before daemonizing do not survive its fork.
    assert!(
        thread_names(pid).iter().any(|t| t == "BG allocator up"),
        "{:?}",
        thread_names(pid)
    );

    home.write_config(store, "", &up, &["/one/", "/two/"]);
    kill("HUP");
    let mut reloaded = false;
    for _ in 0..100 {
        if status_of(&format!("http://127.0.0.1:{}/two/x", home.port)).await == 200 {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before_stop = daemon.log();
    kill("TERM");
    for _ in 0..200 {
        if thread_names(pid).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded, "the reload was not applied:\n{before_stop}");
    assert!(thread_names(pid).is_empty(), "the daemon did not stop");
}

/// A daemon forks after start-up has used the store; a Redis store's
/// runtime thread does not survive that fork, so without closing and
/// reopening its connections every store call timed out (503) and the
/// daemon was never ready.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn a_daemonized_gateway_on_redis_serves_logins_and_is_ready() {
    let up = Upstream::start("api").await;
    let redis = common::RedisServer::start();
    let home = DaemonHome::new();
    let store = format!(
        "{{kind: redis, url: \"{}\", key_prefix: \"daemon:\"}}",
        redis.url()
    );
    home.write_config(&store, "brands:\n  DEMO: {}\n", &up, &["/one/"]);
    let daemon = home.start().await;
    let pid = daemon.pid;

    let ready = format!("http://127.0.0.1:{}/readyz", home.admin_port);
    let mut became_ready = false;
    for _ in 0..100 {
        if status_of(&ready).await == 200 {
            became_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        became_ready,
        "the daemon never became ready:\n{}",
        daemon.log()
    );
    let opened = common::client()
        .post(format!("http://127.0.0.1:{}/auth/v1/token/generate", home.port))
        .header("content-type", "application/json")
        .body(r#"{"identifierType": "MOBILE", "identifierValue": "+4915112345678", "brand": "demo", "deviceId": "device-1"}"#)
        .send()
        .await
        .expect("token/generate");
    assert_eq!(opened.status(), 200, "{}", daemon.log());
    assert!(
        thread_names(pid).iter().any(|t| t == "redis-store"),
        "{:?}",
        thread_names(pid)
    );
}
