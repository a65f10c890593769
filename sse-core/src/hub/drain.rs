//! Taking an instance out of service without a reconnect storm: the drain,
//! readiness while it runs, and the stop signals that start it.
//!
//! A browser's `EventSource` reconnects exactly `retry` after its stream
//! ends: if an instance ends 10,000 streams at once, 10,000 resumes reach
//! the remaining instances within the same moment. [`Hub::drain`] ends
//! them spread over a window instead (see
//! [`Broker::drain`](crate::broker::Broker::drain)), while
//! [`Hub::is_ready`] and `GET /readyz` turn to "not ready" at once, new
//! streams are refused with `503` and `Retry-After`, and publishing and
//! every other route go on.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;

use super::handle::Hub;

/// How long past its window a drain waits for the last streams before it
/// shuts the hub down: a stream whose moment is the window's end needs a
/// moment to write its `retry:` and close.
pub const DRAIN_GRACE: Duration = Duration::from_secs(1);

impl Hub {
    /// Drains this instance over `window`, then shuts it down: what a
    /// server runs on its first stop signal.
    ///
    /// At once, [`is_ready`](Hub::is_ready) turns false and new streams
    /// are refused with `503` and `Retry-After`, so that a load balancer
    /// still sending clients here makes them try another instance. Each
    /// open stream ends at a moment of its own within `window`, its last
    /// frame a `retry:` field: the clients' reconnects fall evenly over
    /// the window, none waits longer than the hub's usual `retry`, and
    /// each resumes where it stopped, with its `Last-Event-ID`, on another
    /// instance. Publishing and the other routes keep working. The future
    /// resolves once every stream has ended, or `window` plus
    /// [`DRAIN_GRACE`] has passed, or the hub was shut down; the hub is
    /// then shut down. With a zero `window` every stream ends at once, and
    /// the clients reconnect after their usual `retry`. Either way a
    /// stream's last frame also carries the id its client resumes from
    /// (an `id:` without data, which dispatches no event), so that a
    /// client that has received nothing since it connected misses nothing
    /// either.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sse_hub::{Event, Hub, HubConfig, hub::Body};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let stream = hub.subscribe(["news"], None).await;
    /// let mut draining = std::pin::pin!(hub.drain(Duration::from_secs(10)));
    /// assert!(futures::poll!(draining.as_mut()).is_pending()); // it has begun
    /// assert!(!hub.is_ready());
    /// assert_eq!(hub.subscribe(["news"], None).await.status, 503);
    /// hub.publish("news", &Event::new("still delivered")).await?;
    /// drop(stream); // its client went away
    /// draining.await;
    /// assert!(hub.is_closed());
    /// # Ok(()) }
    /// ```
    pub async fn drain(&self, window: Duration) {
        let local = self.engine.local();
        local.drain(window, self.config.retry);
        tracing::info!(
            streams = local.client_count(),
            ?window,
            "draining: streams end spread over the window"
        );
        let deadline = tokio::time::Instant::now() + window + DRAIN_GRACE;
        if tokio::time::timeout_at(deadline, local.streams_closed())
            .await
            .is_err()
        {
            tracing::warn!(
                streams = local.client_count(),
                "drain window over: ending the streams left"
            );
        }
        self.shutdown();
    }

    /// Whether [`Hub::drain`] has begun.
    pub fn is_draining(&self) -> bool {
        self.engine.local().is_draining()
    }

    /// Runs the stop sequence on `signals`: the first item starts a
    /// [`drain`](Hub::drain) over `window`, and a second one shuts the
    /// hub down at once. Resolves once the hub is shut down: hand it to
    /// the server as its graceful-shutdown trigger, so that the server
    /// serves through the drain and stops accepting after it. If
    /// `signals` ends without an item, nothing happens.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sse_hub::{Hub, HubConfig, hub::stop_signals};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let stopped = hub.clone().drain_on(stop_signals(), Duration::from_secs(8));
    /// // e.g. `sse_axum::serve::serve(listener, router, options, stopped)`,
    /// // or for actix-web: `stopped.await; server_handle.stop(true).await`.
    /// stopped.await;
    /// # Ok(()) }
    /// ```
    pub async fn drain_on<S>(self, signals: S, window: Duration)
    where
        S: Stream<Item = ()>,
    {
        let mut signals = std::pin::pin!(signals);
        if next_item(signals.as_mut()).await.is_none() {
            return std::future::pending().await;
        }
        let again = async {
            if next_item(signals).await.is_none() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = self.drain(window) => {}
            () = again => {
                tracing::info!("second stop signal: ending every stream now");
                self.shutdown();
            }
        }
    }
}

async fn next_item<S: Stream>(mut stream: Pin<&mut S>) -> Option<S::Item> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

/// The process's stop signals as a stream, each an item: SIGINT and
/// SIGTERM on Unix, Ctrl-C elsewhere. For [`Hub::drain_on`]. The signals
/// are watched from the first poll on, which must be in a Tokio runtime
/// with I/O enabled; a signal that cannot be watched is logged and left
/// out.
pub fn stop_signals() -> StopSignals {
    StopSignals { watching: None }
}

/// The stream of [`stop_signals`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct StopSignals {
    watching: Option<Vec<Watched>>,
}

#[cfg(unix)]
type Watched = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Watched = tokio::signal::windows::CtrlC;

#[cfg(unix)]
fn watch() -> Vec<Watched> {
    use tokio::signal::unix::{SignalKind, signal};
    [SignalKind::interrupt(), SignalKind::terminate()]
        .into_iter()
        .filter_map(|kind| {
            signal(kind)
                .inspect_err(|err| tracing::warn!(%err, ?kind, "cannot watch a stop signal"))
                .ok()
        })
        .collect()
}

#[cfg(not(unix))]
fn watch() -> Vec<Watched> {
    match tokio::signal::windows::ctrl_c() {
        Ok(ctrl_c) => vec![ctrl_c],
        Err(err) => {
            tracing::warn!(%err, "cannot watch Ctrl-C");
            Vec::new()
        }
    }
}

impl Stream for StopSignals {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let watching = self.watching.get_or_insert_with(watch);
        for signal in watching.iter_mut() {
            if let Poll::Ready(Some(())) = signal.poll_recv(cx) {
                tracing::info!("stop signal received");
                return Poll::Ready(Some(()));
            }
        }
        Poll::Pending
    }
}
