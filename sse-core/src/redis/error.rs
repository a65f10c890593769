//! Why a [`RedisBroker`](super::RedisBroker) could not start, publish or
//! subscribe.

/// Why a [`RedisBroker`](super::RedisBroker) could not start, publish or
/// subscribe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisError {
    /// The URL is not one the `redis` crate accepts.
    #[error("invalid Redis URL: {0}")]
    Url(#[source] redis::RedisError),
    /// The settings cannot work together: certificates without a
    /// `rediss://` URL, a Sentinel master name with one URL form or
    /// another, a client certificate without its key.
    #[error("invalid Redis settings: {0}")]
    Config(String),
    /// Redis refused this instance: a wrong user name or password, an
    /// ACL that does not allow a command it needs, a certificate it does
    /// not trust (or that does not trust it), a Sentinel master name that
    /// no sentinel knows. The tail keeps trying, but only a change of
    /// configuration can help.
    #[error("Redis refused this instance: {0}")]
    Refused(String),
    /// No URL was given.
    #[error("no Redis URL: give one server's URL, or the URLs of a cluster's nodes")]
    NoUrl,
    /// The broker needs a Tokio runtime to tail Redis in.
    #[error("the Redis broker must be started inside a Tokio runtime")]
    NoRuntime,
    /// Redis cannot be reached now; the tail keeps reconnecting.
    #[error("Redis is unreachable: {0}")]
    Unavailable(String),
    /// The local broker shut down.
    #[error("the broker is shutting down")]
    Closed,
    /// The local mirror refused a subscription (too many clients, no
    /// topics, shut down).
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
}

impl RedisError {
    /// The same error for another publisher of a batch.
    pub(super) fn duplicate(&self) -> Self {
        match self {
            Self::Unavailable(reason) => Self::Unavailable(reason.clone()),
            Self::Closed => Self::Closed,
            Self::NoRuntime => Self::NoRuntime,
            Self::NoUrl => Self::NoUrl,
            Self::Url(err) => Self::Unavailable(err.to_string()),
            Self::Config(reason) => Self::Config(reason.clone()),
            Self::Refused(reason) => Self::Refused(reason.clone()),
            Self::Broker(err) => Self::Broker(err.clone()),
        }
    }
}

impl RedisError {
    /// What an error of the `redis` crate means here: a refusal that
    /// waiting will not cure (see [`RedisError::Refused`]), or Redis
    /// unreachable for now.
    pub(super) fn from_redis(err: &redis::RedisError) -> Self {
        match refusal(err) {
            Some(reason) => Self::Refused(reason),
            None => Self::Unavailable(err.to_string()),
        }
    }

    /// Whether this is a [`RedisError::Refused`].
    pub(super) fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused(_))
    }
}

/// Why Redis refused, if `err` is a refusal.
fn refusal(err: &redis::RedisError) -> Option<String> {
    use redis::{ErrorKind, ServerErrorKind};
    match err.kind() {
        ErrorKind::AuthenticationFailed => {
            return Some(format!(
                "authentication failed ({err}): check the user name and password in the URL"
            ));
        }
        ErrorKind::Server(ServerErrorKind::NoPerm) => {
            return Some(format!(
                "the ACL user may not run a command it needs ({err}): see the minimal ACL in the README"
            ));
        }
        _ => {}
    }
    if matches!(err.code(), Some("WRONGPASS" | "NOAUTH")) {
        return Some(format!(
            "authentication failed ({err}): check the user name and password in the URL"
        ));
    }
    tls_refusal(err)
}

/// A TLS handshake that failed on a certificate, on either side.
fn tls_refusal(err: &redis::RedisError) -> Option<String> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        // The `redis` crate keeps an I/O error in an `Arc`, and
        // `io::Error::source` skips the error it wraps: look inside both.
        let unshared: &(dyn std::error::Error + 'static) = match current.downcast_ref::<Shared>() {
            Some(shared) => &**shared,
            None => current,
        };
        let wrapped = unshared
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(unshared), wrapped].into_iter().flatten() {
            if let Some(tls) = candidate.downcast_ref::<rustls::Error>() {
                return certificate_problem(tls);
            }
        }
        source = current.source();
    }
    None
}

fn certificate_problem(err: &rustls::Error) -> Option<String> {
    use rustls::AlertDescription as Alert;
    match err {
        rustls::Error::InvalidCertificate(why) => Some(format!(
            "the server's certificate is not trusted ({why:?}): give the CA that signed it, or check the host name in the URL"
        )),
        rustls::Error::AlertReceived(
            Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateRequired
            | Alert::CertificateUnknown
            | Alert::CertificateExpired
            | Alert::CertificateRevoked
            | Alert::UnsupportedCertificate
            | Alert::AccessDenied,
        ) => Some(format!(
            "the server did not accept this instance's TLS client certificate ({err}): give one it trusts"
        )),
        rustls::Error::NoCertificatesPresented => {
            Some("the server presented no certificate".to_owned())
        }
        _ => None,
    }
}

/// `future` within `within`, its errors as this crate's.
pub(super) async fn timed<T>(
    within: std::time::Duration,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, RedisError> {
    match tokio::time::timeout(within, future).await {
        Ok(result) => result.map_err(|err| RedisError::from_redis(&err)),
        Err(_) => Err(RedisError::Unavailable(format!(
            "no answer within {within:?}"
        ))),
    }
}
