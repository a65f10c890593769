//! Running commands, and installing the Debian packages a task needs.

use std::path::PathBuf;
use std::process::Command;

/// Debian packages the tests use, by the program each provides.
pub(crate) const TEST_PACKAGES: &[(&str, &str)] =
    &[("redis-server", "redis-server"), ("nginx", "nginx-light")];

/// What the socket benchmarks need beyond the Rust servers.
pub(crate) const SOCKET_BENCH_PACKAGES: &[(&str, &str)] = &[
    ("nginx", "nginx-light"),
    (
        "/usr/lib/nginx/modules/ngx_nchan_module.so",
        "libnginx-mod-nchan",
    ),
];

/// Installs the packages of `wanted` whose program is not on `PATH`, with
/// apt-get (as root), or says how to.
pub(crate) fn ensure_packages(wanted: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    if !root || !on_path("apt-get") {
        return Err(format!(
            "the tests need {list}: install them (apt-get install {list}) and run again"
        ));
    }
    eprintln!("installing {list}…");
    run(Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Whether `program` is an executable in a directory of `PATH` (or in
/// `/usr/sbin`, where Debian puts nginx, outside a user's `PATH`).
/// Whether `program` is on `PATH` (or, given as an absolute path, exists).
pub(crate) fn on_path(program: &str) -> bool {
    if program.starts_with('/') {
        return std::path::Path::new(program).is_file();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .any(|dir| dir.join(program).is_file())
}

pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|err| format!("could not start {command:?}: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed with {status}"))
    }
}
