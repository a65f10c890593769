//! `cargo xtask browser`: the example servers in a real browser, Debian's
//! Chromium driven by playwright-core (the scripts in
//! `conformance/browser/`). Two runs per server: the demo page end to end
//! (`demo-page.mjs`), and how many `EventSource`s one page keeps open over
//! HTTP/2 and over HTTP/1.1 (`connections.mjs`). The results go to
//! `conformance/BROWSER.md`, the screenshots to `target/browser/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sse_conformance::launch::{Launch, Target, start_nginx};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::system::{ensure_packages, run as run_command};
use crate::workspace::{FRAMEWORKS, build_release_examples};

/// The streams one page opens to one server.
const BROWSER_STREAMS: usize = 10;

/// What a browser allows per origin over HTTP/1.1.
const HTTP1_CONNECTIONS: u64 = 6;

/// The servers' `--retry` in the demo-page run: the browser must wait this
/// long before it reconnects.
const RETRY_MS: u64 = 1000;

/// The most one framework's demo-page run may take, restart included.
const DEMO_PAGE_LIMIT: Duration = Duration::from_secs(120);

/// One check of the demo page: its name, whether it passed, and why not.
type Outcome = (String, bool, String);

/// `cargo xtask browser`: see the module's documentation. With `servers`,
/// only those, and BROWSER.md is left as it is.
pub(crate) fn run(root: &Path, servers: &[String]) -> Result<(), String> {
    ensure_packages(&[
        ("/usr/bin/chromium", "chromium"),
        ("node", "nodejs"),
        ("npm", "npm"),
        ("nginx", "nginx-light"),
    ])?;
    node_is_recent_enough()?;
    let scripts = root.join("conformance/browser");
    if !scripts.join("node_modules/playwright-core").is_dir() {
        run_command(Command::new("npm").current_dir(&scripts).args([
            "ci",
            "--no-audit",
            "--no-fund",
        ]))?;
    }
    build_release_examples(root)?;
    let shots = crate::target_dir::dir(root).join("browser");
    std::fs::create_dir_all(&shots)
        .map_err(|e| format!("cannot create {}: {e}", shots.display()))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("no runtime: {e}"))?;
    let mut pages = Vec::new();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let chosen = FRAMEWORKS
        .into_iter()
        .filter(|framework| servers.is_empty() || servers.iter().any(|s| s == framework));
    for framework in chosen {
        let target = Target {
            framework: framework.into(),
            launch: Launch::Process(crate::target_dir::release(root).join(framework)),
            nginx_config: None,
            options: Vec::new(),
        };
        eprintln!("{framework}, the demo page…");
        let outcomes = runtime
            .block_on(demo_page(root, &target, &shots))
            .map_err(|e| format!("{framework}, the demo page: {e}"))?;
        for (name, ok, detail) in &outcomes {
            if !ok {
                failures.push(format!("{framework}, the demo page: {name}: {detail}"));
            }
        }
        let mut outcomes = outcomes;
        eprintln!("{framework}, the demo page through a rolling restart…");
        let rolling = runtime
            .block_on(rolling_page(root, &target))
            .map_err(|e| format!("{framework}, the rolling restart: {e}"))?;
        for (name, ok, detail) in &rolling {
            if !ok {
                failures.push(format!("{framework}, the demo page: {name}: {detail}"));
            }
        }
        outcomes.extend(rolling);
        pages.push((framework, outcomes));
        rows.push(runtime.block_on(connections(&target, &mut failures, &scripts))?);
    }
    let report = report(&pages, &rows)?;
    println!("{report}");
    if servers.is_empty() {
        let path = root.join("conformance/BROWSER.md");
        std::fs::write(&path, report)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    eprintln!("screenshots in {}", shots.display());
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

/// The oldest Node.js that playwright-core 1.65 runs on (its `engines`).
const NODE_MAJOR: u32 = 20;

/// Says so when `node` is older than [`NODE_MAJOR`], as Debian 12's own
/// package (18) is: npm would install playwright-core with a mere warning.
fn node_is_recent_enough() -> Result<(), String> {
    let output = Command::new("node")
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if major >= NODE_MAJOR => Ok(()),
        _ => Err(format!(
            "the browser checks need Node.js {NODE_MAJOR} or newer (playwright-core);              `node --version` says {version:?}"
        )),
    }
}

/// Runs `demo-page.mjs` against a release server started with a short
/// `--retry` and nginx serving it under `/sse/`; restarts the server on its
/// port when the script asks. The script's checks, in its order.
async fn demo_page(root: &Path, target: &Target, shots: &Path) -> Result<Vec<Outcome>, String> {
    let retry = format!("{RETRY_MS}ms");
    // `demo-page.mjs` publishes from a page of this origin, which the
    // server lists.
    let (other_origin, _other_page) = other_origin().await?;
    // The restart below is the one of a single server, without a drain:
    // the page must reconnect after exactly its `retry`.
    let options = [
        "--drain-timeout",
        "0s",
        "--retry",
        retry.as_str(),
        "--cors-origin",
        other_origin.as_str(),
    ];
    let mut server = target.start(&options).await?;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let (_proxy, proxied) =
        start_nginx(&root.join("examples/deploy/nginx-prefix.conf"), &[&addr]).await?;
    let script = spawn_script(
        tokio::process::Command::new("node")
            .current_dir(root.join("conformance/browser"))
            .arg("demo-page.mjs")
            .arg(&server.base)
            .arg(format!("{proxied}/sse/"))
            .arg(shots)
            .arg(&target.framework)
            .arg(RETRY_MS.to_string())
            .arg(&other_origin),
    )?;
    checks_of(script, async || {
        restart(target, &mut server, &addr, &options).await
    })
    .await
}

/// Starts a browser script with its stdin and stdout piped, killed when
/// dropped.
fn spawn_script(command: &mut tokio::process::Command) -> Result<tokio::process::Child, String> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))
}

/// Talks with a browser script: answers each `@@ {"restart":true}` with
/// `restart`'s outcome (`restarted`, or why not), and returns the checks
/// of its last message, within [`DEMO_PAGE_LIMIT`].
async fn checks_of(
    mut node: tokio::process::Child,
    mut restart: impl AsyncFnMut() -> Result<(), String>,
) -> Result<Vec<Outcome>, String> {
    let (Some(mut stdin), Some(stdout)) = (node.stdin.take(), node.stdout.take()) else {
        return Err("node has no stdin or stdout".into());
    };
    let mut lines = BufReader::new(stdout).lines();
    let talk = async {
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            let Some(message) = line.strip_prefix("@@ ") else {
                eprintln!("{line}");
                continue;
            };
            let message: serde_json::Value = serde_json::from_str(message)
                .map_err(|e| format!("a message that is not JSON ({e}): {message}"))?;
            if message["restart"] == true {
                let answer = match restart().await {
                    Ok(()) => "restarted\n".to_owned(),
                    Err(err) => format!("failed: {err}\n"),
                };
                stdin
                    .write_all(answer.as_bytes())
                    .await
                    .map_err(|e| format!("cannot answer the script: {e}"))?;
            } else if let Some(checks) = message["checks"].as_array() {
                return Ok(checks
                    .iter()
                    .map(|check| {
                        (
                            check["name"].as_str().unwrap_or("?").to_owned(),
                            check["ok"] == true,
                            check["detail"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect());
            }
        }
        Err("the script ended without its results".to_owned())
    };
    let outcomes = tokio::time::timeout(DEMO_PAGE_LIMIT, talk)
        .await
        .map_err(|_| format!("no result within {DEMO_PAGE_LIMIT:?}"))??;
    let _ = tokio::time::timeout(Duration::from_secs(10), node.wait()).await;
    Ok(outcomes)
}

/// Runs `rolling.mjs`: two instances of `target` on a private Redis behind
/// nginx (`examples/deploy/nginx-redis.conf`), with a short drain; when
/// the script asks, the instance that holds the page's stream is stopped
/// with SIGTERM, drains, and is started again on its port.
async fn rolling_page(root: &Path, target: &Target) -> Result<Vec<Outcome>, String> {
    sse_conformance::client::install_crypto();
    let redis = sse_conformance::redis_server::RedisServer::start("browser rolling restart")
        .ok_or("redis-server is not installed (apt-get install redis-server)")?;
    let url = redis.url();
    let retry = format!("{RETRY_MS}ms");
    let options = [
        "--redis",
        url.as_str(),
        "--retry",
        retry.as_str(),
        "--drain-timeout",
        "2s",
    ];
    let mut instances = vec![target.start(&options).await?, target.start(&options).await?];
    let addrs: Vec<String> = instances
        .iter()
        .map(|i| i.base.trim_start_matches("http://").to_owned())
        .collect();
    let upstreams: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let (_proxy, proxied) =
        start_nginx(&root.join("examples/deploy/nginx-redis.conf"), &upstreams).await?;
    let script = spawn_script(
        tokio::process::Command::new("node")
            .current_dir(root.join("conformance/browser"))
            .arg("rolling.mjs")
            .arg(&proxied),
    )?;
    checks_of(script, async || {
        restart_holder(target, &mut instances, &addrs, &options).await
    })
    .await
}

/// Stops the instance that holds the page's stream (the one whose
/// `sse_clients` is not 0) with SIGTERM, waits out its drain, and starts
/// it again on its port.
async fn restart_holder(
    target: &Target,
    instances: &mut [sse_conformance::launch::Running],
    addrs: &[String],
    options: &[&str],
) -> Result<(), String> {
    let mut holder = None;
    for (i, instance) in instances.iter().enumerate() {
        let text = reqwest::get(format!("{}/metrics", instance.base))
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let clients = text
            .lines()
            .find_map(|line| line.strip_prefix("sse_clients "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if clients > 0.0 {
            holder = Some(i);
        }
    }
    let i = holder.ok_or("no instance holds the page's stream")?;
    instances[i].terminate()?;
    let code = instances[i]
        .exit_code_within(Duration::from_secs(5))
        .await?;
    if code != Some(0) {
        return Err(format!("the instance exited with {code:?}"));
    }
    instances[i] = target.start_at(&addrs[i], options).await?;
    Ok(())
}

/// A page on an origin of its own (a loopback port, so that the browser
/// treats it as the servers' peer, not as a public page reaching into a
/// private network): every request gets an empty HTML page, until the
/// guard is dropped. Its origin, and the guard.
async fn other_origin() -> Result<(String, AbortOnDrop), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind the other origin's port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("the other origin has no address: {e}"))?
        .port();
    let serve = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut head).await;
                let body = "<!doctype html><title>another origin</title>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    Ok((format!("http://127.0.0.1:{port}"), AbortOnDrop(serve)))
}

/// Stops its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Stops `server` as an operator would (SIGTERM, and it must exit), then
/// starts the same binary on the same address.
async fn restart(
    target: &Target,
    server: &mut sse_conformance::launch::Running,
    addr: &str,
    options: &[&str],
) -> Result<(), String> {
    server.terminate()?;
    let code = server.exit_code_within(Duration::from_secs(5)).await?;
    if code != Some(0) {
        return Err(format!("the server exited with {code:?}"));
    }
    *server = target.start_at(addr, options).await?;
    Ok(())
}

/// Runs `connections.mjs` over HTTP/2 with TLS, then over HTTP/1.1: the
/// row of BROWSER.md's table for `target`.
async fn connections(
    target: &Target,
    failures: &mut Vec<String>,
    scripts: &Path,
) -> Result<String, String> {
    let framework = &target.framework;
    let cert = sse_conformance::h2::TestCert::new()?;
    let tls = cert.options();
    let tls: Vec<&str> = tls.iter().map(String::as_str).collect();
    let mut cells = Vec::new();
    for (label, options, protocol, expected) in [
        ("HTTP/2 over TLS", &tls[..], "h2", BROWSER_STREAMS as u64),
        ("HTTP/1.1", &[][..], "http/1.1", HTTP1_CONNECTIONS),
    ] {
        eprintln!("{framework}, {BROWSER_STREAMS} streams, {label}…");
        let server = target.start(options).await?;
        let output = tokio::process::Command::new("node")
            .current_dir(scripts)
            .args([
                "connections.mjs",
                &server.base,
                &BROWSER_STREAMS.to_string(),
            ])
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(60), output)
            .await
            .map_err(|_| format!("{framework}, {label}: no result within 60 s"))?
            .map_err(|e| format!("cannot run node: {e}"))?;
        drop(server);
        let text = String::from_utf8_lossy(&output.stdout);
        let result: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
            format!(
                "{framework}, {label}: no result ({e}): {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
        let received = result["received"].as_u64().unwrap_or(0);
        let negotiated = result["protocol"].as_str().unwrap_or("");
        if negotiated != protocol || received != expected {
            failures.push(format!(
                "{framework}, {label}: {negotiated}, {received} of {BROWSER_STREAMS} streams \
                 received their event (expected {protocol}, {expected})"
            ));
        }
        cells.push(format!("{received} of {BROWSER_STREAMS} ({negotiated})"));
    }
    Ok(format!("| {framework} | {} |", cells.join(" | ")))
}

/// BROWSER.md: the demo page's checks (one column per server), then the
/// connections table.
fn report(pages: &[(&str, Vec<Outcome>)], rows: &[String]) -> Result<String, String> {
    let Some((_, first)) = pages.first() else {
        return Err("no server was checked".into());
    };
    let mut checks = String::new();
    for (i, (name, _, _)) in first.iter().enumerate() {
        checks.push_str(&format!("| {name} |"));
        for (framework, outcomes) in pages {
            let cell = match outcomes.get(i) {
                Some((other, true, _)) if other == name => "pass".to_owned(),
                Some((other, false, detail)) if other == name => format!("FAIL: {detail}"),
                _ => return Err(format!("{framework} ran other checks than {}", pages[0].0)),
            };
            checks.push_str(&format!(" {} |", cell.replace('|', "\\|")));
        }
        checks.push('\n');
    }
    let frameworks: Vec<&str> = pages.iter().map(|(framework, _)| *framework).collect();
    Ok(format!(
        "# The example servers in a real browser\n\n\
         Made by `cargo xtask browser`: Debian's Chromium, headless, driven by playwright-core \
         (the scripts in `conformance/browser/`), against each release example server.\n\n\
         ## The demo page\n\n\
         `demo-page.mjs` opens the server's demo page (`GET /`) and uses it as a person would; \
         the server runs with `--retry {RETRY_MS}ms`, and is stopped with SIGTERM and started \
         again on the same port halfway through. The page is also opened under `/sse/` \
         behind nginx (`examples/deploy/nginx-prefix.conf`) and at 390×844. Screenshots: \
         `target/browser/<server>.png` and `<server>-phone.png`. The last check \
         (`rolling.mjs`) opens the page through nginx in front of two instances on one \
         Redis (`examples/deploy/nginx-redis.conf`, `--drain-timeout 2s`) and, while events \
         are published every 100 ms, stops the instance that holds the page's stream with \
         SIGTERM and starts it again.\n\n\
         | check | {} |\n|---|{}\n{checks}\n\
         ## Streams per page\n\n\
         `connections.mjs` opens {BROWSER_STREAMS} `EventSource`s to one server in one page; \
         an event is then published to each stream. A cell is the number of streams that \
         received theirs, and the protocol the page was loaded over.\n\n\
         Over HTTP/1.1 a browser keeps at most {HTTP1_CONNECTIONS} connections per origin, so \
         the other streams wait for one to close; over HTTP/2 all of them share one \
         connection.\n\n\
         | server | HTTP/2 over TLS | HTTP/1.1 |\n|---|---|---|\n{}\n",
        frameworks.join(" | "),
        "---|".repeat(frameworks.len()),
        rows.join("\n")
    ))
}
