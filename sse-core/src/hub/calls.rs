//! What application code calls beyond publish and subscribe: batches,
//! ephemeral events, history and presence, in memory or through Redis.

use super::handle::Hub;
use crate::Event;
use crate::broker::{History, Publish, Published};
use crate::engine::{Presence, PublishError, ReadError};

impl Hub {
    /// Publishes `event` to `topic` for its live subscribers only: it gets
    /// an id, but no replay, rewind or history read ever returns it, and a
    /// client resuming after it is not told it lost anything. For typing
    /// indicators and cursor positions.
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// hub.publish_ephemeral("room-1", &Event::new("ada is typing")).await?;
    /// assert!(hub.history(["room-1"], None, 10).await?.events.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Hub::publish`].
    pub async fn publish_ephemeral(
        &self,
        topic: &str,
        event: &Event,
    ) -> Result<Published, PublishError> {
        self.engine
            .publish(Publish::new(topic, event).ephemeral())
            .await
    }

    /// Publishes `events` in order, as one step: in memory under
    /// consecutive ids, in Redis in one round trip per master, the events
    /// of one topic under increasing ids. Each event's answer, in order.
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig, broker::Publish};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let events: Vec<(String, Event)> = (1..=3)
    ///     .map(|user| (format!("user-{user}"), Event::new("your report is ready")))
    ///     .collect();
    /// let batch: Vec<Publish<'_>> = events.iter().map(|(topic, event)| Publish::new(topic, event)).collect();
    /// let published = hub.publish_batch(&batch).await?;
    /// assert_eq!(published.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Hub::publish`]. In a Redis Cluster, the events of the masters
    /// that answered are published even when another one failed.
    pub async fn publish_batch(
        &self,
        events: &[Publish<'_>],
    ) -> Result<Vec<Published>, PublishError> {
        self.engine.publish_batch(events).await
    }

    /// The retained events of `topics` without a stream, as `GET /history`
    /// answers them: after
    /// `after`, or the newest `limit` without it. In multi-instance mode
    /// an instance that does not follow a topic reads it from Redis.
    ///
    /// ```
    /// use sse_hub::{Event, Hub, HubConfig};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// hub.publish("news", &Event::new("first")).await?;
    /// // A page's first screen: the newest 20.
    /// let page = hub.history(["news"], None, 20).await?;
    /// assert_eq!(page.events[0].data, "first");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// No topics ([`ReadError::broker_error`] tells); in multi-instance
    /// mode, Redis unreachable.
    pub async fn history<I, S>(
        &self,
        topics: I,
        after: Option<&str>,
        limit: usize,
    ) -> Result<History, ReadError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let topics: Vec<String> = topics.into_iter().map(|t| t.as_ref().to_owned()).collect();
        self.engine.history(&topics, after, limit).await
    }

    /// How many open streams follow each of `topics`: on this instance in
    /// memory mode, over all instances in multi-instance mode (where a
    /// stream that opens or ends is counted within 2 seconds).
    ///
    /// ```
    /// use sse_hub::{Hub, HubConfig};
    ///
    /// # futures::executor::block_on(async {
    /// let hub = Hub::open(HubConfig::default())?;
    /// let _stream = hub.subscribe(["room-1"], None).await;
    /// let presence = hub.presence(["room-1", "room-2"]).await?;
    /// assert_eq!((presence["room-1"], presence["room-2"]), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// In multi-instance mode, Redis unreachable.
    pub async fn presence<I, S>(&self, topics: I) -> Result<Presence, ReadError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let topics: Vec<String> = topics.into_iter().map(|t| t.as_ref().to_owned()).collect();
        self.engine.presence(&topics).await
    }
}
