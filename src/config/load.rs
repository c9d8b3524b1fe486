//! Reading the config file: YAML into the model, section by section, so that
//! one bad route does not hide the error in the next one. Every problem is
//! reported with its path (`routes[2].auth: unknown variant ...`).

use super::model::Config;
use super::validate::validate;
use serde::de::DeserializeOwned;
use serde_norway::Value;
use std::fmt;
use std::path::Path;

/// One thing wrong with the file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Everything wrong with the file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    pub fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            issues: vec![ConfigIssue {
                path: path.into(),
                message: message.into(),
            }],
        }
    }
}

/// Collects issues while a config is read and checked.
#[derive(Default)]
pub struct Issues(pub Vec<ConfigIssue>);

impl Issues {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }
}

const SECTIONS: &[&str] = &[
    "server",
    "listen",
    "admin",
    "store",
    "tokens",
    "brands",
    "login",
    "secrets",
    "otp_delivery",
    "limits",
    "upstreams",
    "routes",
];

/// Reads and validates the file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one("", format!("cannot read {}: {e}", path.display())))?;
    load_str(&text)
}

/// Reads and validates YAML text. Relative file paths in it are relative to
/// the working directory, as for any command-line tool.
pub fn load_str(text: &str) -> Result<Config, ConfigError> {
    let root: Value = serde_norway::from_str(text)
        .map_err(|e| ConfigError::one("", format!("not valid YAML: {e}")))?;
    let map = match root {
        Value::Mapping(m) => m,
        Value::Null => Default::default(),
        _ => {
            return Err(ConfigError::one(
                "",
                "the file must be a mapping of sections",
            ))
        }
    };

    let mut issues = Issues::default();
    let mut cfg = Config::default();
    for (key, value) in map {
        let Some(name) = key.as_str() else {
            issues.push("", format!("section names must be strings, found {key:?}"));
            continue;
        };
        if value.is_null() && name != "login" {
            continue; // an empty section means "all defaults"
        }
        match name {
            "server" => section(&mut issues, name, value, &mut cfg.server),
            "listen" => list(&mut issues, name, value, &mut cfg.listen, |l, i| {
                l.index = i
            }),
            "admin" => section(&mut issues, name, value, &mut cfg.admin),
            "store" => section(&mut issues, name, value, &mut cfg.store),
            "tokens" => section(&mut issues, name, value, &mut cfg.tokens),
            "brands" => named(&mut issues, name, value, &mut cfg.brands),
            "login" => section(&mut issues, name, value, &mut cfg.login),
            "secrets" => section(&mut issues, name, value, &mut cfg.secrets),
            "otp_delivery" => section(&mut issues, name, value, &mut cfg.otp_delivery),
            "limits" => section(&mut issues, name, value, &mut cfg.limits),
            "upstreams" => named(&mut issues, name, value, &mut cfg.upstreams),
            "routes" => list(&mut issues, name, value, &mut cfg.routes, |r, i| {
                r.index = i
            }),
            other => issues.push(
                other,
                format!("unknown section (expected one of: {})", SECTIONS.join(", ")),
            ),
        }
    }
    // Cross-field checks run even when some items failed to parse, so one
    // run reports everything; checks on an item that failed are dropped.
    let failed: Vec<String> = issues
        .0
        .iter()
        .map(|i| item_of(&i.path).to_string())
        .collect();
    let mut semantic = Issues::default();
    validate(&cfg, &mut semantic);
    issues.0.extend(
        semantic
            .0
            .into_iter()
            .filter(|i| !failed.iter().any(|f| item_of(&i.path) == f)),
    );
    if issues.0.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError { issues: issues.0 })
    }
}

/// The item a path belongs to: `routes[2]` for `routes[2].auth`, `server` for `server.threads`.
fn item_of(path: &str) -> &str {
    let end = path.find(['.', ']']).map_or(path.len(), |i| {
        if path.as_bytes()[i] == b']' {
            i + 1
        } else {
            i
        }
    });
    &path[..end]
}

fn decode<T: DeserializeOwned>(issues: &mut Issues, path: &str, value: Value) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let full = if inner == "." || inner.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            };
            issues.push(full, e.into_inner().to_string());
            None
        }
    }
}

fn section<T: DeserializeOwned>(issues: &mut Issues, path: &str, value: Value, out: &mut T) {
    if let Some(v) = decode(issues, path, value) {
        *out = v;
    }
}

fn list<T: DeserializeOwned>(
    issues: &mut Issues,
    path: &str,
    value: Value,
    out: &mut Vec<T>,
    set_index: fn(&mut T, usize),
) {
    let Value::Sequence(items) = value else {
        issues.push(path, "expected a list");
        return;
    };
    out.clear();
    for (i, item) in items.into_iter().enumerate() {
        if let Some(mut v) = decode::<T>(issues, &format!("{path}[{i}]"), item) {
            set_index(&mut v, i);
            out.push(v);
        }
    }
}

fn named<T: DeserializeOwned>(
    issues: &mut Issues,
    path: &str,
    value: Value,
    out: &mut std::collections::BTreeMap<String, T>,
) {
    let Value::Mapping(entries) = value else {
        issues.push(path, "expected a mapping of names");
        return;
    };
    for (k, v) in entries {
        let Some(name) = k.as_str() else {
            issues.push(path, format!("names must be strings, found {k:?}"));
            continue;
        };
        let v = if v.is_null() {
            Value::Mapping(Default::default())
        } else {
            v
        };
        if let Some(item) = decode(issues, &format!("{path}.{name}"), v) {
            out.insert(name.to_string(), item);
        }
    }
}
