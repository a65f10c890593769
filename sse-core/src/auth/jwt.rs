//! JSON Web Tokens as the hub's authorization, as Mercure reads them.

use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::authorizer::{AuthError, AuthRequest, Authorizer};
use super::config::{JwtConfig, JwtKey};
use super::grants::Grants;
use super::pattern::TopicPattern;

/// Verifies a JWT and grants what its `sse` claim lists:
///
/// ```json
/// {"sse": {"subscribe": ["user-42", "chat/*"], "publish": ["chat/*"]}, "exp": 1764000000}
/// ```
///
/// The token is read from `Authorization: Bearer`, else the configured
/// cookie, else the query parameter `token`. Only the key's algorithm is
/// accepted (HS256 for a secret, RS256 or ES256 for a public key), so a
/// token cannot pick a weaker one. `exp` is required and `nbf` checked,
/// each with the configured leeway; the grants expire when the token
/// would no longer be accepted. A token without an `sse` claim is valid
/// and grants nothing.
///
/// ```
/// use sse_hub::auth::{AuthRequest, Authorizer, JwtAuthorizer, JwtConfig};
///
/// let authorizer = JwtAuthorizer::new(&JwtConfig::secret("change me"))?;
/// let request = AuthRequest::new(Some("topic=news"), &[("authorization", "Bearer not-a-jwt")]);
/// let refused = authorizer.authorize(&request).unwrap_err();
/// assert_eq!(refused.to_string(), "the token is malformed: not a JWT (three base64url parts)");
/// # Ok::<(), sse_hub::auth::JwtKeyError>(())
/// ```
pub struct JwtAuthorizer {
    key: DecodingKey,
    validation: Validation,
    cookie: String,
    leeway: Duration,
}

impl std::fmt::Debug for JwtAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthorizer")
            .field("algorithms", &self.validation.algorithms)
            .field("cookie", &self.cookie)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

/// A JWT key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtKeyError {
    /// An empty secret would let anyone sign tokens.
    #[error("the JWT secret is empty")]
    EmptySecret,
    /// The PEM holds neither an RSA nor a P-256 public key.
    #[error(
        "the JWT public key is neither an RSA nor an EC (P-256) public key in PEM \
         (-----BEGIN PUBLIC KEY-----)"
    )]
    NotAPublicKey,
    /// A private key was given where the public key belongs.
    #[error(
        "the JWT public key file holds a private key: give the server the public key only \
         (openssl pkey -in private.pem -pubout)"
    )]
    PrivateKey,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sse: SseClaim,
    // Required; checked here as well as by the library, whichever looks
    // first.
    exp: Option<u64>,
}

#[derive(Deserialize, Default)]
struct SseClaim {
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
}

impl JwtAuthorizer {
    /// An authorizer verifying with `config`'s key.
    ///
    /// # Errors
    ///
    /// An empty secret, or a PEM that holds no RSA or P-256 public key.
    pub fn new(config: &JwtConfig) -> Result<Self, JwtKeyError> {
        let (key, algorithm) = match &config.key {
            JwtKey::Secret(secret) if secret.is_empty() => return Err(JwtKeyError::EmptySecret),
            JwtKey::Secret(secret) => (
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            ),
            JwtKey::PublicKeyPem(pem) if pem.contains("PRIVATE KEY") => {
                return Err(JwtKeyError::PrivateKey);
            }
            JwtKey::PublicKeyPem(pem) => {
                if let Ok(key) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
                    (key, Algorithm::RS256)
                } else if let Ok(key) = DecodingKey::from_ec_pem(pem.as_bytes()) {
                    (key, Algorithm::ES256)
                } else {
                    return Err(JwtKeyError::NotAPublicKey);
                }
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.leeway.as_secs();
        validation.validate_nbf = true;
        // No audience is configured, so none is asked for.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Ok(Self {
            key,
            validation,
            cookie: config.cookie.clone(),
            leeway: Duration::from_secs(config.leeway.as_secs()),
        })
    }

    /// The grants of `token` itself, wherever it came from.
    ///
    /// # Errors
    ///
    /// The token is malformed, wrongly signed, expired or not valid yet.
    pub fn grants(&self, token: &str) -> Result<Grants, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|err| refusal(err.kind()))?;
        let claims = data.claims;
        let exp = claims.exp.ok_or(AuthError::Malformed(NO_EXP))?;
        let mut grants = Grants::new();
        grants.subscribe = claims
            .sse
            .subscribe
            .iter()
            .map(|p| TopicPattern::new(p))
            .collect();
        grants.publish = claims
            .sse
            .publish
            .iter()
            .map(|p| TopicPattern::new(p))
            .collect();
        // Accepted until `exp` plus the leeway, the moment excluded (RFC
        // 7519 4.1.4; the library lets the very second pass): a stream ends
        // exactly when the same token is refused.
        let expires = SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(exp))
            .and_then(|exp| exp.checked_add(self.leeway));
        if expires.is_some_and(|at| SystemTime::now() >= at) {
            return Err(AuthError::Expired);
        }
        grants.expires_at = expires;
        Ok(grants)
    }
}

impl Authorizer for JwtAuthorizer {
    fn authorize(&self, request: &AuthRequest<'_>) -> Result<Grants, AuthError> {
        let token = request.token(&self.cookie).ok_or(AuthError::Missing)?;
        self.grants(&token)
    }
}

const NO_EXP: &str = "the token has no exp claim";

/// A decoding error as a refusal, in words of our own: the library's
/// messages may quote parts of the token.
fn refusal(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => AuthError::BadSignature,
        ErrorKind::MissingRequiredClaim(_) => AuthError::Malformed(NO_EXP),
        ErrorKind::Json(_) => AuthError::Malformed(
            "its claims are not JSON of the expected shape ({\"sse\": {\"subscribe\": [..], \
             \"publish\": [..]}, \"exp\": <seconds>})",
        ),
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            AuthError::Malformed("not a JWT (three base64url parts)")
        }
        ErrorKind::InvalidAlgorithmName | ErrorKind::MissingAlgorithm => {
            AuthError::Malformed("its header names no algorithm this server knows")
        }
        _ => AuthError::Malformed("it could not be verified"),
    }
}
