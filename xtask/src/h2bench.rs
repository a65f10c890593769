//! `cargo xtask bench-h2`: each release example server over TLS, its
//! streams over HTTP/2 beside the same streams over HTTP/1.1 (the same
//! TLS, so that only the protocol differs), measured from outside the
//! process: resident memory per idle stream (`VmRSS`) and CPU time per
//! delivered event (`utime + stime`, all threads). Writes its section of
//! BENCHMARKS.md and `docs/benchmarks/h2.json`.

use std::path::Path;
use std::time::Duration;

use sse_conformance::client::open;
use sse_conformance::h2::TestCert;
use sse_conformance::launch::{Launch, Running, Target};

const BEGIN: &str = "<!-- h2:begin (made by `cargo xtask bench-h2`; edits are overwritten) -->";
const END: &str = "<!-- h2:end -->";

/// Browsers' connections: each multiplexes its tabs' streams over HTTP/2.
const CONNECTIONS: usize = 5;
/// Streams per connection over HTTP/2 (below every server's stream limit).
const STREAMS_PER_CONNECTION: usize = 100;
/// Events published to every stream for the CPU figure.
const EVENTS: usize = 200;

/// One protocol's figures for one server.
#[derive(Debug, Clone, Copy)]
struct Figures {
    kib_per_stream: f64,
    cpu_us_per_delivery: f64,
}

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> Result<f64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".to_owned())
}

/// The process's CPU time so far, all threads, user and system.
fn cpu_time(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The fields after the command name, which may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| -> Result<u64, String> {
        fields
            .get(index)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| format!("no field {index} in /proc/{pid}/stat"))
    };
    // utime and stime are fields 14 and 15, 12 and 13 after the name.
    let total = ticks(11)? + ticks(12)?;
    let per_second = rustix::param::clock_ticks_per_second();
    Ok(Duration::from_secs_f64(total as f64 / per_second as f64))
}

/// Measures one server over one protocol.
async fn measure(
    running: &Running,
    pid: u32,
    cert: &TestCert,
    alpn: &[u8],
) -> Result<Figures, String> {
    let streams_total = CONNECTIONS * STREAMS_PER_CONNECTION;
    let clients: Vec<reqwest::Client> = if alpn == b"h2" {
        (0..CONNECTIONS)
            .map(|_| cert.client(&[alpn]))
            .collect::<Result<_, _>>()?
    } else {
        // HTTP/1.1 holds one stream per connection; one client pools them.
        vec![cert.client(&[alpn])?]
    };
    // Warm up: the first TLS connection and request.
    open(&clients[0], &running.base, "/healthz", &[]).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid)?;
    let mut streams = Vec::with_capacity(streams_total);
    for i in 0..streams_total {
        let client = &clients[i % clients.len()];
        let mut stream = open(client, &running.base, "/events?topic=bench", &[]).await?;
        if stream.status != 200 {
            return Err(format!("stream {i}: status {}", stream.status));
        }
        let negotiated = stream.version;
        let wanted = if alpn == b"h2" {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        if negotiated != wanted {
            return Err(format!("negotiated {negotiated:?}, not {wanted:?}"));
        }
        stream.next_event().await?; // `connected`
        streams.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(pid)?;
    // Every stream reads on a task of its own while events are published.
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                for _ in 0..EVENTS {
                    stream.next_event().await?;
                }
                Ok::<_, String>(stream)
            })
        })
        .collect();
    let cpu_before = cpu_time(pid)?;
    let publisher = &clients[0];
    for i in 0..EVENTS {
        let response = publisher
            .post(format!("{}/notify?topic=bench", running.base))
            .header("content-type", "application/json")
            .body(i.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("publish: {}", response.status()));
        }
    }
    let mut kept = Vec::new();
    for reader in readers {
        let stream = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .map_err(|_| "the events did not all arrive within 60 s".to_owned())?
            .map_err(|e| e.to_string())??;
        kept.push(stream);
    }
    let cpu = cpu_time(pid)?.saturating_sub(cpu_before);
    drop(kept);
    let deliveries = (streams_total * EVENTS) as f64;
    Ok(Figures {
        kib_per_stream: (after - before) / streams_total as f64,
        cpu_us_per_delivery: cpu.as_secs_f64() * 1e6 / deliveries,
    })
}

/// Runs the benchmark against `frameworks`' release binaries under `root`.
pub(crate) fn run(root: &Path, frameworks: &[&str]) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no runtime: {e}"))?;
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for framework in frameworks {
        let target = Target {
            framework: (*framework).into(),
            launch: Launch::Process(crate::target_dir::release(root).join(framework)),
            nginx_config: None,
            options: Vec::new(),
        };
        let mut figures = Vec::new();
        for alpn in [&b"http/1.1"[..], b"h2"] {
            eprintln!("{framework} over {}…", String::from_utf8_lossy(alpn));
            let cert = TestCert::new()?;
            let options = cert.options();
            let mut args: Vec<&str> = options.iter().map(String::as_str).collect();
            // Room for the streams, and no heartbeat during the run.
            args.extend(["--max-clients", "100000", "--heartbeat", "10m"]);
            let running = runtime.block_on(target.start(&args))?;
            let pid = running
                .pid()
                .ok_or_else(|| "the server is not a process".to_owned())?;
            figures.push(runtime.block_on(measure(&running, pid, &cert, alpn))?);
        }
        let (h1, h2) = (figures[0], figures[1]);
        rows.push(format!(
            "| {framework} | {:.1} | {:.1} | {:.2}× | {:.2} | {:.2} | {:.2}× |",
            h1.kib_per_stream,
            h2.kib_per_stream,
            h2.kib_per_stream / h1.kib_per_stream,
            h1.cpu_us_per_delivery,
            h2.cpu_us_per_delivery,
            h2.cpu_us_per_delivery / h1.cpu_us_per_delivery,
        ));
        json.push(serde_json::json!({
            "framework": framework,
            "http1": {"kib_per_stream": h1.kib_per_stream, "cpu_us_per_delivery": h1.cpu_us_per_delivery},
            "http2": {"kib_per_stream": h2.kib_per_stream, "cpu_us_per_delivery": h2.cpu_us_per_delivery},
        }));
    }
    let streams = CONNECTIONS * STREAMS_PER_CONNECTION;
    let section = format!(
        "## HTTP/2 beside HTTP/1.1\n\n\
         Made by `cargo xtask bench-h2`. Each release example server serves TLS with a fresh \
         certificate; {streams} idle streams are opened over HTTP/1.1 ({streams} connections) \
         and, in a second run, over HTTP/2 ({CONNECTIONS} connections of \
         {STREAMS_PER_CONNECTION} streams, as {CONNECTIONS} browsers with many tabs would). \
         Memory is the growth of the server's resident set per stream; CPU is the server's \
         user and system time while {EVENTS} events reach every stream, per delivered event. \
         Ratios are HTTP/2 to HTTP/1.1, measured in the same run; both include TLS. One run \
         per cell on a shared machine: read the ratios, not the last digit.\n\n\
         | server | KiB per idle stream, HTTP/1.1 | HTTP/2 | ratio | CPU µs per delivery, HTTP/1.1 | HTTP/2 | ratio |\n\
         |---|---|---|---|---|---|---|\n{}\n\n",
        rows.join("\n")
    );
    println!("{section}");
    let path = root.join("BENCHMARKS.md");
    crate::generated::splice(&path, BEGIN, END, &section)?;
    let json_path = root.join("docs/benchmarks/h2.json");
    let pretty = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, pretty + "\n").map_err(|e| e.to_string())?;
    Ok(())
}
