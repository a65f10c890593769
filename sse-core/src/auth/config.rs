//! JSON Web Token settings: the key, the cookie, the leeway.

use std::time::Duration;

/// The cookie a token is read from by default.
pub const DEFAULT_COOKIE: &str = "sse_token";

/// How a hub verifies JSON Web Tokens: the key, the cookie a token may
/// come in, and the clock skew tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// The key tokens are verified with.
    pub key: JwtKey,
    /// The cookie a token is read from when no `Authorization` is sent.
    pub cookie: String,
    /// Clock skew tolerated on `exp` and `nbf`, in whole seconds.
    pub leeway: Duration,
}

impl JwtConfig {
    /// HS256 tokens signed with `secret`, read from the default cookie,
    /// with a leeway of 5 s.
    pub fn secret(secret: impl Into<String>) -> Self {
        Self::with_key(JwtKey::Secret(secret.into()))
    }

    /// RS256 or ES256 tokens, verified with the public key `pem`, read
    /// from the default cookie, with a leeway of 5 s.
    pub fn public_key_pem(pem: impl Into<String>) -> Self {
        Self::with_key(JwtKey::PublicKeyPem(pem.into()))
    }

    fn with_key(key: JwtKey) -> Self {
        Self {
            key,
            cookie: DEFAULT_COOKIE.into(),
            leeway: Duration::from_secs(5),
        }
    }
}

/// The key JWTs are verified with.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// A shared secret: HS256.
    Secret(String),
    /// A PEM public key: RS256 for an RSA key, ES256 for a P-256 key.
    PublicKeyPem(String),
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret([redacted])"),
            Self::PublicKeyPem(pem) => write!(f, "PublicKeyPem({} bytes)", pem.len()),
        }
    }
}
