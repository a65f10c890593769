//! Redis over TLS with client certificates, as the README's
//! least-privileged ACL user, through the example servers.

use crate::client::Error;
use crate::launch::Target;
use crate::redis_server::{RedisServer, Setup, TestCertificates};
use crate::support::{ensure, publish, subscribe};

/// The password of the check's ACL user.
const PASSWORD: &str = "conformance-s3cret";

/// Two instances on a Redis that takes only TLS with client
/// certificates, as an ACL user with the README's rights: delivery and a
/// resume on the other instance (one of the multi-instance checks).
pub(crate) async fn tls_acl(target: &Target) -> Result<(), Error> {
    let certificates = TestCertificates::new("conformance-tls");
    let server = RedisServer::start_with(
        "TLS check",
        Setup {
            tls: Some(certificates.server(true)),
            // The servers' key prefix is the default, `sse`.
            args: Setup::readme_acl_user("sse", "sse-app", PASSWORD),
            ..Setup::default()
        },
    )
    .ok_or_else(crate::support::redis_missing)?;
    let url = server.tls_url(&format!("sse-app:{PASSWORD}@"));
    let files = [
        ("--redis-ca", &certificates.ca),
        ("--redis-cert", &certificates.client_cert),
        ("--redis-key", &certificates.client_key),
    ]
    .map(|(flag, path)| (flag, path.display().to_string()));
    let mut options = vec!["--redis", url.as_str()];
    for (flag, path) in &files {
        options.extend([*flag, path.as_str()]);
    }
    let a = target.start(&options).await?;
    let b = target.start(&options).await?;
    let mut on_a = subscribe(&a.base, "?topic=secure", &[]).await?;
    let first = publish(&b.base, "topic=secure", "\"one\"").await?;
    let second = publish(&b.base, "topic=secure", "\"two\"").await?;
    for (id, data) in [(&first, "\"one\""), (&second, "\"two\"")] {
        let event = on_a.next_event().await?;
        ensure(event.last_event_id() == id && event.data() == data, || {
            format!("expected {data} as {id} on the other instance, got {event:?}")
        })?;
    }
    let mut resumed =
        subscribe(&b.base, &format!("?topic=secure&lastEventId={first}"), &[]).await?;
    let event = resumed.next_event().await?;
    ensure(event.last_event_id() == second, || {
        format!("a resume after {first} on the other instance gave {event:?}")
    })?;
    Ok(())
}
