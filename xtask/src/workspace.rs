//! The workspace: where it is, its frameworks, and its release build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::system::run;

pub(crate) const FRAMEWORKS: [&str; 5] = ["axum", "actix", "warp", "rocket", "poem"];

/// Builds the example servers in release mode, for the tasks that start
/// them as processes.
pub(crate) fn build_release_examples(root: &Path) -> Result<(), String> {
    run(cargo()
        .current_dir(root)
        .args(["build", "--release", "-p", "sse-examples", "--bins"]))
}

/// The variables `cargo run` sets for this task itself, which a cargo
/// started from it must not see: a build script that tracks one (ring's
/// tracks `CARGO_MANIFEST_DIR`) would count it as a change and rebuild,
/// so that `cargo xtask test` rebuilt every release binary that CI's smoke
/// step had just built.
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_RUSTC_CURRENT_DIR"
        )
}

/// `cargo`, in the environment this task was started from, without what
/// `cargo run` added for the task itself.
pub(crate) fn cargo() -> Command {
    let mut command = Command::new("cargo");
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            command.env_remove(name);
        }
    }
    command
}

pub(crate) fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_does_not_inherit_what_cargo_run_set_for_this_task() {
        // `cargo test` sets these for this test as `cargo run` does for
        // the task.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let command = cargo();
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"] {
            assert!(
                removed.iter().any(|r| r == name),
                "{name} kept: {removed:?}"
            );
        }
        assert!(set_by_cargo_run("CARGO_PKG_VERSION"));
        assert!(!set_by_cargo_run("CARGO_TARGET_DIR"));
        assert!(!set_by_cargo_run("CARGO_PROFILE_RELEASE_OPT_LEVEL"));
    }
}
