//! Tokens never reach the logs: each example binary runs with every log
//! on (`RUST_LOG=trace`), is sent tokens every way a client can send one,
//! valid and not, and its whole stderr is searched for them.

mod binaries;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use binaries::BINARIES;
use serde_json::json;
use sse_conformance::auth::{SECRET, grants, token};
use sse_conformance::client::http_client;
use sse_conformance::process::ServerProcess;

/// A server process, killed when dropped, and its stderr, read on a
/// thread of its own so that a full pipe never blocks the server.
struct Server {
    process: ServerProcess,
    logs: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    /// Stops the server; everything it logged.
    fn stop(mut self) -> String {
        let _ = self.process.child_mut().kill();
        let _ = self.process.child_mut().wait();
        self.logs
            .take()
            .and_then(|logs| logs.join().ok())
            .unwrap_or_default()
    }
}

/// Starts `binary` with JWT on and every log enabled; its address.
fn start(binary: &str) -> (Server, String) {
    let mut command = Command::new(binary);
    command
        .args(["--addr", "127.0.0.1:0", "--jwt-secret", SECRET])
        .env("RUST_LOG", "trace")
        .stderr(Stdio::piped());
    let mut process = ServerProcess::start(command).expect("the example binary starts");
    let mut stderr = process.child_mut().stderr.take().expect("stderr is piped");
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    let base = process.base().to_owned();
    let server = Server {
        process,
        logs: Some(logs),
    };
    (server, base)
}

async fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = http_client().get(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(Duration::from_secs(5), request.send())
        .await
        .expect("an answer within 5 s")
        .expect("an answer");
    // Dropping the response closes a stream at once.
    response.status().as_u16()
}

async fn post(base: &str, query: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = http_client()
        .post(format!("{base}/notify?{query}"))
        .header("content-type", "application/json")
        .body("1");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    tokio::time::timeout(Duration::from_secs(5), request.send())
        .await
        .expect("an answer within 5 s")
        .expect("an answer")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_the_logs_of_any_framework() {
    let valid = token(&grants(&["granted"], &["granted"]), SECRET).unwrap();
    let wrongly_signed = token(&grants(&["*"], &["*"]), "leaked-other-secret").unwrap();
    let expired = token(
        &json!({"sse": {"subscribe": ["*"]}, "exp": 1_000_000_000}),
        SECRET,
    )
    .unwrap();
    // Not a JWT, but still a secret a client sent.
    let opaque = "opaque-secret-7f3a9c";
    let secrets = [valid.as_str(), &wrongly_signed, &expired, opaque, SECRET];
    for (framework, binary) in BINARIES {
        let (server, base) = start(binary);
        let base = base.as_str();
        let mut statuses = Vec::new();
        for secret in [&valid, &wrongly_signed, &expired, &opaque.to_owned()] {
            let bearer = format!("Bearer {secret}");
            let cookie = format!("sse_token={secret}");
            statuses.push(get(base, &format!("/events?topic=granted&token={secret}"), &[]).await);
            statuses.push(get(base, &format!("/events?topic=other&token={secret}"), &[]).await);
            statuses.push(get(base, &format!("/events?topic=%FF&token={secret}"), &[]).await);
            statuses.push(get(base, "/events?topic=granted", &[("authorization", &bearer)]).await);
            statuses.push(get(base, "/events?topic=other", &[("cookie", &cookie)]).await);
            statuses.push(post(base, &format!("topic=other&token={secret}"), &[]).await);
            statuses.push(post(base, "topic=granted", &[("authorization", &bearer)]).await);
            statuses.push(
                get(
                    base,
                    &format!("/nothing?token={secret}"),
                    &[("cookie", &cookie)],
                )
                .await,
            );
        }
        // Every kind of answer was given, so every path that may log ran.
        for status in [200, 400, 401, 403, 404] {
            assert!(
                statuses.contains(&status),
                "{framework}: no {status} among {statuses:?}"
            );
        }
        let logs = server.stop();
        for secret in secrets {
            assert!(
                !logs.contains(secret),
                "{framework} logged a token or the secret:\n{logs}"
            );
        }
        // The refusals were logged, with the query's token redacted: the
        // search above looked at logs that had the chance to leak.
        assert!(
            logs.contains("token=[redacted]"),
            "{framework} logged no refused query:\n{logs}"
        );
    }
}
