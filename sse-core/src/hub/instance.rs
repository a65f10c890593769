//! What the hub says and does about this instance, whichever engine it
//! runs on: its streams, connection limit, metrics, readiness and
//! shutdown.

use std::time::Duration;

use super::handle::Hub;
use crate::broker::Stats;
use crate::connections::ConnectionLimit;

impl Hub {
    /// Ends every stream of this instance cleanly and refuses new ones and
    /// publishes, so that the server in front can stop: what a shutdown
    /// signal's handler calls.
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// hub.shutdown();
    /// assert!(hub.is_closed());
    /// assert!(hub.publish("news", &Event::new("late")).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self) {
        self.engine.local().shutdown();
    }

    /// Whether [`Hub::shutdown`] was called.
    pub fn is_closed(&self) -> bool {
        self.engine.local().is_closed()
    }

    /// Whether this instance takes new streams and publishes now: in
    /// memory until it drains or shuts down; on Redis also only while
    /// Redis is reachable. What a readiness probe asks (`GET /readyz`).
    pub fn is_ready(&self) -> bool {
        !self.is_draining() && self.engine.is_available()
    }

    /// Waits until [`Hub::is_ready`], at most `within`: whether it is. A
    /// server on Redis may wait for it before it announces it serves:
    ///
    /// ```
    /// use std::time::Duration;
    /// use sse_hub::{Hub, HubConfig};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// assert!(hub.ready_within(Duration::from_secs(5)).await);
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn ready_within(&self, within: Duration) -> bool {
        let _ = tokio::time::timeout(within, self.engine.available()).await;
        self.is_ready()
    }

    /// A limit of `max` connections counted in this hub's metrics
    /// (`sse_connections`, `sse_connections_refused_total`): hand it to the
    /// server's accept loop (see [`serve`](crate::serve)).
    pub fn connection_limit(&self, max: usize) -> ConnectionLimit {
        self.engine.local().connection_limit(max)
    }

    /// How many streams are open on this instance.
    pub fn client_count(&self) -> usize {
        self.engine.local().client_count()
    }

    /// This instance's counters: events published and delivered, streams
    /// that lagged, and the like.
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// hub.publish("news", &Event::new("hello")).await?;
    /// assert_eq!(hub.stats().published, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn stats(&self) -> Stats {
        self.engine.local().stats()
    }

    /// This instance's metrics in the Prometheus text format, as `GET
    /// /metrics` answers them.
    pub fn render_metrics(&self) -> String {
        self.engine.local().render_metrics()
    }

    /// Adds this instance's metrics to `registry`, for an application
    /// that serves its own.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.engine.local().register_metrics(registry);
    }
}
