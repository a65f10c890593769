//! Where cargo puts what it builds. Not always `target/` beside the
//! workspace: `CARGO_TARGET_DIR` or `build.target-dir` move it, as CI
//! caches and shared build directories do, so the tasks that start built
//! binaries ask cargo.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace's target directory, as `cargo metadata` reports it
/// (with every environment variable and configuration file cargo reads);
/// `root/target` if cargo cannot be asked.
pub(crate) fn dir(root: &Path) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| ask_cargo(root).unwrap_or_else(|| root.join("target")))
        .clone()
}

/// Where release builds go.
pub(crate) fn release(root: &Path) -> PathBuf {
    dir(root).join("release")
}

fn ask_cargo(root: &Path) -> Option<PathBuf> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    metadata["target_directory"].as_str().map(PathBuf::from)
}
