//! HMAC secrets: read from an environment variable or a file (trailing
//! newline trimmed), at least 32 bytes. For development, a missing
//! `secret_file` can be created on first start: it then holds 64 lowercase
//! hex characters (32 random bytes, hex-encoded), written with mode 0600, and
//! those 64 characters are the secret, used as-is like any other file.

use super::error::TokenError;
use rand::RngCore;
use std::io::Write;
use std::path::Path;

/// The shortest HMAC secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// The secret held in environment variable `name`.
pub(crate) fn from_env(name: &str) -> Result<Vec<u8>, String> {
    match std::env::var_os(name) {
        Some(v) => checked(trim_newline(os_bytes(v))),
        None => Err(format!("environment variable {name} is not set")),
    }
}

/// The secret held in the file at `path`.
pub(crate) fn from_file(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    checked(trim_newline(bytes))
}

/// Writes a new random secret to `path` (creating parent directories) with
/// mode 0600. Fails if the file appeared meanwhile, so a secret is never overwritten.
pub fn create_secret_file(path: &Path) -> Result<(), TokenError> {
    let fail = |e: std::io::Error| TokenError::KeyFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let mut text = hex(&raw);
    text.push('\n');
    let mut file = private_file(path).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}

/// Opens a new file readable only by its owner; fails if it exists.
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn checked(secret: Vec<u8>) -> Result<Vec<u8>, String> {
    if secret.len() < MIN_SECRET_BYTES {
        Err(format!(
            "the secret must be at least {MIN_SECRET_BYTES} bytes (it has {})",
            secret.len()
        ))
    } else {
        Ok(secret)
    }
}

fn trim_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

#[cfg(unix)]
fn os_bytes(v: std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    v.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(v: std::ffi::OsString) -> Vec<u8> {
    v.to_string_lossy().into_owned().into_bytes()
}
