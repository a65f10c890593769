//! The broker's metrics, rendered in the Prometheus text format by
//! `prometheus-client`, on their own
//! ([`Broker::render_metrics`](crate::broker::Broker::render_metrics)) or
//! in an application's own registry
//! ([`Broker::register_metrics`](crate::broker::Broker::register_metrics)).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The content type of [`Broker::render_metrics`](crate::broker::Broker::render_metrics)'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The broker's series. Two of them (topics held, events replay would
/// offer) are read when scraped; the rest count as things happen.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {
    pub(crate) clients: Gauge,
    pub(crate) published: Counter,
    pub(crate) delivered: Counter,
    pub(crate) lagged: Counter,
    history: Gauge,
    topics: Gauge,
    pub(crate) connections: Gauge,
    pub(crate) connections_refused: Counter,
    /// Present on a broker that mirrors Redis.
    pub(crate) redis: Option<RedisMetrics>,
}

/// The series of a broker that mirrors Redis.
#[derive(Debug, Clone, Default)]
pub(crate) struct RedisMetrics {
    /// 1 while the instance tails Redis and can publish, else 0.
    pub(crate) connected: Gauge,
    /// Connections to Redis made again after the last one was lost.
    pub(crate) reconnects: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The series of a broker that mirrors Redis, with `redis`'s too.
    #[cfg(feature = "redis")]
    pub(crate) fn with_redis(redis: RedisMetrics) -> Self {
        Self {
            redis: Some(redis),
            ..Self::default()
        }
    }

    /// Every series, with the scrape-time gauges set to `topics` and
    /// `history` first. Counters get their `_total` suffix from the
    /// encoder.
    pub(crate) fn encode(
        &self,
        topics: usize,
        history: usize,
        mut encoder: DescriptorEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        self.topics.set(i64::try_from(topics).unwrap_or(i64::MAX));
        self.history.set(i64::try_from(history).unwrap_or(i64::MAX));
        let series: [(&str, &str, &dyn EncodeMetric); 8] = [
            ("sse_clients", "Open event streams", &self.clients),
            ("sse_events_published", "Events published", &self.published),
            (
                "sse_events_delivered",
                "Events written to client streams",
                &self.delivered,
            ),
            (
                "sse_clients_lagged",
                "Clients disconnected for falling too far behind",
                &self.lagged,
            ),
            (
                "sse_history_events",
                "Events a replay would offer now, over all topics",
                &self.history,
            ),
            (
                "sse_topics",
                "Topics held in memory: with subscribers or retained events",
                &self.topics,
            ),
            (
                "sse_connections",
                "Open connections of every kind, where the server counts them",
                &self.connections,
            ),
            (
                "sse_connections_refused",
                "Connections closed at once because the connection limit was reached",
                &self.connections_refused,
            ),
        ];
        let redis = self.redis.as_ref().map(|redis| {
            [
                (
                    "sse_redis_connected",
                    "1 while this instance tails Redis and can publish, else 0",
                    &redis.connected as &dyn EncodeMetric,
                ),
                (
                    "sse_redis_reconnects",
                    "Connections to Redis made again after the last one was lost",
                    &redis.reconnects,
                ),
            ]
        });
        for (name, help, metric) in series.into_iter().chain(redis.into_iter().flatten()) {
            let metric_encoder =
                encoder.encode_descriptor(name, help, None, metric.metric_type())?;
            metric.encode(metric_encoder)?;
        }
        Ok(())
    }

    /// The text exposition of these series alone.
    pub(crate) fn render(&self, topics: usize, history: usize) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Snapshot {
            metrics: self.clone(),
            topics,
            history,
        }));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}

/// The series with the scrape-time gauges already read.
#[derive(Debug)]
struct Snapshot {
    metrics: Metrics,
    topics: usize,
    history: usize,
}

impl Collector for Snapshot {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        self.metrics.encode(self.topics, self.history, encoder)
    }
}
