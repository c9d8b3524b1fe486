//! Signalling a running gateway through its pid file (`portcullis reload`).

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("cannot read pid file {path}: {source}")]
    PidFile {
        path: String,
        source: std::io::Error,
    },
    #[error("pid file {0} does not hold a process id")]
    BadPid(String),
    #[error("process {pid}: {source}")]
    Kill { pid: i32, source: std::io::Error },
}

/// Sends SIGHUP to the pid in `pid_file`; returns that pid.
pub fn hang_up(pid_file: &Path) -> Result<i32, SignalError> {
    let text = std::fs::read_to_string(pid_file).map_err(|source| SignalError::PidFile {
        path: pid_file.display().to_string(),
        source,
    })?;
    let pid: i32 = text
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| SignalError::BadPid(pid_file.display().to_string()))?;
    // SAFETY: kill(2) takes plain integers and has no memory effects.
    let rc = unsafe { libc::kill(pid, libc::SIGHUP) };
    if rc == 0 {
        Ok(pid)
    } else {
        Err(SignalError::Kill {
            pid,
            source: std::io::Error::last_os_error(),
        })
    }
}
