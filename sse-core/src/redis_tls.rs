//! Certificates for `rediss://`: a field of the hub's `RedisConfig` in
//! any build with the hub, and of `RedisOptions` with the `redis`
//! feature.

/// Certificates for `rediss://` connections: the field `tls` of the
/// hub's `RedisConfig` and of `RedisOptions`. By default the server is
/// checked against the platform's root certificates, and no client
/// certificate is sent.
///
/// ```
/// use sse_hub::hub::RedisTls;
///
/// let mut tls = RedisTls::default();
/// tls.ca_pem = Some(b"-----BEGIN CERTIFICATE-----\n...".to_vec());
/// assert!(tls.is_set());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisTls {
    /// PEM certificates of the authorities that the servers' certificates
    /// are checked against, in place of the platform's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// A PEM certificate chain to present to servers that ask for one;
    /// needs `client_key_pem`.
    pub client_cert_pem: Option<Vec<u8>>,
    /// The PEM private key of `client_cert_pem`.
    pub client_key_pem: Option<Vec<u8>>,
}

impl RedisTls {
    /// Whether any certificate is given.
    pub fn is_set(&self) -> bool {
        self.ca_pem.is_some() || self.client_cert_pem.is_some() || self.client_key_pem.is_some()
    }
}

impl std::fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            ca_pem,
            client_cert_pem,
            client_key_pem,
        } = self;
        f.debug_struct("RedisTls")
            .field("ca_pem", &ca_pem.as_ref().map(Vec::len))
            .field("client_cert_pem", &client_cert_pem.as_ref().map(Vec::len))
            .field(
                "client_key_pem",
                &client_key_pem.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}
