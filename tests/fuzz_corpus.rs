//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same
//! invariant checks the fuzz targets run (`fuzz/checks.rs`), on stable, under
//! `cargo test`. Crash reproducers saved in the corpus stay tests for good.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

/// Runs `check` on every file of `fuzz/corpus/<target>/`. Fails if the directory is
/// missing or empty, and names every file whose check failed.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|error| panic!("corpus {} is missing: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|error| panic!("reading {}: {error}", dir.display())).path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());

    let mut failed = Vec::new();
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|error| panic!("reading {}: {error}", file.display()));
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{} ({} bytes: b\"{}\"): {message}", file.display(), data.len(), data.escape_ascii()));
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus files fail:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn command() {
    replay("command", checks::command);
}

#[test]
fn reply() {
    replay("reply", checks::reply);
}

#[test]
fn data_decoder() {
    replay("data_decoder", checks::data_decoder);
}

#[test]
fn line_framer() {
    replay("line_framer", checks::line_framer);
}

#[test]
fn capabilities() {
    replay("capabilities", checks::capabilities);
}

#[test]
fn server_session() {
    replay("server_session", checks::server_session);
}

#[test]
fn client_session() {
    replay("client_session", checks::client_session);
}

#[test]
fn client_server() {
    replay("client_server", checks::client_server);
}

#[test]
fn proxy_header() {
    replay("proxy_header", checks::proxy_header);
}
