//! The broker's metrics, rendered in the Prometheus text format by
//! `prometheus-client`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The content type of [`Broker::render_metrics`](crate::broker::Broker::render_metrics)'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) clients: Gauge,
    pub(crate) published: Counter,
    pub(crate) delivered: Counter,
    pub(crate) lagged: Counter,
    history: Gauge,
    topics: Gauge,
    pub(crate) connections: Gauge,
    pub(crate) connections_refused: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let metrics = Self {
            registry: Registry::default(),
            clients: Gauge::default(),
            published: Counter::default(),
            delivered: Counter::default(),
            lagged: Counter::default(),
            history: Gauge::default(),
            topics: Gauge::default(),
            connections: Gauge::default(),
            connections_refused: Counter::default(),
        };
        let mut registry = Registry::default();
        registry.register("sse_clients", "Open event streams", metrics.clients.clone());
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "sse_events_published",
            "Events published",
            metrics.published.clone(),
        );
        registry.register(
            "sse_events_delivered",
            "Events written to client streams",
            metrics.delivered.clone(),
        );
        registry.register(
            "sse_clients_lagged",
            "Clients disconnected for falling too far behind",
            metrics.lagged.clone(),
        );
        registry.register(
            "sse_history_events",
            "Events a replay would offer now, over all topics",
            metrics.history.clone(),
        );
        registry.register(
            "sse_topics",
            "Topics held in memory: with subscribers or retained events",
            metrics.topics.clone(),
        );
        registry.register(
            "sse_connections",
            "Open connections of every kind, where the server counts them",
            metrics.connections.clone(),
        );
        registry.register(
            "sse_connections_refused",
            "Connections closed at once because --max-connections were open",
            metrics.connections_refused.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// The text exposition, with the gauges read at scrape time set first.
    pub(crate) fn render(&self, topics: usize, history: usize) -> String {
        self.topics.set(i64::try_from(topics).unwrap_or(i64::MAX));
        self.history.set(i64::try_from(history).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
