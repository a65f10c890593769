use std::borrow::Cow;

use super::*;
use crate::request::NoHeaders;

#[test]
fn the_token_comes_from_the_header_then_the_cookie_then_the_query() {
    let all = [
        ("authorization", "Bearer from-header"),
        ("cookie", "sse_token=from-cookie"),
    ];
    let query = Some("token=from-query");
    assert_eq!(
        AuthRequest::new(query, &all)
            .token(DEFAULT_COOKIE)
            .as_deref(),
        Some("from-header")
    );
    let cookie_only = [all[1]];
    assert_eq!(
        AuthRequest::new(query, &cookie_only)
            .token(DEFAULT_COOKIE)
            .as_deref(),
        Some("from-cookie")
    );
    assert_eq!(
        AuthRequest::new(query, &NoHeaders)
            .token(DEFAULT_COOKIE)
            .as_deref(),
        Some("from-query")
    );
    // Another scheme, an empty bearer, another cookie name: not a token.
    let others = [
        ("authorization", "Basic dXNlcjpwYXNz"),
        ("cookie", "other=x"),
    ];
    assert_eq!(AuthRequest::new(None, &others).token(DEFAULT_COOKIE), None);
    let empty = [("authorization", "Bearer   "), ("cookie", "sse_token=")];
    assert_eq!(
        AuthRequest::new(Some("token="), &empty).token(DEFAULT_COOKIE),
        None
    );
}

#[test]
fn cookies_are_read_from_every_cookie_header() {
    // HTTP/2 sends each cookie in a header of its own.
    let split = [("cookie", "a=1"), ("cookie", "b=2; sse_token=\"quoted\"")];
    let request = AuthRequest::new(None, &split);
    assert_eq!(request.cookie("a"), Some("1"));
    assert_eq!(request.cookie("sse_token"), Some("quoted"));
    assert_eq!(request.cookie("sse"), None);
    assert_eq!(request.cookie("token"), None);
    let spaced = [("cookie", " x = 1 ;sse_token=t;;")];
    assert_eq!(
        AuthRequest::new(None, &spaced).cookie("sse_token"),
        Some("t")
    );
    let not_utf8 = [("cookie", &b"sse_token=\xff"[..])];
    assert_eq!(AuthRequest::new(None, &not_utf8).cookie("sse_token"), None);
}

#[test]
fn query_tokens_are_percent_decoded_and_redacted() {
    let request = AuthRequest::new(Some("topic=a&%74oken=a%2Bb+c"), &NoHeaders);
    assert_eq!(request.query_param("token").as_deref(), Some("a+b c"));
    assert_eq!(
        redact_query("topic=a&%74oken=a%2Bb+c&token&x=token"),
        "topic=a&%74oken=[redacted]&token=[redacted]&x=token"
    );
    assert!(matches!(redact_query("topic=tokens"), Cow::Borrowed(_)));
    assert!(!format!("{request:?}").contains("a%2Bb"));
}

#[test]
fn a_closure_is_an_authorizer() {
    let by_session = |request: &AuthRequest<'_>| match request.cookie("session") {
        Some("42") => Ok(Grants::new().subscribe("user-42")),
        Some(_) => Err(AuthError::Refused("unknown session".into())),
        None => Err(AuthError::Missing),
    };
    let known = [("cookie", "session=42")];
    let grants = by_session
        .authorize(&AuthRequest::new(None, &known))
        .unwrap();
    assert!(grants.may_subscribe("user-42") && !grants.may_publish("user-42"));
    let unknown = [("cookie", "session=7")];
    assert_eq!(
        by_session.authorize(&AuthRequest::new(None, &unknown)),
        Err(AuthError::Refused("unknown session".into()))
    );
}

#[test]
fn a_secret_never_shows_in_debug_output() {
    let config = JwtConfig::secret("hunter2-secret");
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[cfg(feature = "jwt")]
mod jwt {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};

    use super::super::*;

    const SECRET: &str = "test-secret-0123456789";
    const RSA_PRIVATE: &str = include_str!("../../tests/keys/rsa-private.pem");
    const RSA_PUBLIC: &str = include_str!("../../tests/keys/rsa-public.pem");
    const EC_PRIVATE: &str = include_str!("../../tests/keys/ec-private.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/keys/ec-public.pem");

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims(subscribe: &[&str], publish: &[&str]) -> Value {
        json!({"sse": {"subscribe": subscribe, "publish": publish}, "exp": now() + 600})
    }

    fn hs256(claims: &Value, secret: &str) -> String {
        let key = EncodingKey::from_secret(secret.as_bytes());
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
    }

    fn authorizer(config: JwtConfig) -> JwtAuthorizer {
        JwtAuthorizer::new(&config).unwrap()
    }

    fn bearer(authorizer: &JwtAuthorizer, token: &str) -> Result<Grants, AuthError> {
        let header = format!("Bearer {token}");
        authorizer.authorize(&AuthRequest::new(
            None,
            &[("authorization", header.as_str())],
        ))
    }

    #[test]
    fn a_valid_token_grants_what_its_claims_list() {
        let jwt = authorizer(JwtConfig::secret(SECRET));
        let grants = bearer(
            &jwt,
            &hs256(&claims(&["user-42", "chat/*"], &["chat/*"]), SECRET),
        );
        let grants = grants.unwrap();
        assert!(grants.may_subscribe("user-42") && grants.may_subscribe("chat/x"));
        assert!(!grants.may_subscribe("user-43") && !grants.may_subscribe("chat"));
        assert!(grants.may_publish("chat/x") && !grants.may_publish("user-42"));
        // Accepted until exp plus the leeway.
        let expiry = grants.expiry().unwrap().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(expiry.as_secs(), now() + 600 + 5);
        // No `sse` claim: valid, and grants nothing.
        let nothing = bearer(&jwt, &hs256(&json!({"exp": now() + 60}), SECRET)).unwrap();
        assert!(!nothing.may_subscribe("default") && !nothing.may_publish("default"));
    }

    #[test]
    fn every_bad_token_is_refused_with_its_reason() {
        let jwt = authorizer(JwtConfig::secret(SECRET));
        let good = claims(&["*"], &["*"]);
        let with_exp = |exp: u64| json!({"sse": {"subscribe": ["*"]}, "exp": exp});
        let cases = [
            (hs256(&good, "another-secret"), AuthError::BadSignature),
            (hs256(&with_exp(now() - 60), SECRET), AuthError::Expired),
            (
                hs256(&json!({"exp": now() + 60, "nbf": now() + 60}), SECRET),
                AuthError::NotYetValid,
            ),
            (
                hs256(&json!({"sse": {"subscribe": ["*"]}}), SECRET),
                AuthError::Malformed("the token has no exp claim"),
            ),
            (
                hs256(
                    &json!({"sse": {"subscribe": "*"}, "exp": now() + 60}),
                    SECRET,
                ),
                AuthError::Malformed(
                    "its claims are not JSON of the expected shape ({\"sse\": {\"subscribe\": \
                     [..], \"publish\": [..]}, \"exp\": <seconds>})",
                ),
            ),
            (
                "not-a-jwt".into(),
                AuthError::Malformed("not a JWT (three base64url parts)"),
            ),
            (
                "a.b.c".into(),
                AuthError::Malformed("not a JWT (three base64url parts)"),
            ),
        ];
        for (token, expected) in cases {
            let refused = bearer(&jwt, &token).unwrap_err();
            assert_eq!(refused, expected, "{token}");
            assert!(
                !refused.to_string().contains(&token),
                "the message quotes the token"
            );
        }
        assert_eq!(
            jwt.authorize(&AuthRequest::new(Some("topic=a"), &[("cookie", "x=1")])),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn the_leeway_is_honoured_on_exp_and_nbf() {
        let jwt = authorizer(JwtConfig {
            leeway: Duration::from_secs(30),
            ..JwtConfig::secret(SECRET)
        });
        let just_expired = json!({"exp": now() - 10});
        let nearly_valid = json!({"exp": now() + 60, "nbf": now() + 10});
        assert!(bearer(&jwt, &hs256(&just_expired, SECRET)).is_ok());
        assert!(bearer(&jwt, &hs256(&nearly_valid, SECRET)).is_ok());
        let strict = authorizer(JwtConfig {
            leeway: Duration::ZERO,
            ..JwtConfig::secret(SECRET)
        });
        assert_eq!(
            bearer(&strict, &hs256(&just_expired, SECRET)),
            Err(AuthError::Expired)
        );
        assert_eq!(
            bearer(&strict, &hs256(&nearly_valid, SECRET)),
            Err(AuthError::NotYetValid)
        );
    }

    #[test]
    fn public_keys_verify_rs256_and_es256_and_refuse_other_algorithms() {
        let claims = claims(&["news"], &[]);
        let rs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims,
            &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        let es256 = jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        let rsa = authorizer(JwtConfig::public_key_pem(RSA_PUBLIC));
        let ec = authorizer(JwtConfig::public_key_pem(EC_PUBLIC));
        assert!(bearer(&rsa, &rs256).unwrap().may_subscribe("news"));
        assert!(bearer(&ec, &es256).unwrap().may_subscribe("news"));
        assert_eq!(bearer(&rsa, &es256), Err(AuthError::BadSignature));
        assert_eq!(bearer(&ec, &rs256), Err(AuthError::BadSignature));
        // An HS256 token "signed" with the public key's text is the
        // classic algorithm confusion: refused.
        assert_eq!(
            bearer(&rsa, &hs256(&claims, RSA_PUBLIC)),
            Err(AuthError::BadSignature)
        );
        // `alg: none` has no signature at all.
        let header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
        let body = base64url(claims.to_string().as_bytes());
        assert!(bearer(&ec, &format!("{header}.{body}.")).is_err());
    }

    fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        out
    }

    #[test]
    fn unusable_keys_are_refused_at_once() {
        assert_eq!(
            JwtAuthorizer::new(&JwtConfig::secret("")).unwrap_err(),
            JwtKeyError::EmptySecret
        );
        for (pem, expected) in [
            ("", JwtKeyError::NotAPublicKey),
            ("not a key", JwtKeyError::NotAPublicKey),
            (RSA_PRIVATE, JwtKeyError::PrivateKey),
            (EC_PRIVATE, JwtKeyError::PrivateKey),
        ] {
            assert_eq!(
                JwtAuthorizer::new(&JwtConfig::public_key_pem(pem)).unwrap_err(),
                expected,
                "{pem}"
            );
        }
    }
}
