//! The checks of HTTP/2 (`--tls-cert`/`--tls-key`, `--h2c`): each server
//! gets a fresh self-signed certificate, and a client that trusts only it
//! and really negotiates h2 by ALPN (the negotiated version is asserted).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Version;

use crate::client::{Error, EventStream, install_crypto, open};
use crate::launch::{Running, Target};
use crate::support::{ensure, metric_with, publish_with};

/// A self-signed certificate for `localhost` and `127.0.0.1` (rcgen), in
/// a directory of its own that is removed when dropped.
#[derive(Debug)]
pub struct TestCert {
    dir: PathBuf,
    /// The certificate file (PEM).
    pub cert: PathBuf,
    /// The private key file (PEM).
    pub key: PathBuf,
    pem: String,
}

impl TestCert {
    /// Generates one.
    ///
    /// # Errors
    ///
    /// rcgen failing, or the files not being written.
    pub fn new() -> Result<Self, Error> {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .map_err(|e| e.to_string())?;
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("sse-cert-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let pem = certified.cert.pem();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &pem).map_err(|e| e.to_string())?;
        std::fs::write(&key, certified.signing_key.serialize_pem()).map_err(|e| e.to_string())?;
        Ok(Self {
            dir,
            cert,
            key,
            pem,
        })
    }

    /// The server options that serve TLS with it.
    pub fn options(&self) -> [String; 4] {
        [
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }

    /// A client trusting this certificate only, offering `alpn` (`h2`,
    /// `http/1.1`, or both), keeping one connection per server.
    ///
    /// # Errors
    ///
    /// The certificate not parsing, or the client not building.
    pub fn client(&self, alpn: &[&[u8]]) -> Result<reqwest::Client, Error> {
        install_crypto();
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(self.pem.as_bytes())
            .map_err(|e| e.to_string())?;
        roots.add(der).map_err(|e| e.to_string())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| e.to_string())
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server serving TLS with a fresh certificate, and an h2 client.
async fn start_tls(
    target: &Target,
    extra: &[&str],
) -> Result<(Running, TestCert, reqwest::Client), Error> {
    let cert = TestCert::new()?;
    let options = cert.options();
    let mut args: Vec<&str> = options.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    let server = target.start(&args).await?;
    ensure(server.base.starts_with("https://"), || {
        format!("a TLS server's address {}", server.base)
    })?;
    let client = cert.client(&[b"h2", b"http/1.1"])?;
    Ok((server, cert, client))
}

/// `/events{query}` on `client`, expecting `200` over `version` and the
/// preamble.
async fn subscribe_over(
    client: &reqwest::Client,
    base: &str,
    query: &str,
    version: Version,
) -> Result<EventStream, Error> {
    let mut stream = open(client, base, &format!("/events{query}"), &[]).await?;
    ensure(stream.status == 200, || format!("status {}", stream.status))?;
    ensure(stream.version == version, || {
        format!("negotiated {:?}, expected {version:?}", stream.version)
    })?;
    // An HTTP/2 client fails the stream on a connection-specific header
    // (`Connection`, `Keep-Alive`, `Transfer-Encoding`), so reaching the
    // events proves there was none.
    for name in ["connection", "keep-alive", "transfer-encoding"] {
        ensure(
            version != Version::HTTP_2 || stream.header(name).is_none(),
            || format!("{name} over HTTP/2"),
        )?;
    }
    let connected = loop {
        if let sse_hub::decode::Decoded::Event(event) = stream.next_item().await? {
            break event;
        }
    };
    ensure(connected.event() == "connected", || {
        format!("first event {connected:?}")
    })?;
    Ok(stream)
}

async fn expect_events(stream: &mut EventStream, count: usize, what: &str) -> Result<(), Error> {
    for i in 0..count {
        let event = stream.next_event().await?;
        ensure(event.data() == i.to_string(), || {
            format!("{what}: event {i} was {event:?}")
        })?;
    }
    Ok(())
}

pub(crate) async fn tls_negotiates_both(target: &Target) -> Result<(), Error> {
    let (server, cert, h2) = start_tls(target, &["--heartbeat", "300ms"]).await?;
    let base = &server.base;
    let mut over_h2 = subscribe_over(&h2, base, "?topic=t", Version::HTTP_2).await?;
    let h1 = cert.client(&[b"http/1.1"])?;
    let mut over_h1 = subscribe_over(&h1, base, "?topic=t", Version::HTTP_11).await?;
    ensure(over_h1.header("connection") != Some("close"), || {
        "HTTP/1.1 stream says close".into()
    })?;
    for i in 0..20 {
        publish_with(&h2, base, "topic=t", &i.to_string()).await?;
    }
    expect_events(&mut over_h2, 20, "over HTTP/2").await?;
    expect_events(&mut over_h1, 20, "over HTTP/1.1").await?;
    // Heartbeats flow over HTTP/2 too.
    let item = over_h2.next_item_within(Duration::from_secs(2)).await?;
    ensure(matches!(item, sse_hub::decode::Decoded::Comment(_)), || {
        format!("expected a heartbeat, got {item:?}")
    })
}

pub(crate) async fn replay_over_h2(target: &Target) -> Result<(), Error> {
    let (server, _cert, client) = start_tls(target, &[]).await?;
    let base = &server.base;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(publish_with(&client, base, "topic=p", &i.to_string()).await?);
    }
    // A client that saw events 0..=2 comes back with the id of 2.
    let mut resumed = open(
        &client,
        base,
        "/events?topic=p",
        &[("last-event-id", &ids[2])],
    )
    .await?;
    ensure(resumed.version == Version::HTTP_2, || {
        format!("{:?}", resumed.version)
    })?;
    let connected = resumed.next_event().await?;
    ensure(connected.event() == "connected", || {
        format!("{connected:?}")
    })?;
    for (i, id) in ids.iter().enumerate().skip(3) {
        let event = resumed.next_event().await?;
        ensure(
            event.data() == i.to_string() && event.last_event_id() == id,
            || format!("replay over HTTP/2: expected {i} ({id}), got {event:?}"),
        )?;
    }
    publish_with(&client, base, "topic=p", "8").await?;
    let live = resumed.next_event().await?;
    ensure(live.data() == "8", || format!("after the replay: {live:?}"))
}

pub(crate) async fn hundred_streams_one_connection(target: &Target) -> Result<(), Error> {
    let (server, _cert, client) = start_tls(target, &[]).await?;
    let base = &server.base;
    let mut streams = Vec::new();
    for _ in 0..100 {
        streams.push(subscribe_over(&client, base, "?topic=many", Version::HTTP_2).await?);
    }
    ensure(
        metric_with(&client, base, "sse_clients").await? == 100.0,
        || "100 clients".into(),
    )?;
    // One connection carries them all (Rocket 0.5 counts no connections).
    let connections = metric_with(&client, base, "sse_connections").await?;
    ensure(
        connections == 1.0 || (connections == 0.0 && target.framework == "rocket"),
        || format!("{connections} connections for 100 streams"),
    )?;
    for i in 0..10 {
        publish_with(&client, base, "topic=many", &i.to_string()).await?;
    }
    for (n, stream) in streams.iter_mut().enumerate() {
        expect_events(stream, 10, &format!("stream {n}")).await?;
    }
    Ok(())
}

pub(crate) async fn reset_stream_unsubscribed(target: &Target) -> Result<(), Error> {
    let (server, _cert, client) = start_tls(target, &[]).await?;
    let base = &server.base;
    let mut kept = Vec::new();
    for _ in 0..3 {
        kept.push(subscribe_over(&client, base, "?topic=r", Version::HTTP_2).await?);
    }
    let cancelled = subscribe_over(&client, base, "?topic=r", Version::HTTP_2).await?;
    ensure(
        metric_with(&client, base, "sse_clients").await? == 4.0,
        || "4 clients".into(),
    )?;
    // Dropping a response body resets its stream (RST_STREAM), and only it.
    drop(cancelled);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        let clients = metric_with(&client, base, "sse_clients").await?;
        if clients == 3.0 {
            break;
        }
        ensure(tokio::time::Instant::now() < deadline, || {
            format!("{clients} clients 1 s after one of 4 streams was reset")
        })?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for i in 0..5 {
        publish_with(&client, base, "topic=r", &i.to_string()).await?;
    }
    for (n, stream) in kept.iter_mut().enumerate() {
        expect_events(stream, 5, &format!("stream {n} beside the reset one")).await?;
    }
    Ok(())
}

pub(crate) async fn shutdown_over_h2(target: &Target) -> Result<(), Error> {
    let (mut server, _cert, client) = start_tls(target, &["--drain-timeout", "0s"]).await?;
    let base = server.base.clone();
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(subscribe_over(&client, &base, "?topic=s", Version::HTTP_2).await?);
    }
    server.terminate()?;
    for stream in &mut streams {
        stream.ends_within(Duration::from_secs(1)).await?;
    }
    Ok(())
}

pub(crate) async fn h2c_prior_knowledge(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--h2c"]).await?;
    let base = &server.base;
    install_crypto();
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .map_err(|e| e.to_string())?;
    let mut stream = subscribe_over(&client, base, "?topic=c", Version::HTTP_2).await?;
    for i in 0..5 {
        publish_with(&client, base, "topic=c", &i.to_string()).await?;
    }
    expect_events(&mut stream, 5, "over h2c").await
}
