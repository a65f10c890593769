//! The `tail` example, run as a user runs it, against a scripted server.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::Script;

/// Builds the example (quick when it is up to date) and gives its path.
fn tail_binary() -> PathBuf {
    // Tests run from `<target>/<profile>/deps/`; examples sit beside it.
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the profile directory")
        .to_owned();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "-q", "-p", "sse-hub-client", "--example", "tail"]);
    if profile.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "the tail example builds");
    profile.join("examples").join("tail")
}

/// Runs the tail with `args` on a thread, so the script can serve it.
fn run(args: Vec<String>) -> tokio::task::JoinHandle<Output> {
    run_with_env(args, &[])
}

/// [`run`] with these environment variables, and no proxy settings of the
/// test's own environment.
fn run_with_env(args: Vec<String>, env: &[(&str, String)]) -> tokio::task::JoinHandle<Output> {
    let binary = tail_binary();
    let mut command = Command::new(binary);
    command.args(args);
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output().expect("the tail runs"))
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_json_lines_resumes_and_stops_on_204() {
    let server = Script::start().await;
    let tail = run(vec![
        server.url.clone(),
        "-H".into(),
        "X-Token: abc".into(),
        "--last-event-id".into(),
        "41".into(),
        "--json".into(),
    ]);
    let mut request = server.next().await;
    assert_eq!(request.header("x-token"), Some("abc"));
    assert_eq!(request.header("last-event-id"), Some("41"));
    request.open().await;
    request
        .send(b"retry: 10\n\nid: 42\nevent: greet\ndata: hello\ndata: world\n\ndata: no id\n\n")
        .await;
    drop(request);
    let request = server.next().await;
    assert_eq!(request.header("last-event-id"), Some("42"));
    request.answer("204 No Content", "", "").await;
    let output = tail.await.expect("the tail ran");
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"event": "greet", "data": "hello\nworld", "id": "42"}),
            serde_json::json!({"event": "message", "data": "no id", "id": "42"}),
        ]
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("reconnecting"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_one_line_per_event_and_fails_on_a_refusal() {
    let server = Script::start().await;
    let tail = run(vec![server.url.clone()]);
    let mut request = server.next().await;
    request.open().await;
    request
        .send(b"retry: 10\n\nid: 7\nevent: log\ndata: a\ndata: b\n\n")
        .await;
    drop(request);
    server
        .next()
        .await
        .answer("403 Forbidden", "", "the token does not grant topic logs")
        .await;
    let output = tail.await.expect("the tail ran");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "7\tlog\ta\\nb\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("403") && stderr.contains("does not grant topic logs"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_rejects_a_header_without_a_colon() {
    let output = run(vec![
        "http://127.0.0.1:9/".into(),
        "-H".into(),
        "nonsense".into(),
    ])
    .await
    .expect("the tail ran");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("Name: value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_comes_from_the_environment() {
    // The script plays an HTTP proxy: the request arrives in absolute form.
    let proxy = Script::start().await;
    let proxy_url = proxy.url.trim_end_matches("/events").to_owned();
    let tail = run_with_env(
        vec![
            "http://stream.invalid/events?topic=t".into(),
            "--json".into(),
        ],
        &[("HTTP_PROXY", proxy_url)],
    );
    let mut request = proxy.next().await;
    assert!(
        request
            .head
            .starts_with("GET http://stream.invalid/events?topic=t HTTP/1.1"),
        "{}",
        request.head
    );
    request.open().await;
    request
        .send(b"retry: 10\n\nid: 1\ndata: via the proxy\n\n")
        .await;
    drop(request);
    proxy.next().await.answer("204 No Content", "", "").await;
    let output = tail.await.expect("the tail ran");
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("via the proxy"));
}
