//! The operator's config file: model, units, loading with every error
//! reported by path, and cross-section validation.

mod load;
mod model;
mod units;
mod validate;

pub use load::{load_file, load_str, ConfigError, ConfigIssue, Issues};
pub use model::*;
pub use units::{Dur, Size};
