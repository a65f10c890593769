//! Streams that try to make the client misbehave: each gives a clear error,
//! in bounded memory.

mod support;

use sse_hub_client::{DecodeError, Error};
use support::{Script, client, message, next, opened};

/// A 100 MiB line: far above every bound, so keeping it would show in
/// the peak.
const HUGE_LINE: usize = 100 << 20;
/// An event of 100 MiB, in 1 KiB lines: 25 times the event bound.
const HUGE_EVENT: usize = 100 << 20;
/// The process's peak memory may not grow by this much over a test.
const BOUND: u64 = 24 << 20;

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Sends `prefix`, then `filler` repeated to `size` bytes, then `suffix`.
async fn send_huge(
    request: &mut support::Request,
    size: usize,
    prefix: &[u8],
    filler: &[u8],
    suffix: &[u8],
) {
    request.send(prefix).await;
    let block: Vec<u8> = filler.iter().copied().cycle().take(64 << 10).collect();
    let mut sent = 0;
    while sent < size {
        request.send(&block).await;
        sent += block.len();
    }
    request.send(suffix).await;
}

// One test, so that nothing else runs in the process meanwhile and the
// peak is the client's.
#[tokio::test]
async fn a_huge_line_and_a_never_ending_event_are_errors_in_bounded_memory() {
    let before = peak_rss();
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        // One line of 100 MiB.
        send_huge(
            &mut request,
            HUGE_LINE,
            b"data: ",
            b"a",
            b"\n\ndata: after the line\n\n",
        )
        .await;
        // An event whose data lines go on and on.
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        send_huge(
            &mut request,
            HUGE_EVENT,
            b"data: start\n",
            &[b"data: ", &line[..]].concat(),
            b"\n\ndata: after the event\n\n",
        )
        .await;
        request
    });
    opened(&mut events).await;
    match next(&mut events).await {
        Some(Err(error @ Error::Decode(DecodeError::LineTooLong { .. }))) => {
            assert!(!error.is_fatal());
            assert!(error.to_string().contains("max_line_len"), "{error}");
        }
        other => panic!("expected LineTooLong, got {other:?}"),
    }
    assert_eq!(message(&mut events).await.1, "after the line");
    match next(&mut events).await {
        Some(Err(Error::Decode(DecodeError::EventTooLarge { limit }))) => {
            assert_eq!(limit, sse_hub_client::DEFAULT_MAX_EVENT_LEN);
        }
        other => panic!("expected EventTooLarge, got {other:?}"),
    }
    assert_eq!(message(&mut events).await.1, "after the event");
    let _open = script.await.expect("the script ran");
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let grew = after.saturating_sub(before);
        assert!(
            grew < BOUND,
            "the peak grew by {} MiB for 200 MiB of stream",
            grew >> 20
        );
    }
}

#[tokio::test]
async fn a_stream_that_is_not_utf8_fails_unless_lossy() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        request.send(b"data: fine\n\ndata: \xFF\xFE\n\n").await;
        request
    });
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "fine");
    match next(&mut events).await {
        Some(Err(error @ Error::InvalidUtf8 { offset: 18 })) => {
            assert!(error.is_fatal());
            assert!(error.to_string().contains("lossy_utf8"), "{error}");
        }
        other => panic!("expected InvalidUtf8 at byte 18, got {other:?}"),
    }
    assert!(next(&mut events).await.is_none());
    let _open = script.await.expect("the script ran");

    let server = Script::start().await;
    let mut events = client(&server.url).lossy_utf8(true).build().expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request.open().await;
        request.send(b"data: \xFF\n\n").await;
        request
    });
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "\u{FFFD}");
    let _open = script.await.expect("the script ran");
}

#[tokio::test]
async fn an_answer_that_is_not_an_event_stream_fails() {
    for (headers, found) in [
        (
            "content-type: text/html; charset=utf-8\r\n",
            Some("text/html; charset=utf-8"),
        ),
        ("", None),
    ] {
        let server = Script::start().await;
        let mut events = client(&server.url).build().expect("valid");
        let script = tokio::spawn(async move {
            server
                .next()
                .await
                .answer("200 OK", headers, "<html>login</html>")
                .await;
        });
        match next(&mut events).await {
            Some(Err(error @ Error::ContentType { .. })) => {
                let Error::ContentType { found: got } = &error else {
                    unreachable!()
                };
                assert_eq!(got.as_deref(), found);
                assert!(error.to_string().contains("text/event-stream"), "{error}");
            }
            other => panic!("expected a content type error, got {other:?}"),
        }
        assert!(next(&mut events).await.is_none());
        script.await.expect("the script ran");
    }
}

#[tokio::test]
async fn content_type_parameters_and_case_are_accepted() {
    let server = Script::start().await;
    let mut events = client(&server.url).build().expect("valid");
    let script = tokio::spawn(async move {
        let mut request = server.next().await;
        request
            .send(b"HTTP/1.1 200 OK\r\ncontent-type: Text/Event-Stream; charset=utf-8\r\n\r\ndata: ok\n\n")
            .await;
        request
    });
    opened(&mut events).await;
    assert_eq!(message(&mut events).await.1, "ok");
    let _open = script.await.expect("the script ran");
}
