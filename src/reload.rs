//! Hot reload: re-read the config file, validate it, build a whole new
//! snapshot and swap it in, or keep the old one and log why. Triggered by
//! SIGHUP (`portcullis reload` sends it). Listener and process settings are
//! fixed for the life of a process; changing them needs a graceful upgrade.

use crate::config::{self, Config, ConfigError};
use crate::gateway::{same, Gateway, Snapshot};
use crate::metrics::METRICS;
use async_trait::async_trait;
use pingora_core::server::ShutdownWatch;
use pingora_core::services::background::BackgroundService;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Reloader {
    gateway: Arc<Gateway>,
    config_path: PathBuf,
}

/// What a successful reload changed that it could not apply.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Sections whose changes wait for a graceful upgrade.
    pub needs_upgrade: Vec<&'static str>,
}

/// Sections that only a new process can apply.
fn fixed_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !same(&old.listen, &new.listen) {
        out.push("listen");
    }
    if !same(&old.admin, &new.admin) {
        out.push("admin");
    }
    let (o, n) = (&old.server, &new.server);
    if o.threads != n.threads
        || o.pid_file != n.pid_file
        || o.upgrade_sock != n.upgrade_sock
        || o.upstream_keepalive_pool_size != n.upstream_keepalive_pool_size
        || o.work_stealing != n.work_stealing
    {
        out.push("server");
    }
    out
}

impl Reloader {
    pub fn new(gateway: Arc<Gateway>, config_path: PathBuf) -> Self {
        Reloader {
            gateway,
            config_path,
        }
    }

    /// Reads the file again and swaps the snapshot, or keeps the old one.
    pub fn reload(&self) -> Result<Reloaded, ConfigError> {
        let result = config::load_file(&self.config_path).and_then(|cfg| {
            let current = self.gateway.snapshot();
            let needs_upgrade = fixed_sections(&current.config, &cfg);
            let snapshot = Snapshot::build_after(cfg, &self.gateway.shared, Some(&current))?;
            crate::otp::warn_if_development(&snapshot.config.otp_delivery);
            self.gateway.swap(snapshot);
            Ok(Reloaded { needs_upgrade })
        });
        match &result {
            Ok(r) => {
                METRICS
                    .config_reloads_total
                    .with_label_values(&["ok"])
                    .inc();
                tracing::info!(config = %self.config_path.display(), "config reloaded");
                if !r.needs_upgrade.is_empty() {
                    tracing::warn!(
                        sections = ?r.needs_upgrade,
                        "these changes take effect only after a graceful upgrade (portcullis run --upgrade)"
                    );
                }
            }
            Err(e) => {
                METRICS
                    .config_reloads_total
                    .with_label_values(&["error"])
                    .inc();
                for issue in &e.issues {
                    tracing::error!(problem = %issue, "config reload rejected; the old config stays in force");
                }
            }
        }
        result
    }
}

/// Reloads on every SIGHUP for the life of the process.
pub struct ReloadOnHangup {
    pub reloader: Reloader,
}

#[async_trait]
impl BackgroundService for ReloadOnHangup {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangups =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGHUP; hot reload is off");
                    return;
                }
            };
        loop {
            tokio::select! {
                _ = hangups.recv() => {
                    let _ = self.reloader.reload();
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_and_process_changes_are_reported_as_needing_an_upgrade() {
        let old = config::load_str("listen: [{address: 127.0.0.1:1}]\n").unwrap();
        let new =
            config::load_str("listen: [{address: 127.0.0.1:2}]\nserver: {threads: 4}\n").unwrap();
        assert_eq!(fixed_sections(&old, &new), vec!["listen", "server"]);
        assert!(fixed_sections(&old, &old).is_empty());
    }
}
