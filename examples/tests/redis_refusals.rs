//! A Redis deployment that refuses the server stops it at start, in every
//! framework: the process exits with status 1 before it says `listening
//! on`, and its log names the problem and the options to look at, without
//! the password. Against real `redis-server` processes: an ACL user with
//! another password, a server with TLS whose certificate the server does
//! not trust, and Sentinels that know no master of the name given.

mod binaries;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use binaries::BINARIES;
use sse_conformance::redis_server::sentinel::RedisSentinels;
use sse_conformance::redis_server::{RedisServer, Setup, TestCertificates};

/// Far above the moment a refusal comes (Redis answers at once).
const LIMIT: Duration = Duration::from_secs(20);

/// Runs `binary` with `args` until it exits on its own: (exit code,
/// stdout, stderr).
fn run_to_exit(binary: &str, args: &[String]) -> (Option<i32>, String, String) {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example binary runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("a child to wait for") {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{binary} {args:?} was still running after {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    (status.code(), out, err)
}

/// Every binary, started with `args`, stops at start saying `expected`
/// and never `secret`.
fn every_binary_refuses(args: &[String], expected: &str, secret: Option<&str>) {
    let mut failures = Vec::new();
    for (framework, binary) in BINARIES {
        let (code, out, err) = run_to_exit(binary, args);
        let fine = code == Some(1)
            && !out.contains("listening on")
            && err.contains(expected)
            && err.contains("--redis")
            && secret.is_none_or(|secret| !err.contains(secret));
        if !fine {
            failures.push(format!(
                "{framework}: exit {code:?}, stdout {out:?}, stderr {err:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_password_stops_every_server_at_start() {
    let Some(server) = RedisServer::start_with(
        "wrong_password_stops_the_server",
        Setup {
            args: ["--user", "app", "on", ">right-one", "~*", "&*", "+@all"]
                .map(String::from)
                .to_vec(),
            ..Setup::default()
        },
    ) else {
        return;
    };
    let url = format!("redis://app:Wr0ngSecret@127.0.0.1:{}/", server.port());
    every_binary_refuses(
        &["--redis".into(), url],
        "authentication failed",
        Some("Wr0ngSecret"),
    );
}

#[test]
fn an_untrusted_redis_certificate_stops_every_server_at_start() {
    let certificates = TestCertificates::new("untrusted_stops_the_server");
    let Some(server) = RedisServer::start_with(
        "untrusted_stops_the_server",
        Setup {
            tls: Some(certificates.server(false)),
            ..Setup::default()
        },
    ) else {
        return;
    };
    let args = [
        "--redis".into(),
        server.tls_url(""),
        "--redis-ca".into(),
        certificates.other_ca.display().to_string(),
    ];
    every_binary_refuses(&args, "certificate is not trusted", None);
}

#[test]
fn an_unknown_sentinel_master_stops_every_server_at_start() {
    let test = "unknown_master_stops_the_server";
    let Some(master) = RedisServer::start(test) else {
        return;
    };
    let Some(sentinels) = RedisSentinels::start(test, &master, "events", 1, 0) else {
        return;
    };
    let mut args: Vec<String> = sentinels
        .urls()
        .into_iter()
        .flat_map(|url| ["--redis-sentinel".to_owned(), url])
        .collect();
    args.extend(["--redis-master".into(), "evnets".into()]);
    every_binary_refuses(&args, "no sentinel knows a master named", None);
}
