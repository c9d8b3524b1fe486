//! How to reach Redis: the URL (from the config file or from the
//! environment variable it names, never logged), key prefix, pool size and
//! the timeouts that bound every call.

use super::super::{StoreError, StoreResult};
use std::time::Duration;

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://`, with credentials if any (never logged).
    pub url: String,
    pub key_prefix: String,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}

impl RedisSettings {
    /// The settings of `store:`; the URL comes from `url` or from the
    /// environment variable named by `url_env` (so passwords stay out of
    /// the file).
    pub fn from_config(config: &crate::config::Store) -> StoreResult<Self> {
        let url = match (&config.url_env, &config.url) {
            (Some(var), _) => std::env::var(var).map_err(|_| {
                StoreError::Invalid(format!("store.url_env names {var}, which is not set"))
            })?,
            (None, Some(url)) => url.clone(),
            (None, None) => {
                return Err(StoreError::Invalid(
                    "store.kind redis needs url or url_env".into(),
                ))
            }
        };
        Ok(RedisSettings {
            url,
            key_prefix: config.key_prefix.clone(),
            pool_size: config.pool_size,
            connect_timeout: config.connect_timeout.get(),
            command_timeout: config.command_timeout.get(),
        })
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("key_prefix", &self.key_prefix)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}
