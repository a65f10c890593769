//! The workspace: where it is, its frameworks, and its release build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::system::run;

pub(crate) const FRAMEWORKS: [&str; 5] = ["axum", "actix", "warp", "rocket", "poem"];

/// Builds the example servers in release mode, for the tasks that start
/// them as processes.
pub(crate) fn build_release_examples(root: &Path) -> Result<(), String> {
    run(Command::new("cargo").current_dir(root).args([
        "build",
        "--release",
        "-p",
        "sse-examples",
        "--bins",
    ]))
}

pub(crate) fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}
