//! How a private server runs beyond the defaults: TLS, more configuration
//! (ACL users, a master to replicate), or as a Sentinel.

use std::path::PathBuf;
use std::process::Command;

/// How a [`RedisServer`](super::RedisServer) runs beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// TLS on a port of its own, beside the plain port that the harness
    /// itself queries as the default user.
    pub tls: Option<TlsFiles>,
    /// More configuration, as `redis-server` takes it on its command line
    /// (`--user`, `alice`, `on`, …; `--replicaof`, `127.0.0.1`, `6379`).
    pub args: Vec<String>,
    /// A configuration file, read first (Sentinel writes into it).
    pub config_file: Option<PathBuf>,
    /// Run as a Sentinel (`--sentinel`), which keeps no data.
    pub sentinel: bool,
}

/// The PEM files of a server with TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The CA that client certificates are checked against.
    pub ca: PathBuf,
    /// Whether a client must present a certificate that `ca` signed.
    pub require_client_certificates: bool,
}

impl Setup {
    /// A server that replicates the one on `master_port`.
    pub fn replica_of(master_port: u16) -> Self {
        Self {
            args: vec![
                "--replicaof".into(),
                "127.0.0.1".into(),
                master_port.to_string(),
            ],
            ..Self::default()
        }
    }

    /// A user `name` with `password` and the README's minimal rights for
    /// the key prefix `prefix` (`ACL SETUSER sse-app on >PASSWORD …` in
    /// "Redis as production runs it"), as `--user` arguments: what the
    /// tests run the hub as is what users are told to grant.
    ///
    /// # Panics
    ///
    /// When the README has no such line.
    pub fn readme_acl_user(prefix: &str, name: &str, password: &str) -> Vec<String> {
        let readme = include_str!("../../../README.md");
        let rules = readme
            .lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix("ACL SETUSER sse-app on >PASSWORD ")
            })
            .expect("the README's minimal ACL: `ACL SETUSER sse-app on >PASSWORD …`");
        let mut args = vec![
            "--user".to_owned(),
            name.to_owned(),
            "on".into(),
            format!(">{password}"),
        ];
        args.extend(
            rules
                .split_whitespace()
                .map(|rule| rule.replace("PREFIX", prefix)),
        );
        args
    }

    /// Adds this setup's arguments to `command`, with TLS on `tls_port`.
    pub(super) fn add_args(&self, command: &mut Command, tls_port: Option<u16>) {
        if let (Some(tls), Some(port)) = (&self.tls, tls_port) {
            command
                .args(["--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(&tls.cert)
                .arg("--tls-key-file")
                .arg(&tls.key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca)
                .args([
                    "--tls-auth-clients",
                    if tls.require_client_certificates {
                        "yes"
                    } else {
                        "no"
                    },
                ]);
        }
        command.args(&self.args);
        if self.sentinel {
            command.arg("--sentinel");
        }
    }
}
