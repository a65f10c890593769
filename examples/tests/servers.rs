//! Every example binary, started as a process: it announces its real port,
//! serves an event stream, and on SIGTERM ends the stream cleanly and exits
//! 0 within a second.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sse_conformance::client::{http_client, notify, open};

const FRAMEWORKS: [(&str, &str); 5] = [
    ("axum", env!("CARGO_BIN_EXE_axum")),
    ("actix", env!("CARGO_BIN_EXE_actix")),
    ("warp", env!("CARGO_BIN_EXE_warp")),
    ("rocket", env!("CARGO_BIN_EXE_rocket")),
    ("poem", env!("CARGO_BIN_EXE_poem")),
];

/// Kills the process if a check fails before it exits by itself.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `binary` on an ephemeral port; the process and its base URL.
fn start(binary: &str) -> (Process, String) {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let process = Process(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line on stdout");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{binary}: unexpected first line {line:?}"))
        .to_owned();
    assert!(
        !base.ends_with(":0"),
        "{binary}: the real port, not 0: {base}"
    );
    (process, base)
}

fn terminate(process: &Process) {
    let status = Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits at most `limit` for the process to exit; its exit code.
fn exit_within(process: &mut Process, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = process.0.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_serves_and_shuts_down_gracefully() {
    for (framework, binary) in FRAMEWORKS {
        let (mut process, base) = start(binary);
        let client = http_client();
        let mut stream = open(&client, &base, "/events?topic=t", &[]).await.unwrap();
        assert_eq!(stream.status, 200, "{framework}");
        let (status, _) = notify(&client, &base, "topic=t&event=e", "[1]")
            .await
            .unwrap();
        assert_eq!(status, 200, "{framework}");
        // The connected event, then the published one.
        assert_eq!(
            stream.next_event().await.unwrap().event(),
            "connected",
            "{framework}"
        );
        assert_eq!(
            stream.next_event().await.unwrap().data(),
            "[1]",
            "{framework}"
        );

        terminate(&process);
        stream
            .ends_within(Duration::from_secs(1))
            .await
            .unwrap_or_else(|e| panic!("{framework}: {e}"));
        let code =
            tokio::task::block_in_place(|| exit_within(&mut process, Duration::from_secs(1)));
        assert_eq!(code, Some(0), "{framework}: exit code");
    }
}
