//! How often an idle event stream writes a probe, per endpoint.
//!
//! `poem::Server` (poem 3.1) keeps the body of a closed connection until a
//! write to it fails, so by default an idle stream writes an empty line,
//! which clients skip, every [`PROBE_INTERVAL`]: a gone client is dropped
//! within a second rather than at the next keep-alive. That costs a write
//! per idle stream every 300 ms, which for 10,000 idle streams is most of
//! a core. A server that notices a closed connection by itself needs no
//! probe: [`serve`](crate::serve::serve) turns them off for the endpoint
//! it serves, and [`ProbeIdle`] sets them for any endpoint.

use std::time::Duration;

use poem::{Endpoint, Middleware, Request, Result};
use sse_hub::stream::PROBE_INTERVAL;

tokio::task_local! {
    /// The probe interval for the responses an endpoint builds.
    static PROBE_EVERY: Duration;
}

/// The probe interval for a response built now: the innermost
/// [`ProbeIdle`]'s, else [`PROBE_INTERVAL`].
pub(crate) fn interval() -> Duration {
    PROBE_EVERY
        .try_with(|every| *every)
        .unwrap_or(PROBE_INTERVAL)
}

/// Middleware that sets how often the idle event streams of the endpoints
/// it wraps write a probe ([`Sse`](crate::Sse) and the hub's routes alike).
///
/// Turn probes off when the server underneath notices a closed connection
/// while a response is idle, as [`serve`](crate::serve::serve) does, which
/// applies `ProbeIdle::off()` by itself; keep them (the default) under
/// `poem::Server`, or a gone client's stream lives until the next
/// keep-alive.
///
/// ```
/// use poem::{EndpointExt, Route};
/// use sse_poem::{Hub, HubConfig, ProbeIdle};
///
/// let hub = Hub::open(HubConfig::default()).expect("a hub");
/// // Served by a loop that notices closed connections by itself.
/// let app = Route::new()
///     .nest("/sse", sse_poem::routes(hub))
///     .with(ProbeIdle::off());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ProbeIdle(Duration);

impl ProbeIdle {
    /// A probe after `interval` without a write; zero turns probes off.
    pub fn every(interval: Duration) -> Self {
        Self(interval)
    }

    /// No probes: for a server that notices closed connections itself.
    pub fn off() -> Self {
        Self(Duration::ZERO)
    }
}

impl<E: Endpoint> Middleware<E> for ProbeIdle {
    type Output = ProbeIdleEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ProbeIdleEndpoint {
            inner,
            every: self.0,
        }
    }
}

/// The endpoint [`ProbeIdle`] makes.
#[derive(Debug)]
pub struct ProbeIdleEndpoint<E> {
    inner: E,
    every: Duration,
}

impl<E: Endpoint> Endpoint for ProbeIdleEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, request: Request) -> Result<Self::Output> {
        PROBE_EVERY
            .scope(self.every, self.inner.call(request))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt;
    use poem::{Endpoint, EndpointExt, IntoResponse, Request, handler};

    use super::ProbeIdle;
    use crate::Sse;

    #[handler]
    fn idle() -> Sse<futures::stream::Pending<sse_hub::Event>> {
        Sse::new(futures::stream::pending())
    }

    /// What an idle stream from `endpoint` writes in its first 2 s.
    async fn written_in_two_seconds(endpoint: impl Endpoint) -> Vec<u8> {
        let response = endpoint
            .call(Request::default())
            .await
            .expect("a response")
            .into_response();
        let mut body = response.into_body().into_bytes_stream();
        let mut written = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(until, body.next()).await {
            written.extend_from_slice(&chunk);
        }
        written
    }

    #[tokio::test(start_paused = true)]
    async fn idle_streams_probe_by_default_and_not_when_turned_off() {
        let probed = written_in_two_seconds(idle).await;
        assert!(
            probed.iter().filter(|byte| **byte == b'\n').count() >= 6,
            "an empty line every 300 ms: {:?}",
            String::from_utf8_lossy(&probed)
        );
        let quiet = written_in_two_seconds(idle.with(ProbeIdle::off())).await;
        assert_eq!(quiet, b"", "nothing before the keep-alive");
        let slower =
            written_in_two_seconds(idle.with(ProbeIdle::every(Duration::from_secs(1)))).await;
        assert_eq!(slower, b"\n\n", "one probe a second");
    }
}
