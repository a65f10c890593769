//! The checks of private topics (`--jwt-secret`, `--jwt-public-key`) and
//! cross-origin pages (`--cors-origin`), against each example server.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::client::{Error, EventStream, http_client, open, within};
use crate::launch::Target;
use crate::support::{ensure, metric, subscribe};

/// The secret the checks start servers with.
pub const SECRET: &str = "conformance-secret-0123456789";

/// A page's origin the checks allow, and one they do not.
const APP: &str = "http://app.example";
const EVIL: &str = "http://evil.example";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// An HS256 token with `claims`, signed with `secret`.
pub fn token(claims: &Value, secret: &str) -> Result<String, Error> {
    let key = EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).map_err(|e| e.to_string())
}

/// Claims granting `subscribe` and `publish`, valid for ten minutes.
pub fn grants(subscribe: &[&str], publish: &[&str]) -> Value {
    json!({"sse": {"subscribe": subscribe, "publish": publish}, "exp": now() + 600})
}

/// The test key pair's files (`sse-core/tests/keys`).
fn key_file(name: &str) -> String {
    format!(
        "{}/../sse-core/tests/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `POST {base}/notify?{query}` with JSON and `headers`: status, headers
/// and body.
async fn post(
    base: &str,
    query: &str,
    headers: &[(&str, &str)],
    json: &str,
) -> Result<(u16, HeaderMap, String), Error> {
    let mut request = http_client()
        .post(format!("{base}/notify?{query}"))
        .header("content-type", "application/json")
        .body(json.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = within(request.send(), "the publish answer")
        .await?
        .map_err(|e| format!("publish failed: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = within(response.text(), "the publish body")
        .await?
        .map_err(|e| e.to_string())?;
    Ok((status, headers, body))
}

/// The error message of a refusal, which must be the contract's JSON.
fn error_message(status: u16, body: &str) -> Result<String, Error> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("{status} body {body:?}: {e}"))?;
    value["error"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{status} body {body} has no error"))
}

/// Opens `/events{query}` with `headers` and expects `status` with the
/// contract's JSON error (and, for 401, `WWW-Authenticate: Bearer`).
async fn refused(
    base: &str,
    query: &str,
    headers: &[(&str, &str)],
    status: u16,
) -> Result<(), Error> {
    let mut request = http_client().get(format!("{base}/events{query}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = within(request.send(), "the answer")
        .await?
        .map_err(|e| e.to_string())?;
    let got = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = within(response.text(), "the error body")
        .await?
        .map_err(|e| e.to_string())?;
    ensure(got == status, || {
        format!("/events{query}: {got} {body}, expected {status}")
    })?;
    error_message(got, &body)?;
    ensure(
        status != 401 || challenge.as_deref() == Some("Bearer"),
        || format!("401 without WWW-Authenticate: Bearer ({challenge:?})"),
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(crate) async fn bad_tokens(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--jwt-secret", SECRET]).await?;
    let base = &server.base;
    let all = grants(&["*"], &["*"]);
    let wrongly_signed = token(&all, "another-secret")?;
    let mut unsigned = token(&all, SECRET)?;
    unsigned.truncate(unsigned.rfind('.').map_or(0, |dot| dot + 1));
    for (what, header) in [
        ("no token", None),
        ("a wrong signature", Some(bearer(&wrongly_signed))),
        ("no signature", Some(bearer(&unsigned))),
        ("a malformed token", Some(bearer("not.a.jwt"))),
        ("an empty bearer", Some("Bearer ".into())),
    ] {
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|value| ("authorization", value))
            .into_iter()
            .collect();
        refused(base, "?topic=a", &headers, 401)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let (status, _, body) = post(base, "topic=a", &headers, "1").await?;
        ensure(status == 401, || {
            format!("publish with {what}: {status} {body}")
        })?;
        error_message(status, &body)?;
    }
    ensure(
        metric(base, "sse_events_published_total").await? == 0.0,
        || "a refused publish was published".into(),
    )?;
    // The open routes stay open.
    for path in ["/healthz", "/metrics", "/"] {
        let status = within(http_client().get(format!("{base}{path}")).send(), path)
            .await?
            .map_err(|e| e.to_string())?
            .status()
            .as_u16();
        ensure(status == 200, || {
            format!("{path} without a token: {status}")
        })?;
    }
    Ok(())
}

pub(crate) async fn expired_and_not_yet_valid(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--jwt-secret", SECRET, "--jwt-leeway", "2s"])
        .await?;
    let base = &server.base;
    let expired = json!({"sse": {"subscribe": ["*"], "publish": ["*"]}, "exp": now() - 30});
    let early = json!({"sse": {"subscribe": ["*"], "publish": ["*"]}, "exp": now() + 600, "nbf": now() + 30});
    let no_exp = json!({"sse": {"subscribe": ["*"], "publish": ["*"]}});
    for (what, claims) in [
        ("expired", expired),
        ("not yet valid", early),
        ("without exp", no_exp),
    ] {
        let header = bearer(&token(&claims, SECRET)?);
        refused(base, "?topic=a", &[("authorization", &header)], 401)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let (status, _, body) = post(base, "topic=a", &[("authorization", &header)], "1").await?;
        ensure(status == 401, || format!("publish {what}: {status} {body}"))?;
    }
    // Within the leeway, both are accepted.
    let skewed = json!({"sse": {"subscribe": ["*"]}, "exp": now() + 600, "nbf": now() + 1});
    let header = bearer(&token(&skewed, SECRET)?);
    subscribe(base, "?topic=a", &[("authorization", &header)]).await?;
    ensure(
        metric(base, "sse_events_published_total").await? == 0.0,
        || "a refused publish was published".into(),
    )
}

pub(crate) async fn topics_granted(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--jwt-secret", SECRET]).await?;
    let base = &server.base;
    let header = bearer(&token(
        &grants(&["user-42", "chat/*"], &["chat/*"]),
        SECRET,
    )?);
    let auth = [("authorization", header.as_str())];
    // Names an attacker might try for a topic next to a granted one.
    for query in [
        "?topic=user-43",
        "?topic=user-420",
        "?topic=user-4",
        "?topic=USER-42",
        "?topic=user-42%20",
        "?topic=%20user-42",
        "?topic=user-42%E2%80%8B",
        "?topic=chat",
        "?topic=chatroom%2Fx",
        "?topic=user-42&topic=user-43",
        "",
    ] {
        refused(base, query, &auth, 403).await?;
    }
    let mut stream = subscribe(base, "?topic=user-42&topic=chat%2Frust", &auth).await?;
    for (query, status) in [
        ("topic=user-42", 403),
        ("topic=chat", 403),
        ("", 403),
        ("topic=chat/rust", 200),
    ] {
        let (got, _, body) = post(base, query, &auth, "\"hi\"").await?;
        ensure(got == status, || {
            format!("publish {query}: {got} {body}, expected {status}")
        })?;
    }
    let event = stream.next_event().await?;
    ensure(event.data() == "\"hi\"", || format!("got {event:?}"))?;
    ensure(
        metric(base, "sse_events_published_total").await? == 1.0,
        || "only the granted publish was published".into(),
    )
}

pub(crate) async fn token_transports(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--jwt-secret", SECRET]).await?;
    let base = &server.base;
    let good = token(&grants(&["t"], &["t"]), SECRET)?;
    let bad = token(&grants(&["t"], &["t"]), "another-secret")?;
    let cookie = format!("theme=dark; sse_token={good}");
    let mut by_cookie = subscribe(base, "?topic=t", &[("cookie", &cookie)]).await?;
    let mut by_query = subscribe(base, &format!("?topic=t&token={good}"), &[]).await?;
    let mut by_header = subscribe(base, "?topic=t", &[("authorization", &bearer(&good))]).await?;
    // The header is read first, then the cookie, then the query.
    let bad_cookie = format!("sse_token={bad}");
    refused(
        base,
        &format!("?topic=t&token={good}"),
        &[("cookie", &bad_cookie)],
        401,
    )
    .await
    .map_err(|e| format!("a bad cookie before a good query token: {e}"))?;
    subscribe(
        base,
        &format!("?topic=t&token={bad}"),
        &[("authorization", &bearer(&good))],
    )
    .await
    .map_err(|e| format!("a good header before a bad query token: {e}"))?;
    let (status, _, body) = post(base, "topic=t", &[("cookie", &cookie)], "1").await?;
    ensure(status == 200, || {
        format!("publish by cookie: {status} {body}")
    })?;
    let (status, _, body) = post(base, &format!("topic=t&token={good}"), &[], "2").await?;
    ensure(status == 200, || {
        format!("publish by query: {status} {body}")
    })?;
    for stream in [&mut by_cookie, &mut by_query, &mut by_header] {
        let first = stream.next_event().await?;
        let second = stream.next_event().await?;
        ensure(first.data() == "1" && second.data() == "2", || {
            format!("got {first:?}, {second:?}")
        })?;
    }
    Ok(())
}

pub(crate) async fn expiry_ends_stream(target: &Target) -> Result<(), Error> {
    let server = target
        .start(&["--jwt-secret", SECRET, "--jwt-leeway", "0s"])
        .await?;
    let base = &server.base;
    let exp = now() + 2;
    let claims = json!({"sse": {"subscribe": ["t"], "publish": ["t"]}, "exp": exp});
    let header = bearer(&token(&claims, SECRET)?);
    let mut stream = subscribe(base, "?topic=t", &[("authorization", &header)]).await?;
    let (status, _, body) = post(base, "topic=t", &[("authorization", &header)], "1").await?;
    ensure(status == 200, || format!("publish: {status} {body}"))?;
    ensure(stream.next_event().await?.data() == "1", || {
        "the event before expiry".into()
    })?;
    stream.ends_within(Duration::from_secs(4)).await?;
    let ended = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    // It ends at exp, not before it and not long after.
    ensure(
        ended.as_secs_f64() >= exp as f64 - 0.05 && ended.as_secs_f64() <= exp as f64 + 1.5,
        || format!("ended at {ended:?}, exp {exp}"),
    )?;
    // Reconnecting with the expired token is refused.
    refused(base, "?topic=t", &[("authorization", &header)], 401).await
}

pub(crate) async fn public_keys(target: &Target) -> Result<(), Error> {
    let public = key_file("ec-public.pem");
    let server = target.start(&["--jwt-public-key", &public]).await?;
    let base = &server.base;
    let private = std::fs::read(key_file("ec-private.pem")).map_err(|e| e.to_string())?;
    let key = EncodingKey::from_ec_pem(&private).map_err(|e| e.to_string())?;
    let es256 = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &grants(&["t"], &[]), &key)
        .map_err(|e| e.to_string())?;
    subscribe(base, "?topic=t", &[("authorization", &bearer(&es256))]).await?;
    // The public key's text as an HS256 secret: the algorithm confusion.
    let pem = std::fs::read_to_string(&public).map_err(|e| e.to_string())?;
    let confused = token(&grants(&["t"], &[]), &pem)?;
    refused(
        base,
        "?topic=t",
        &[("authorization", &bearer(&confused))],
        401,
    )
    .await
}

pub(crate) async fn demo_page_with_cookie(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--jwt-secret", SECRET]).await?;
    let base = &server.base;
    let page = within(http_client().get(format!("{base}/")).send(), "the page")
        .await?
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    // The page reaches the routes relative to itself, where a browser
    // sends the page's cookies along.
    ensure(
        page.contains("new EventSource(base + \"events?\"")
            && page.contains("fetch(base + \"notify?\""),
        || "the page does not reach /events and /notify relative to itself".into(),
    )?;
    ensure(!page.contains("credentials: 'omit'"), || {
        "the page's publish leaves the cookie out".into()
    })?;
    let cookie = format!(
        "sse_token={}",
        token(&grants(&["default"], &["default"]), SECRET)?
    );
    let mut stream = subscribe(base, "?topic=default", &[("cookie", &cookie)]).await?;
    let (status, _, body) = post(
        base,
        "topic=default&event=message",
        &[("cookie", &cookie)],
        "{\"text\":\"hi\"}",
    )
    .await?;
    ensure(status == 200, || {
        format!("the page's publish: {status} {body}")
    })?;
    let event = stream.next_event().await?;
    ensure(event.data() == r#"{"text":"hi"}"#, || {
        format!("got {event:?}")
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub(crate) async fn cors_allowed(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--cors-origin", APP]).await?;
    let base = &server.base;
    let mut stream: EventStream = subscribe(base, "?topic=t", &[("origin", APP)]).await?;
    ensure(
        stream.header("access-control-allow-origin") == Some(APP)
            && stream.header("access-control-allow-credentials") == Some("true"),
        || format!("stream headers {:?}", stream.headers),
    )?;
    ensure(
        stream.header("content-type") == Some("text/event-stream"),
        || format!("content type {:?}", stream.header("content-type")),
    )?;
    for i in 0..3 {
        let (status, headers, body) =
            post(base, "topic=t", &[("origin", APP)], &i.to_string()).await?;
        ensure(status == 200, || format!("publish: {status} {body}"))?;
        ensure(
            header(&headers, "access-control-allow-origin") == Some(APP),
            || format!("publish headers {headers:?}"),
        )?;
        // Each event arrives at once: the middleware buffers nothing.
        let event = stream.next_event().await?;
        ensure(event.data() == i.to_string(), || format!("got {event:?}"))?;
    }
    Ok(())
}

pub(crate) async fn cors_preflight(target: &Target) -> Result<(), Error> {
    let server = target.start(&["--cors-origin", APP]).await?;
    let request = http_client()
        .request(reqwest::Method::OPTIONS, format!("{}/notify", server.base))
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization, idempotency-key",
        );
    let response = within(request.send(), "the preflight")
        .await?
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers();
    let lower = |name| {
        header(headers, name)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    ensure(status == 204, || format!("preflight status {status}"))?;
    ensure(
        header(headers, "access-control-allow-origin") == Some(APP),
        || format!("preflight headers {headers:?}"),
    )?;
    ensure(lower("access-control-allow-credentials") == "true", || {
        format!("preflight headers {headers:?}")
    })?;
    ensure(
        lower("access-control-allow-methods").contains("post"),
        || {
            format!(
                "allowed methods {:?}",
                lower("access-control-allow-methods")
            )
        },
    )?;
    let allowed = lower("access-control-allow-headers");
    ensure(
        ["content-type", "authorization", "idempotency-key"]
            .iter()
            .all(|name| allowed.contains(name)),
        || format!("allowed headers {allowed:?}"),
    )
}

pub(crate) async fn cors_refused(target: &Target) -> Result<(), Error> {
    let granting = [
        "access-control-allow-origin",
        "access-control-allow-credentials",
    ];
    let server = target.start(&["--cors-origin", APP]).await?;
    let base = &server.base;
    // Served as a request without `Origin`, with no CORS headers, so that
    // a browser keeps the other page from reading it. The server's own
    // demo page is such an origin too: a browser sends `Origin` with every
    // `POST`, even to its own origin.
    let stream = open(&http_client(), base, "/events?topic=t", &[("origin", EVIL)]).await?;
    ensure(stream.status == 200, || format!("status {}", stream.status))?;
    for name in granting {
        ensure(stream.header(name).is_none(), || {
            format!("{name} for another origin: {:?}", stream.header(name))
        })?;
    }
    for origin in [EVIL, base.as_str()] {
        let (status, headers, _) = post(base, "topic=t", &[("origin", origin)], "1").await?;
        ensure(status == 200, || {
            format!("a publish from {origin}: {status}")
        })?;
        for name in granting {
            ensure(header(&headers, name).is_none(), || {
                format!("{name} on a publish from {origin}")
            })?;
        }
    }
    drop(server);
    // Without the option: no CORS header of any kind.
    let server = target.start(&[]).await?;
    let stream = open(&http_client(), &server.base, "/events", &[("origin", APP)]).await?;
    ensure(stream.status == 200, || format!("status {}", stream.status))?;
    let cors: Vec<&str> = stream
        .headers
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("access-control-"))
        .collect();
    ensure(cors.is_empty(), || {
        format!("CORS headers without the option: {cors:?}")
    })?;
    let (status, headers, _) = post(&server.base, "topic=t", &[("origin", APP)], "1").await?;
    ensure(
        status == 200 && header(&headers, "access-control-allow-origin").is_none(),
        || format!("publish without the option: {status} {headers:?}"),
    )
}
