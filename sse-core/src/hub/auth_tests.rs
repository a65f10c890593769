//! The hub with an authorizer: who may subscribe and publish where.

use futures::StreamExt;

use super::tests::*;
use super::*;
use crate::auth::{AuthError, AuthRequest, Grants};

/// Grants by the `user` cookie: `42` may read `user-42` and `chat/*` and
/// publish on `chat/*`; others are refused.
fn by_cookie(request: &AuthRequest<'_>) -> Result<Grants, AuthError> {
    match request.cookie("user") {
        Some("42") => Ok(Grants::new()
            .subscribe("user-42")
            .subscribe("chat/*")
            .publish("chat/*")),
        Some(_) => Err(AuthError::Refused("unknown user".into())),
        None => Err(AuthError::Missing),
    }
}

fn authorized_hub() -> Hub {
    hub().with_authorizer(by_cookie)
}

async fn subscribe_with(hub: &Hub, query: &str, cookie: Option<&str>) -> Response {
    let cookie = cookie.map(|user| format!("user={user}"));
    events_with(hub, query, cookie.as_deref().map(|value| ("cookie", value))).await
}

#[tokio::test]
async fn an_authorizer_decides_who_subscribes_to_what() {
    let hub = authorized_hub();
    for (query, cookie, status) in [
        ("topic=user-42", None, 401),
        ("topic=user-42", Some("7"), 401),
        ("topic=user-42", Some("42"), 200),
        ("topic=chat/rust&topic=user-42", Some("42"), 200),
        ("topic=user-43", Some("42"), 403),
        ("topic=user-42&topic=user-43", Some("42"), 403),
        ("topic=user-420", Some("42"), 403),
        ("topic=chat", Some("42"), 403),
        // No topic is the topic `default`, which is not granted.
        ("", Some("42"), 403),
        // A bad query of an unauthenticated request is still a 401.
        ("topic=", None, 401),
        ("topic=", Some("42"), 400),
    ] {
        let response = subscribe_with(&hub, query, cookie).await;
        assert_eq!(response.status, status, "{query} as {cookie:?}");
        if status == 401 {
            assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
        }
        if status != 200 {
            assert!(json_body(response)["error"].is_string());
        }
    }
    assert_eq!(hub.client_count(), 0);
}

#[tokio::test]
async fn an_authorizer_decides_who_publishes_where_before_the_body_is_read() {
    let hub = authorized_hub();
    let polled = std::sync::atomic::AtomicBool::new(false);
    for (query, cookie, status) in [
        ("topic=chat/rust", None, 401),
        ("topic=chat/rust", Some("user=7"), 401),
        ("topic=user-42", Some("user=42"), 403),
        ("", Some("user=42"), 403),
    ] {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        headers.extend(cookie.map(|c| ("cookie", c.to_owned())));
        let request = RequestParts {
            query: Some(query),
            headers: &headers,
        };
        let response = hub
            .routes()
            .notify_from(request, stalled_body(&polled))
            .await;
        assert_eq!(response.status, status, "{query} as {cookie:?}");
        let message = json_body(response)["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!message.is_empty());
    }
    assert!(!polled.into_inner(), "no refused body was read");
    assert_eq!(hub.stats().published, 0, "nothing was published");
    let headers = [("content-type", "application/json"), ("cookie", "user=42")];
    let granted = RequestParts {
        query: Some("topic=chat/rust"),
        headers: &headers,
    };
    assert_eq!(hub.routes().notify(granted, b"1").await.status, 200);
    assert_eq!(hub.stats().published, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stream_ends_when_its_grants_expire() {
    let hub = hub().with_authorizer(|_: &AuthRequest<'_>| {
        Ok(Grants::all()
            .expires_at(std::time::SystemTime::now() + std::time::Duration::from_secs(90)))
    });
    let mut response = hub.routes().events(RequestParts::default()).await;
    assert_eq!(response.status, 200);
    let Body::Stream(stream) = &mut response.body else {
        panic!("a stream");
    };
    let started = tokio::time::Instant::now();
    let mut frames = 0;
    while stream.next().await.is_some() {
        frames += 1;
    }
    // The preamble, then heartbeats every 30 s until the end.
    assert_eq!(frames, 3);
    let lasted = started.elapsed();
    assert!(
        (std::time::Duration::from_secs(89)..=std::time::Duration::from_secs(90)).contains(&lasted),
        "{lasted:?}"
    );
    drop(response);
    assert_eq!(hub.client_count(), 0);
}

#[test]
fn a_jwt_key_that_cannot_verify_is_refused_at_open() {
    let config = HubConfig {
        jwt: Some(crate::auth::JwtConfig::public_key_pem("not a key")),
        ..HubConfig::default()
    };
    let refused = Hub::open(config).unwrap_err();
    assert!(
        refused.to_string().contains("JWT"),
        "Hub::open says what is wrong: {refused}"
    );
}

#[test]
fn requests_print_no_secrets() {
    let headers = [
        ("authorization", "Bearer header-secret"),
        ("cookie", "sse_token=cookie-secret"),
    ];
    let request = RequestParts {
        query: Some("topic=a&token=query-secret"),
        headers: &headers,
    };
    let printed = format!(
        "{request:?} {:?}",
        RequestParts {
            query: request.query,
            headers: &headers
        }
    );
    for secret in ["header-secret", "cookie-secret", "query-secret"] {
        assert!(!printed.contains(secret), "{printed}");
    }
}

#[tokio::test]
async fn query_errors_never_quote_a_token() {
    // Not UTF-8 once decoded: the message names the parameter, not its value.
    let response = subscribe(&hub(), "topic=a&token=%FFsecret-token", None).await;
    assert_eq!(response.status, 400);
    let message = json_body(response)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("token") && !message.contains("secret-token"),
        "{message}"
    );
}

/// How long `response`'s stream lasted, read to its end.
async fn lasted(mut response: Response) -> std::time::Duration {
    let Body::Stream(stream) = &mut response.body else {
        panic!("a stream");
    };
    let started = tokio::time::Instant::now();
    while stream.next().await.is_some() {}
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn streams_end_after_their_lifetime_each_within_ten_percent() {
    let hub = hub_with(HubConfig {
        max_stream_lifetime: Some(std::time::Duration::from_secs(100)),
        ..HubConfig::default()
    });
    let responses: Vec<Response> = {
        let mut responses = Vec::new();
        for _ in 0..20 {
            responses.push(hub.subscribe(["news"], None).await);
        }
        responses
    };
    let lifetimes = futures::future::join_all(responses.into_iter().map(lasted)).await;
    let (min, max) = (
        std::time::Duration::from_secs(90),
        std::time::Duration::from_secs(110),
    );
    assert!(
        lifetimes.iter().all(|l| (min..=max).contains(l)),
        "{lifetimes:?}"
    );
    assert!(
        lifetimes.iter().any(|l| *l != lifetimes[0]),
        "spread, not all at once: {lifetimes:?}"
    );
    assert_eq!(hub.client_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stream_ends_at_its_lifetime_or_its_grants_expiry_whichever_is_first() {
    for (expiry, lifetime, ends_by) in [(50, 1000, 50), (1000, 100, 110)] {
        let hub = hub_with(HubConfig {
            max_stream_lifetime: Some(std::time::Duration::from_secs(lifetime)),
            ..HubConfig::default()
        })
        .with_authorizer(move |_: &AuthRequest<'_>| {
            Ok(Grants::all()
                .expires_at(std::time::SystemTime::now() + std::time::Duration::from_secs(expiry)))
        });
        let response = hub.routes().events(RequestParts::default()).await;
        assert_eq!(response.status, 200);
        let lasted = lasted(response).await;
        assert!(
            lasted <= std::time::Duration::from_secs(ends_by),
            "expiry {expiry} s, lifetime {lifetime} s: lasted {lasted:?}"
        );
    }
}

/// A client that reconnects with its last event id each time its stream
/// ends gets every event exactly once across many lifetimes, while events
/// are published all along.
#[tokio::test(start_paused = true)]
async fn resuming_across_many_lifetimes_misses_nothing() {
    use crate::decode::{Decoded, Decoder};
    let hub = hub_with(HubConfig {
        max_stream_lifetime: Some(std::time::Duration::from_secs(1)),
        ..HubConfig::default()
    });
    const EVENTS: usize = 2000;
    let publisher = {
        let hub = hub.clone();
        tokio::spawn(async move {
            let mut ids = Vec::with_capacity(EVENTS);
            for n in 0..EVENTS {
                let published = hub.publish("live", &crate::Event::new(n.to_string())).await;
                ids.push(published.expect("published").id.to_string());
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            ids
        })
    };
    let mut received: Vec<String> = Vec::new();
    let mut streams = 0;
    while received.len() < EVENTS {
        let last = received.last().cloned();
        let mut response = hub.subscribe(["live"], last.as_deref()).await;
        streams += 1;
        let Body::Stream(stream) = &mut response.body else {
            panic!("a stream");
        };
        let mut decoder = Decoder::new();
        while let Some(chunk) = stream.next().await {
            decoder.feed(&chunk.expect("no error"));
            while let Some(Ok(item)) = decoder.next_item() {
                if let Decoded::Event(event) = item {
                    assert_ne!(event.event(), "reset", "after {last:?}");
                    if event.event() != "connected" {
                        received.push(event.last_event_id().to_owned());
                    }
                }
            }
        }
    }
    let published = publisher.await.expect("the publisher finished");
    assert_eq!(received, published, "every event once, in order");
    assert!(
        streams >= 15,
        "only {streams} streams over 20 s of 1 s lifetimes"
    );
}
