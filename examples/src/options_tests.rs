use super::*;

fn parse(args: &[&str]) -> Result<ServerConfig, clap::Error> {
    Options::config_from(std::iter::once("server").chain(args.iter().copied()))
}

#[test]
fn the_defaults_are_the_contracts() {
    assert_eq!(parse(&[]).unwrap(), ServerConfig::default());
}

#[test]
fn every_option_reaches_the_config() {
    let config = parse(&[
        "--addr=127.0.0.1:0",
        "--heartbeat=250ms",
        "--retry=1s",
        "--coalesce=2ms",
        "--history=7",
        "--history-ttl=2m",
        "--client-buffer=3",
        "--max-clients=9",
        "--max-body=10",
        "--request-timeout=2s",
        "--max-connections=50",
        "--publish-token=t",
        "--cors-origin=https://a.example",
        "--cors-origin=https://b.example,https://c.example",
        "--redis-publish-batch=1",
        "--max-stream-lifetime=30m",
        "--idempotency-ttl=90s",
        "--max-batch=50",
        "--drain-timeout=20s",
    ])
    .unwrap();
    let expected = ServerConfig {
        addr: "127.0.0.1:0".into(),
        hub: HubConfig {
            heartbeat: Duration::from_millis(250),
            retry: Duration::from_secs(1),
            coalesce: Duration::from_millis(2),
            broker: BrokerConfig {
                history: 7,
                history_ttl: Duration::from_secs(120),
                client_buffer: 3,
                max_clients: 9,
            },
            max_body: 10,
            body_timeout: Duration::from_secs(2),
            publish_token: Some("t".into()),
            redis: None,
            jwt: None,
            max_stream_lifetime: Some(Duration::from_secs(1800)),
            idempotency_ttl: Duration::from_secs(90),
            max_batch: 50,
        },
        request_timeout: Duration::from_secs(2),
        max_connections: Some(50),
        tls: None,
        h2c: false,
        drain_timeout: Duration::from_secs(20),
        cors_origins: vec![
            "https://a.example".into(),
            "https://b.example".into(),
            "https://c.example".into(),
        ],
    };
    assert_eq!(config, expected);
}

#[test]
fn a_batch_bound_of_zero_is_refused() {
    assert!(parse(&["--max-batch=0"]).is_err());
}

#[test]
fn jwt_options_reach_the_config_and_exclude_the_publish_token() {
    let config = parse(&["--jwt-secret=s", "--jwt-cookie=auth", "--jwt-leeway=2s"]).unwrap();
    assert_eq!(
        config.hub.jwt,
        Some(JwtConfig {
            key: JwtKey::Secret("s".into()),
            cookie: "auth".into(),
            leeway: Duration::from_secs(2),
        })
    );
    let pem = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sse-core/tests/keys/ec-public.pem"
    );
    let config = parse(&["--jwt-public-key", pem]).unwrap();
    let Some(JwtKey::PublicKeyPem(text)) = config.hub.jwt.map(|jwt| jwt.key) else {
        panic!("a public key");
    };
    assert!(text.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(
        parse(&["--jwt-secret=s"])
            .unwrap()
            .hub
            .jwt
            .map(|j| j.cookie)
            .as_deref(),
        Some("sse_token")
    );
    let missing = parse(&["--jwt-public-key", "/nonexistent.pem"])
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("cannot read the PEM file /nonexistent.pem"),
        "{missing}"
    );
    let both = parse(&["--jwt-secret=s", "--publish-token=t"])
        .unwrap_err()
        .to_string();
    assert!(both.contains("cannot be used with"), "{both}");
}

#[test]
fn bad_options_are_refused_with_the_reason() {
    let err = parse(&["--heartbeat", "soon"]).unwrap_err().to_string();
    assert!(err.contains("--heartbeat"), "{err}");
    let err = parse(&["--redis-publish-batch", "0"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--redis-publish-batch"), "{err}");
    let config = parse(&["--redis", "redis://127.0.0.1:6379/"]).expect("a Redis URL");
    let redis = config.hub.redis.expect("Redis mode");
    assert_eq!(redis.url, "redis://127.0.0.1:6379/");
    assert_eq!(redis.publish_batch, 256);
    let batch = parse(&[
        "--redis",
        "redis://127.0.0.1:6379/",
        "--redis-publish-batch",
        "1",
    ])
    .expect("a Redis URL");
    assert_eq!(batch.hub.redis.map(|redis| redis.publish_batch), Some(1));
    // A cluster's nodes: repeated, or a list.
    let nodes = "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002";
    let repeated = parse(&[
        "--redis=redis://127.0.0.1:7000",
        "--redis=redis://127.0.0.1:7001,redis://127.0.0.1:7002",
    ])
    .expect("node URLs");
    assert_eq!(
        repeated.hub.redis.map(|redis| redis.url).as_deref(),
        Some(nodes)
    );
}

#[test]
fn a_malformed_redis_url_stops_the_server_with_the_reason() {
    let err = crate::serve_with_args(
        crate::servers::axum::serve,
        &[
            "--addr".into(),
            "127.0.0.1:0".into(),
            "--redis".into(),
            "nonsense".into(),
        ],
        Box::pin(futures::stream::pending()),
        Box::new(|_| panic!("ready with a malformed Redis URL")),
    )
    .expect_err("refused");
    assert!(err.contains("invalid Redis URL"), "{err}");
}

#[test]
fn a_server_that_cannot_bind_says_so() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = crate::serve_with_args(
        crate::servers::axum::serve,
        &["--addr".into(), addr],
        Box::pin(futures::stream::pending()),
        Box::new(|_| panic!("ready without a socket")),
    )
    .unwrap_err();
    assert!(err.to_lowercase().contains("address"), "{err}");
}

#[test]
fn a_drain_timeout_is_zero_or_up_to_an_hour_and_anything_else_is_refused() {
    assert_eq!(parse(&[]).unwrap().drain_timeout, Duration::from_secs(8));
    assert_eq!(
        parse(&["--drain-timeout", "0s"]).unwrap().drain_timeout,
        Duration::ZERO
    );
    assert_eq!(
        parse(&["--drain-timeout", "1h"]).unwrap().drain_timeout,
        Duration::from_secs(3600)
    );
    for (given, says) in [
        ("61m", "longer than the most accepted, 1h"),
        ("soon", "invalid duration"),
        ("-1s", "invalid duration"),
    ] {
        let err = parse(&[&format!("--drain-timeout={given}")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(says) && err.contains("--drain-timeout"),
            "{given}: {err}"
        );
    }
}

#[test]
fn redis_tls_sentinel_and_durability_options_reach_the_config() {
    let dir = std::env::temp_dir().join(format!("sse-options-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca, "CA").unwrap();
    std::fs::write(&cert, "CERT").unwrap();
    std::fs::write(&key, "KEY").unwrap();
    let config = parse(&[
        "--redis=rediss://app:pw@127.0.0.1:6380/",
        "--redis-ca",
        ca.to_str().unwrap(),
        "--redis-cert",
        cert.to_str().unwrap(),
        "--redis-key",
        key.to_str().unwrap(),
        "--redis-wait-replicas=1",
    ])
    .expect("TLS options");
    let redis = config.hub.redis.expect("Redis mode");
    assert_eq!(redis.tls.ca_pem.as_deref(), Some(&b"CA"[..]));
    assert_eq!(redis.tls.client_cert_pem.as_deref(), Some(&b"CERT"[..]));
    assert_eq!(redis.tls.client_key_pem.as_deref(), Some(&b"KEY"[..]));
    assert_eq!(redis.wait_replicas, 1);
    assert_eq!(redis.sentinel_master, None);

    let sentinel = parse(&[
        "--redis-sentinel=redis://127.0.0.1:26379",
        "--redis-sentinel=redis://127.0.0.1:26380",
        "--redis-master=events",
    ])
    .expect("Sentinel options")
    .hub
    .redis
    .expect("Redis mode");
    assert_eq!(sentinel.sentinel_master.as_deref(), Some("events"));
    assert_eq!(
        sentinel.url,
        "redis://127.0.0.1:26379,redis://127.0.0.1:26380"
    );

    // Each mistake is refused at start, naming the flags involved.
    let mixed = parse(&[
        "--redis=redis://127.0.0.1:7000",
        "--redis-sentinel=redis://127.0.0.1:26379",
        "--redis-master=events",
    ])
    .unwrap_err()
    .to_string();
    assert!(
        mixed.contains("--redis-sentinel") && mixed.contains("--redis"),
        "{mixed}"
    );
    let no_master = parse(&["--redis-sentinel=redis://127.0.0.1:26379"])
        .unwrap_err()
        .to_string();
    assert!(no_master.contains("--redis-master"), "{no_master}");
    let no_sentinel = parse(&["--redis-master=events"]).unwrap_err().to_string();
    assert!(no_sentinel.contains("--redis-sentinel"), "{no_sentinel}");
    let lone_cert = parse(&["--redis=rediss://h", "--redis-cert", cert.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(lone_cert.contains("--redis-key"), "{lone_cert}");
    let missing = parse(&["--redis=rediss://h", "--redis-ca", "/nonexistent-ca.pem"])
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent-ca.pem"), "{missing}");
    let _ = std::fs::remove_dir_all(&dir);
}
