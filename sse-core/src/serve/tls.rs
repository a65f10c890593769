//! A rustls server configuration from PEM files, on ring.

use std::io;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: std::path::PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

/// The ALPN protocols offered, best first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// A rustls server configuration from `files`, on ring, offering [`ALPN`]
/// when `alpn` is set (actix-web adds the protocols itself): what
/// [`ServeOptions::tls`](super::ServeOptions::tls) takes.
///
/// # Errors
///
/// A file that cannot be read, holds no certificate or no key, or a key
/// that does not match the certificate; the message names the file.
pub fn server_config(files: &TlsFiles, alpn: bool) -> io::Result<rustls::ServerConfig> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
    let cert_path = files.cert.display();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|err| invalid(format!("certificate chain {cert_path}: {err}")))?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "certificate chain {cert_path}: no certificate in it"
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|err| invalid(format!("private key {}: {err}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| invalid(err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| {
            invalid(format!(
                "the certificate and the private key do not fit together: {err}"
            ))
        })?;
    if alpn {
        config.alpn_protocols = ALPN.iter().map(|protocol| protocol.to_vec()).collect();
    }
    Ok(config)
}
