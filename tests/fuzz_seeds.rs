//! The seed corpora of the fuzz targets (`fuzz/corpus/<target>/`) as plain
//! regression tests: every seed goes through the same function `cargo fuzz`
//! calls (`fuzz/src/lib.rs`, included here), which panics on an answer the
//! gateway must never give. A crash found by fuzzing becomes a seed here.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("seed entry").path())
        .collect();
    files.sort();
    files
}

/// Runs `target` on every seed and names each seed that panicked.
fn run_seeds(name: &str, target: fn(&[u8])) -> usize {
    let files = seeds(name);
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).expect("read seed");
            std::panic::catch_unwind(|| target(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "seeds that panicked:\n{}",
        failed.join("\n")
    );
    files.len()
}

#[test]
fn every_token_verify_seed_is_answered_without_a_panic() {
    assert!(run_seeds("token_verify", targets::token_verify) >= 10);
}

#[test]
fn every_auth_request_seed_is_answered_without_a_panic() {
    assert!(run_seeds("auth_request", targets::auth_request) >= 10);
}

#[test]
fn the_quick_payload_reading_agrees_with_the_full_one_on_every_seed() {
    assert!(run_seeds("payload_read", targets::payload_read) >= 10);
}

#[test]
fn every_config_load_seed_is_answered_without_a_panic() {
    assert!(run_seeds("config_load", targets::config_load) >= 5);
}

#[test]
fn the_config_seeds_that_should_load_do_and_the_broken_ones_do_not() {
    let text = |name: &str| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fuzz/corpus/config_load")
                .join(name),
        )
        .expect("seed")
    };
    for good in ["default.yaml", "minimal.yaml"] {
        let loaded = portcullis::config::load_str(&text(good));
        assert!(loaded.is_ok(), "{good}: {:?}", loaded.err());
    }
    for bad in [
        "unknown_key.yaml",
        "bad_units.yaml",
        "not_a_mapping.yaml",
        "anchors.yaml",
    ] {
        assert!(portcullis::config::load_str(&text(bad)).is_err(), "{bad}");
    }
}
