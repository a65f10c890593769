//! How the client reconnects, against a scripted server on a real socket.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use sse_hub_client::{Error, Event, EventSource, HeaderError, Reason};
use support::{Script, client, message, next, opened, quick, reconnecting};

#[tokio::test]
async fn a_stream_that_ends_is_resumed_with_its_last_event_id() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("a valid URL");
    let first = tokio::spawn(async move {
        let mut request = server.next().await;
        assert_eq!(request.header("accept"), Some("text/event-stream"));
        assert_eq!(request.header("last-event-id"), None);
        request.open().await;
        request
            .send(b"id: 7\nevent: greet\ndata: a\n\ndata: b\n\n")
            .await;
        drop(request);
        let mut request = server.next().await;
        assert_eq!(request.header("last-event-id"), Some("7"));
        request.open().await;
        request.send(b"id: 8\ndata: c\n\n").await;
        request
    });
    assert_eq!(opened(&mut events).await, 1);
    assert_eq!(
        message(&mut events).await,
        ("greet".into(), "a".into(), "7".into())
    );
    // An event without an id carries the last one.
    assert_eq!(
        message(&mut events).await,
        ("message".into(), "b".into(), "7".into())
    );
    let again = reconnecting(&mut events).await;
    assert_eq!(again.attempt, 1);
    assert!(matches!(again.reason, Reason::Ended), "{:?}", again.reason);
    assert_eq!(opened(&mut events).await, 2);
    assert_eq!(
        message(&mut events).await,
        ("message".into(), "c".into(), "8".into())
    );
    let _open = first.await.expect("the script ran");
}

#[tokio::test]
async fn the_first_connect_sends_the_id_it_was_given() {
    let server = Script::start().await;
    let mut events = client(&server.url)
        .last_event_id("41")
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        assert_eq!(request.header("last-event-id"), Some("41"));
        request.open().await;
        request.send(b"data: x\n\n").await;
        request
    });
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.2, "41");
    let _open = script.await.expect("the script ran");
}

#[tokio::test]
async fn the_servers_retry_is_the_base_of_the_backoff() {
    let server = Script::start().await;
    let mut events = EventSource::get(&server.url)
        .backoff(quick().max(Duration::from_secs(5)))
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        request.send(b"retry: 1500\n\n").await;
        drop(request);
        let mut request = server.next().await;
        request.open().await;
        request
    });
    opened(&mut events).await;
    let again = reconnecting(&mut events).await;
    // Drawn from [min, retry], 10 ms to 1.5 s: the quick policy's own base is 20 ms.
    assert!(
        again.delay <= Duration::from_millis(1500),
        "{:?}",
        again.delay
    );
    let started = Instant::now();
    opened(&mut events).await;
    assert!(started.elapsed() >= again.delay);
    let _open = script.await.expect("the script ran");
}

#[tokio::test]
async fn the_servers_retry_sets_the_window_over_many_reconnects() {
    // The first window after `retry: 1500` is 1.5 s wide: over 40 streams,
    // some delays must exceed the quick policy's 200 ms cap.
    let mut longest = Duration::ZERO;
    for _ in 0..40 {
        let server = Script::start().await;
        let mut events = EventSource::get(&server.url)
            .backoff(quick())
            .build()
            .expect("valid");
        let script = tokio::spawn(async move {
            let mut request = server.next().await;
            request.open().await;
            request.send(b"retry: 1500\n\n").await;
        });
        opened(&mut events).await;
        let again = reconnecting(&mut events).await;
        assert!(
            again.delay <= Duration::from_millis(1500),
            "{:?}",
            again.delay
        );
        longest = longest.max(again.delay);
        script.await.expect("the script ran");
    }
    assert!(longest > Duration::from_millis(200), "{longest:?}");
}

#[tokio::test]
async fn retry_after_on_503_is_waited_and_5xx_retry() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        server
            .next()
            .await
            .answer("503 Service Unavailable", "retry-after: 1\r\n", "")
            .await;
        let refused = Instant::now();
        let request = server.next().await;
        let waited = refused.elapsed();
        request
            .answer("500 Internal Server Error", "", "oops")
            .await;
        let mut request = server.next().await;
        request.open().await;
        request.send(b"data: up\n\n").await;
        (waited, request)
    });
    let first = reconnecting(&mut events).await;
    assert_eq!(first.attempt, 1);
    assert!(
        matches!(first.reason, Reason::Status { status: StatusCode::SERVICE_UNAVAILABLE, retry_after: Some(after) } if after == Duration::from_secs(1)),
        "{:?}",
        first.reason
    );
    assert!(first.delay >= Duration::from_secs(1), "{:?}", first.delay);
    let second = reconnecting(&mut events).await;
    assert_eq!(second.attempt, 2);
    assert!(matches!(
        second.reason,
        Reason::Status {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: None
        }
    ));
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "up");
    let (waited, _open) = script.await.expect("the script ran");
    assert!(
        waited >= Duration::from_secs(1),
        "reconnected after {waited:?}"
    );
}

#[tokio::test]
async fn a_204_ends_the_stream_for_good() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        server.next().await.answer("204 No Content", "", "").await;
        server
    });
    assert!(next(&mut events).await.is_none());
    assert!(next(&mut events).await.is_none());
    drop(script.await);
}

#[tokio::test]
async fn a_4xx_ends_with_its_status_and_the_start_of_its_body() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let long = format!(
        "{{\"error\":\"the token does not grant topic orders\"}}{}",
        "x".repeat(5000)
    );
    let script = tokio::spawn(async move {
        server.next().await.answer("403 Forbidden", "", &long).await;
    });
    match next(&mut events).await {
        Some(Err(Error::Status { status, body })) => {
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert!(body.starts_with("{\"error\":\"the token does not grant topic orders\"}"));
            assert_eq!(body.len(), 1024);
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert!(next(&mut events).await.is_none());
    script.await.expect("the script ran");
}

#[tokio::test]
async fn a_408_and_a_429_are_retried() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        server
            .next()
            .await
            .answer("408 Request Timeout", "", "")
            .await;
        server
            .next()
            .await
            .answer("429 Too Many Requests", "retry-after: 0\r\n", "")
            .await;
        let mut request = server.next().await;
        request.open().await;
        request
    });
    assert!(matches!(
        reconnecting(&mut events).await.reason,
        Reason::Status {
            status: StatusCode::REQUEST_TIMEOUT,
            ..
        }
    ));
    assert!(matches!(
        reconnecting(&mut events).await.reason,
        Reason::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Some(Duration::ZERO)
        }
    ));
    opened(&mut events).await;
    let _open = script.await.expect("the script ran");
}

#[tokio::test]
async fn max_retries_gives_up_with_the_last_reason() {
    let server = Script::start().await;
    let mut events = client(&server.url)
        .max_retries(Some(2))
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        for _ in 0..3 {
            server.next().await.answer("502 Bad Gateway", "", "").await;
        }
    });
    assert_eq!(reconnecting(&mut events).await.attempt, 1);
    assert_eq!(reconnecting(&mut events).await.attempt, 2);
    match next(&mut events).await {
        Some(Err(Error::RetriesExhausted {
            retries: 2,
            reason: Reason::Status { status, .. },
        })) => {
            assert_eq!(status, StatusCode::BAD_GATEWAY);
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(next(&mut events).await.is_none());
    script.await.expect("the script ran");
}

#[tokio::test]
async fn a_silent_connection_is_replaced_after_the_idle_timeout() {
    let server = Script::start().await;
    let mut events = client(&server.url)
        .idle_timeout(Some(Duration::from_millis(300)))
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut silent = server.next().await;
        silent.open().await;
        silent.send(b"id: 1\ndata: before\n\n").await;
        // The connection stays open, and nothing more comes.
        let mut request = server.next().await;
        assert_eq!(request.header("last-event-id"), Some("1"));
        request.open().await;
        request.send(b"id: 2\ndata: after\n\n").await;
        (silent, request)
    });
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "before");
    let again = reconnecting(&mut events).await;
    assert!(matches!(again.reason, Reason::IdleTimeout(t) if t == Duration::from_millis(300)));
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "after");
    let _connections = script.await.expect("the script ran");
}

#[tokio::test]
async fn heartbeats_keep_a_connection_alive() {
    let server = Script::start().await;
    let mut events = client(&server.url)
        .idle_timeout(Some(Duration::from_millis(300)))
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        for _ in 0..10 {
            request.send(b":\n").await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        request.send(b"data: still here\n\n").await;
        request
    });
    opened(&mut events).await;
    // A second or so of heartbeats, then the event, on the same connection.
    assert_eq!(message(&mut events).await.1, "still here");
    let _open = script.await.expect("the script ran");
}

#[tokio::test]
async fn the_header_factory_runs_before_every_connect() {
    let server = Script::start().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let mut events = client(&server.url)
        .header("authorization", "Bearer static")
        .header("x-static", "kept")
        .headers_with(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let mut headers = HeaderMap::new();
                headers.insert(AUTHORIZATION, format!("Bearer token-{n}").parse()?);
                Ok::<_, HeaderError>(headers)
            }
        })
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut tokens = Vec::new();
        for _ in 0..3 {
            let mut request = server.next().await;
            tokens.push(request.header("authorization").map(str::to_owned));
            assert_eq!(request.header("x-static"), Some("kept"));
            assert_eq!(
                request.head.matches("uthorization").count(),
                1,
                "{}",
                request.head
            );
            request.open().await;
            request.send(b"data: x\n\n").await;
        }
        tokens
    });
    for _ in 0..3 {
        opened(&mut events).await;
        message(&mut events).await;
        if calls.load(Ordering::SeqCst) < 3 {
            reconnecting(&mut events).await;
        }
    }
    let tokens = script.await.expect("the script ran");
    assert_eq!(
        tokens,
        ["Bearer token-1", "Bearer token-2", "Bearer token-3"].map(|t| Some(t.to_owned()))
    );
}

#[tokio::test]
async fn a_failing_header_factory_ends_the_stream() {
    let server = Script::start().await;
    let mut events = client(&server.url)
        .headers_with(|| async { Err::<HeaderMap, _>("the identity provider is down") })
        .build()
        .expect("valid");
    match next(&mut events).await {
        Some(Err(error @ Error::Headers(_))) => {
            assert!(
                error.to_string().contains("the identity provider is down"),
                "{error}"
            );
        }
        other => panic!("expected a header error, got {other:?}"),
    }
    assert!(next(&mut events).await.is_none());
}

#[tokio::test]
async fn a_post_is_not_sent_again_unless_allowed() {
    let server = Script::start().await;
    let body = serde_json::json!({"prompt": "hi"});
    let mut events = EventSource::post(&server.url)
        .backoff(quick())
        .json(&body)
        .expect("serializable")
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        assert_eq!(request.method(), "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.body, br#"{"prompt":"hi"}"#);
        // Chunked, and cut before the last chunk: the stream broke.
        request
            .send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        request.send(b"b\r\ndata: one\n\n\r\n").await;
        drop(request);
        server
    });
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "one");
    match next(&mut events).await {
        Some(Err(Error::NotRetried {
            method,
            reason: Reason::Network(_),
        })) => {
            assert_eq!(method, reqwest::Method::POST);
        }
        other => panic!("expected NotRetried, got {other:?}"),
    }
    assert!(next(&mut events).await.is_none());

    // With leave, the same request goes again, body and all.
    let server = script.await.expect("the script ran");
    let mut events = EventSource::post(&server.url)
        .backoff(quick())
        .json(&body)
        .expect("serializable")
        .retry_unsafe(true)
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let mut request = server.next().await;
            bodies.push(request.body.clone());
            request.open().await;
            request.send(b"data: answer\n\n").await;
        }
        bodies
    });
    for _ in 0..2 {
        opened(&mut events).await;
        message(&mut events).await;
        let _ = next(&mut events).await; // the reconnect, then the end of the script
    }
    let bodies = script.await.expect("the script ran");
    assert_eq!(bodies, vec![br#"{"prompt":"hi"}"#.to_vec(); 2]);
}

#[tokio::test]
async fn a_streamed_answer_that_ends_cleanly_ends_the_stream() {
    let server = Script::start().await;
    let mut events = EventSource::post(&server.url)
        .body("prompt")
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        request
            .send(b"data: token 1\n\ndata: token 2\n\ndata: [DONE]\n\n")
            .await;
    });
    opened(&mut events).await;
    for expected in ["token 1", "token 2", "[DONE]"] {
        assert_eq!(message(&mut events).await.1, expected);
    }
    assert!(next(&mut events).await.is_none(), "no reconnect, no error");
    script.await.expect("the script ran");
}

#[tokio::test]
async fn invalid_builder_input_is_an_error_not_a_panic() {
    let error = EventSource::get("not a url").build().expect_err("invalid");
    assert!(error.to_string().contains("not a url"), "{error}");
    let error = EventSource::get("http://localhost/")
        .header("bad header", "x")
        .build()
        .expect_err("invalid");
    assert!(error.to_string().contains("bad header"), "{error}");
    let error = EventSource::get("http://localhost/")
        .header("x-ok", "line\nbreak")
        .build()
        .expect_err("invalid");
    assert!(matches!(error, Error::Invalid(_)));
}

#[tokio::test]
async fn refused_connections_are_retried_with_growing_windows() {
    // A port nothing listens on: bind, note it, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}/events", listener.local_addr().expect("bound"));
    drop(listener);
    let mut events = client(&url).max_retries(Some(4)).build().expect("valid");
    let mut delays = Vec::new();
    loop {
        match next(&mut events).await {
            Some(Ok(Event::Reconnecting(r))) => {
                assert!(matches!(r.reason, Reason::Network(_)), "{}", r.reason);
                assert!(r.reason.to_string().contains("onnect"), "{}", r.reason);
                delays.push(r.delay);
            }
            Some(Err(Error::RetriesExhausted { retries: 4, .. })) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // Windows of 20, 40, 80 and 160 ms (the quick policy).
    for (delay, window) in delays.iter().zip([20, 40, 80, 160]) {
        assert!(*delay <= Duration::from_millis(window), "{delays:?}");
    }
    assert_eq!(delays.len(), 4);
}

#[tokio::test]
async fn a_healthy_stream_resets_the_backoff() {
    let server = Script::start().await;
    let mut events = EventSource::get(&server.url)
        .backoff(quick().reset_after(Duration::from_millis(300)))
        .build()
        .expect("valid");
    let script = tokio::spawn(async move {
        server
            .next()
            .await
            .answer("500 Internal Server Error", "", "")
            .await;
        server
            .next()
            .await
            .answer("500 Internal Server Error", "", "")
            .await;
        // Open, but for a moment only: the failures go on counting.
        server.next().await.open().await;
        // Open long enough to count as healthy.
        let mut healthy = server.next().await;
        healthy.open().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(healthy);
        server
            .next()
            .await
            .answer("500 Internal Server Error", "", "")
            .await;
        server
    });
    assert_eq!(reconnecting(&mut events).await.attempt, 1);
    assert_eq!(reconnecting(&mut events).await.attempt, 2);
    opened(&mut events).await;
    assert_eq!(reconnecting(&mut events).await.attempt, 3);
    opened(&mut events).await;
    assert_eq!(
        reconnecting(&mut events).await.attempt,
        1,
        "healthy for 500 ms"
    );
    assert_eq!(reconnecting(&mut events).await.attempt, 2);
    drop(script.await);
}

#[tokio::test]
async fn json_data_parses_into_a_type() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Price {
        symbol: String,
        cents: u64,
    }
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        request
            .send(b"data: {\"symbol\":\"ACME\",\"cents\":1234}\n\ndata: not json\n\n")
            .await;
        request
    });
    opened(&mut events).await;
    let Some(Ok(Event::Message(price))) = next(&mut events).await else {
        panic!("expected a message");
    };
    assert_eq!(
        price.json::<Price>().expect("JSON"),
        Price {
            symbol: "ACME".into(),
            cents: 1234
        }
    );
    let Some(Ok(Event::Message(text))) = next(&mut events).await else {
        panic!("expected a message");
    };
    assert!(text.json::<Price>().is_err());
    let _open = script.await.expect("the script ran");
}
