//! Certificates for a Redis server with TLS, made by the test (rcgen): a
//! CA, a server certificate for `127.0.0.1` and `localhost` and a client
//! certificate that it signed, and a CA of nobody's, to be refused.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::TlsFiles;

/// PEM files in a directory of their own, removed when dropped.
#[derive(Debug)]
pub struct TestCertificates {
    dir: PathBuf,
    /// The CA that signed the server and the client certificates.
    pub ca: PathBuf,
    /// The server's certificate and key.
    pub server_cert: PathBuf,
    /// See `server_cert`.
    pub server_key: PathBuf,
    /// A client certificate that the CA signed, and its key.
    pub client_cert: PathBuf,
    /// See `client_cert`.
    pub client_key: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
}

impl TestCertificates {
    /// New certificates, written under the system's temporary directory.
    ///
    /// # Panics
    ///
    /// When rcgen fails or the files cannot be written.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sse-certs-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory for certificates");
        let ca = authority("sse test CA");
        let other = authority("nobody's CA");
        let leaf = |names: Vec<String>, common: &str| {
            let key = KeyPair::generate().expect("a key");
            let mut params = CertificateParams::new(names).expect("certificate names");
            params.distinguished_name.push(DnType::CommonName, common);
            let cert = params.signed_by(&key, &ca).expect("a signed certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            "redis test server",
        );
        let (client_cert, client_key) = leaf(vec!["sse-client".into()], "sse-client");
        let write = |file: &str, text: &str| -> PathBuf {
            let path = dir.join(file);
            std::fs::write(&path, text).expect("a certificate file");
            path
        };
        Self {
            ca: write("ca.pem", &ca.pem()),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            other_ca: write("other-ca.pem", &other.pem()),
            dir,
        }
    }

    /// The server side, as [`Setup::tls`](super::Setup::tls) takes it.
    pub fn server(&self, require_client_certificates: bool) -> TlsFiles {
        TlsFiles {
            cert: self.server_cert.clone(),
            key: self.server_key.clone(),
            ca: self.ca.clone(),
            require_client_certificates,
        }
    }

    /// The contents of `path`.
    ///
    /// # Panics
    ///
    /// When it cannot be read.
    pub fn read(path: &Path) -> Vec<u8> {
        std::fs::read(path).expect("a certificate file")
    }
}

fn authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("a key")).expect("a CA")
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
