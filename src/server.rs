//! Assembles the Pingora server from a config: the proxy service on every
//! public listener, the admin listener, and the upstream health checks.

use crate::admin::AdminApp;
use crate::config::Config;
use crate::config::ConfigError;
use crate::gateway::{Gateway, Shared, Snapshot};
use crate::proxy::connection::ClientConnections;
use crate::proxy::listener::PublicListeners;
use crate::proxy::Proxy;
use crate::reload::{ReloadOnHangup, Reloader};
use async_trait::async_trait;
use pingora_core::server::configuration::{Opt, ServerConf};
use pingora_core::server::{Server, ShutdownWatch};
use pingora_core::services::background::{background_service, BackgroundService};
use pingora_core::services::listening::Service;
use std::path::PathBuf;
use std::sync::Arc;

/// How the process was asked to start.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Take the listeners over from a running process through `upgrade_sock`.
    pub upgrade: bool,
    /// Detach and run in the background.
    pub daemon: bool,
}

/// Background work that belongs to a snapshot: every cluster's health checks
/// (pingora-load-balancing's own loop) and the trusted issuers' JWKS refresh.
/// A reload stops one generation and starts the next.
struct SnapshotTasks {
    gateway: Arc<Gateway>,
}

#[async_trait]
impl BackgroundService for SnapshotTasks {
    async fn start(&self, shutdown: ShutdownWatch) {
        let snapshot = self.gateway.snapshot();
        let runs = snapshot
            .clusters
            .values()
            .filter(|c| c.has_health_check)
            .map(|c| {
                let lb = c.lb.clone();
                let shutdown = shutdown.clone();
                async move { BackgroundService::start(&*lb, shutdown).await }
            });
        futures_util::future::join_all(runs).await;
    }
}

/// Removes expired sessions, codes, counters and revocations on a schedule.
struct StoreUpkeep {
    store: Arc<dyn crate::store::Store>,
    every: std::time::Duration,
}

#[async_trait]
impl BackgroundService for StoreUpkeep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let sweeper = crate::store::spawn_sweeper(self.store.clone(), self.every);
        let _ = shutdown.changed().await;
        sweeper.abort();
    }
}

/// Every connection is a file descriptor; many systems start processes with
/// a soft limit of 1024. Raise it to the hard limit, as nginx's
/// `worker_rlimit_nofile` does.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the plain struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) != 0 {
                tracing::warn!(soft = limit.rlim_cur, "cannot raise the open-file limit");
            }
        }
    }
}

fn server_conf(cfg: &Config) -> ServerConf {
    let s = &cfg.server;
    ServerConf {
        threads: s.threads,
        pid_file: s.pid_file.to_string_lossy().into_owned(),
        upgrade_sock: s.upgrade_sock.to_string_lossy().into_owned(),
        grace_period_seconds: Some(s.grace_period.get().as_secs()),
        graceful_shutdown_timeout_seconds: Some(s.graceful_shutdown_timeout.get().as_secs()),
        upstream_keepalive_pool_size: s.upstream_keepalive_pool_size,
        work_stealing: s.work_stealing,
        // Daemonizing would move the process to `/`; relative paths in the
        // config (the upgrade socket, files read after start) are relative
        // to where it was started, as for any command-line tool.
        working_directory: std::env::current_dir().ok(),
        // Upstream read/write and connect timeouts of a second or more on
        // tokio's timer wheel rather than Pingora's shared 10 ms timers:
        // 0.976 of the instructions per request and 2-3% more requests per
        // second (benches/load/compare.py, both orders).
        fast_timeout_to_tokio_threshold_seconds: Some(0),
        ..ServerConf::default()
    }
}

/// Builds the server; `run_forever` on it serves until a signal ends it.
/// `config_path` is what a reload (SIGHUP) reads again.
pub fn build(
    cfg: Config,
    config_path: PathBuf,
    start: &StartOptions,
) -> Result<Server, ConfigError> {
    let conf = server_conf(&cfg);
    let opt = Opt {
        upgrade: start.upgrade,
        daemon: start.daemon,
        ..Opt::default()
    };
    raise_open_file_limit();
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();
    let shared = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ConfigError::one("server", format!("cannot start a runtime: {e}")))?
        .block_on(Shared::open(&cfg))?;
    crate::otp::warn_if_development(&cfg.otp_delivery);
    if cfg.server.connection_read_buffer.bytes() != 0 {
        tracing::warn!("server.connection_read_buffer no longer has an effect: client connections are read straight into each request's buffers");
    }
    let snapshot = Snapshot::build(cfg, &shared)?;
    let cfg = snapshot.config.clone();
    let gateway = Arc::new(Gateway::new(shared, snapshot));
    if !start.daemon {
        // Pingora writes the pid file only when it daemonizes; `portcullis
        // reload` needs it either way. A successor of an upgrade takes it over.
        if let Err(e) = std::fs::write(&cfg.server.pid_file, format!("{}\n", std::process::id())) {
            tracing::warn!(pid_file = %cfg.server.pid_file.display(), error = %e, "cannot write the pid file; `portcullis reload` will not find this process");
        }
    }

    server.add_service(PublicListeners::new(
        cfg.listen.iter().map(|l| l.address.clone()).collect(),
        ClientConnections::new(
            pingora_proxy::http_proxy(&server.configuration, Proxy::new(gateway.clone())),
            gateway.clone(),
        ),
    ));

    if let Some(addr) = &cfg.admin.address {
        let mut admin = Service::new(
            "portcullis admin".to_string(),
            AdminApp::new(gateway.clone()),
        );
        admin.add_tcp(addr);
        server.add_service(admin);
    }
    server.add_service(background_service(
        "health checks and key refresh",
        SnapshotTasks {
            gateway: gateway.clone(),
        },
    ));
    server.add_service(background_service(
        "store upkeep",
        StoreUpkeep {
            store: gateway.shared.store.clone(),
            every: cfg.store.sweep_interval.get(),
        },
    ));
    server.add_service(background_service(
        "allocator upkeep",
        crate::allocator::FreedMemoryUpkeep::default(),
    ));
    if start.daemon {
        // Pingora forks into the daemon in `run_forever`, after this; the
        // services above start in the daemon, start-up's store calls are done.
        gateway.shared.store.prepare_to_fork();
    }
    server.add_service(background_service(
        "reload on SIGHUP",
        ReloadOnHangup {
            reloader: Reloader::new(gateway, config_path),
        },
    ));
    Ok(server)
}
