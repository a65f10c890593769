//! Redis as managed services and operators run it, against real
//! `redis-server` processes: a mistake in the credentials, the
//! certificates or the Sentinel master's name stops the hub at start
//! with a message that says what to fix, instead of a retry loop that
//! hides it. (Every hub call as a least-privileged ACL user over TLS is in
//! `hub_engines.rs`, `on_tls_acl`.)

#[path = "../../conformance/src/redis_server/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::time::Duration;

use sse_hub::hub::{Hub, HubConfig, OpenError, RedisConfig};

use redis_server::sentinel::RedisSentinels;
use redis_server::{RedisServer, Setup, TestCertificates};

/// What `Hub::connect` may wait for Redis; a refusal must come long
/// before (it ends the wait), an unreachable Redis would take all of it.
const WAIT: Duration = Duration::from_secs(30);

async fn connect(redis: RedisConfig) -> Result<Hub, OpenError> {
    let started = std::time::Instant::now();
    let result = Hub::connect(
        HubConfig {
            redis: Some(redis),
            ..HubConfig::default()
        },
        WAIT,
    )
    .await;
    assert!(
        started.elapsed() < WAIT,
        "the answer came from the wait's end, not from Redis"
    );
    result
}

fn refusal(result: Result<Hub, OpenError>) -> String {
    match result {
        Ok(_) => panic!("the hub connected"),
        Err(err) => err.to_string(),
    }
}

/// A user whose password is `right`, allowed everything.
fn user_with_password() -> Setup {
    Setup {
        args: ["--user", "app", "on", ">right", "~*", "&*", "+@all"]
            .map(String::from)
            .to_vec(),
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_at_start_and_the_right_one_connects() {
    let Some(server) = RedisServer::start_with("wrong_password", user_with_password()) else {
        return;
    };
    let url = |credentials: &str| format!("redis://{credentials}@127.0.0.1:{}/", server.port());
    let wrong = refusal(connect(RedisConfig::new(url("app:wrong"))).await);
    assert!(wrong.contains("authentication failed"), "{wrong}");
    assert!(wrong.contains("user name and password"), "{wrong}");
    let unknown = refusal(connect(RedisConfig::new(url("nobody:right"))).await);
    assert!(unknown.contains("authentication failed"), "{unknown}");
    let hub = connect(RedisConfig::new(url("app:right")))
        .await
        .expect("the right password connects");
    assert!(hub.is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_that_is_not_trusted_is_refused_at_start() {
    let certificates = TestCertificates::new("untrusted");
    let Some(server) = RedisServer::start_with(
        "untrusted",
        Setup {
            tls: Some(certificates.server(false)),
            ..Setup::default()
        },
    ) else {
        return;
    };
    // Checked against another CA, then against the platform's roots.
    let mut other_ca = RedisConfig::new(server.tls_url(""));
    other_ca.tls.ca_pem = Some(TestCertificates::read(&certificates.other_ca));
    let refused = refusal(connect(other_ca).await);
    assert!(refused.contains("certificate is not trusted"), "{refused}");
    let refused = refusal(connect(RedisConfig::new(server.tls_url(""))).await);
    assert!(refused.contains("certificate is not trusted"), "{refused}");

    let mut right_ca = RedisConfig::new(server.tls_url(""));
    right_ca.tls.ca_pem = Some(TestCertificates::read(&certificates.ca));
    let hub = connect(right_ca).await.expect("the CA that signed it");
    let published = hub
        .publish("news", &sse_hub::Event::new("over TLS"))
        .await
        .expect("a publish over TLS");
    assert!(!published.id.to_string().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_wants_a_client_certificate_refuses_a_connection_without_one() {
    let certificates = TestCertificates::new("client_certificate");
    let Some(server) = RedisServer::start_with(
        "client_certificate",
        Setup {
            tls: Some(certificates.server(true)),
            ..Setup::default()
        },
    ) else {
        return;
    };
    let mut without = RedisConfig::new(server.tls_url(""));
    without.tls.ca_pem = Some(TestCertificates::read(&certificates.ca));
    let refused = refusal(connect(without.clone()).await);
    assert!(refused.contains("client certificate"), "{refused}");

    let mut with = without;
    with.tls.client_cert_pem = Some(TestCertificates::read(&certificates.client_cert));
    with.tls.client_key_pem = Some(TestCertificates::read(&certificates.client_key));
    connect(with)
        .await
        .expect("a client certificate the server trusts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_cannot_work_together_are_refused_before_any_connection() {
    let mut plain_with_ca = RedisConfig::new("redis://127.0.0.1:1/");
    plain_with_ca.tls.ca_pem = Some(b"a CA".to_vec());
    let refused = refusal(connect(plain_with_ca).await);
    assert!(refused.contains("rediss://"), "{refused}");

    let mut cert_without_key = RedisConfig::new("rediss://127.0.0.1:1/");
    cert_without_key.tls.client_cert_pem = Some(b"a certificate".to_vec());
    let refused = refusal(connect(cert_without_key).await);
    assert!(refused.contains("needs its key"), "{refused}");

    let refused = refusal(connect(RedisConfig::sentinel(["redis://127.0.0.1:1/"], "")).await);
    assert!(refused.contains("master name is empty"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_master_name_that_no_sentinel_knows_is_refused_at_start() {
    let Some(master) = RedisServer::start("unknown_master") else {
        return;
    };
    let Some(sentinels) = RedisSentinels::start("unknown_master", &master, "events", 1, 0) else {
        return;
    };
    let refused = refusal(connect(RedisConfig::sentinel(sentinels.urls(), "evnets")).await);
    assert!(
        refused.contains("no sentinel knows a master named \"evnets\""),
        "{refused}"
    );
    let hub = connect(RedisConfig::sentinel(sentinels.urls(), "events"))
        .await
        .expect("the master's right name");
    assert!(hub.is_ready());
}
