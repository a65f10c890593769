//! The broker: topics, fan-out, replay by last event id, slow clients,
//! and shutdown, for any framework that can stream `Bytes` (keep-alives
//! come from [`SseStream`](crate::stream::SseStream), which wraps a
//! subscription).
//!
//! Each topic has its own bounded log, which is both its replay history and
//! its fan-out buffer, behind a lock of its own: each publish encodes its
//! event once, under the next id, and appends the frame to its topic's log;
//! each client keeps a cursor into the log of each of its topics. Replay is
//! starting the cursors further back, so there is no separate replay phase
//! that could race with live publishes: no gap and no duplicate at the
//! seam, by construction. Topics never wait for each other, and one
//! topic's traffic never evicts another's events nor counts against
//! another's subscribers.
//!
//! # Invariants
//!
//! - **Ids.** One counter for the whole broker, seeded from the wall
//!   clock, so ids are unique, increase in publish order and keep
//!   increasing across restarts. A publish takes its id *while holding its
//!   topic's lock* and appends before releasing it, so each log is in id
//!   order and an id, once visible in a log, is smaller than every id that
//!   topic will get later. A mirror of Redis instead takes each topic's
//!   ids from Redis, a sequence per topic, and a client of several of its
//!   topics carries a cursor per topic in its ids (see
//!   `sse_hub::redis`, "Resume").
//! - **Cursor.** For each of its topics, a client's cursor is an id such
//!   that every frame of that topic up to it was sent to the client (or,
//!   after a reset, given up on). Reading sends the frames after the
//!   cursors and moves each cursor to its topic's newest id.
//! - **Order.** A client of several topics reads them holding all their
//!   locks at once (taken in name order, so no two clients deadlock). A
//!   publish to any of them is then wholly before the read or wholly
//!   after it, and one after it takes an id larger than every id the read
//!   saw; so merging the topics' frames by id at each read gives one
//!   strictly increasing sequence across reads, with nothing skipped.
//! - **Lag.** A client lags when more than `client_buffer` events of *its*
//!   topics wait for it and it has not read for a turn of 100 ms (counted
//!   from its last read, or from its wake-up if it was waiting), or when
//!   a frame of one of its topics after its cursor was evicted before it
//!   was sent (that topic's floor passed its cursor). What the server
//!   holds back never counts: within its turn only the log bounds a
//!   client, since the server may not have run its task yet (a burst
//!   published in a loop, a busy runtime); and a client away with a chunk
//!   is woken once half its buffer is used, so that a stream holding
//!   events for a coalescing window takes them
//!   ([`SseStream::coalesce`](crate::stream::SseStream::coalesce)). A
//!   client that stopped reading is cut at the first publish past its
//!   buffer once its turn is over. A lagging stream ends; other topics'
//!   traffic never makes a client lag.
//! - **Retention.** Each topic keeps its newest `history` events for
//!   replay, as long as they are younger than `history_ttl`; while it has
//!   subscribers it also keeps its newest `client_buffer` events whatever
//!   their age, so that a client within its buffer never misses one.
//!   Publishes evict their own topic's old events; a sweep at most every
//!   `history_ttl` (clamped to 1–60 s) evicts expired events of topics
//!   nobody publishes to.
//! - **Reset.** A last event id is honoured when it is a decimal id no
//!   newer than the newest id issued and, for every subscribed topic, no
//!   event of that topic after it is gone (evicted, expired for replay, or
//!   from before the broker started). Otherwise the stream is a reset: it
//!   replays everything its topics retain, oldest first.
//! - **Memory.** A topic with no subscribers and nothing retained is
//!   forgotten: it costs nothing. Its floor (the newest id it lost) is
//!   folded into one broker-wide bound that a topic created later starts
//!   from, so resuming a forgotten topic can reset where it strictly need
//!   not, but never replays wrongly. Retained frames are bounded by
//!   `max(history, client_buffer)` per subscribed topic and `history` per
//!   other topic, and only for `history_ttl` plus one sweep interval once a
//!   topic is unsubscribed: at most `topics × max(history, client_buffer)`
//!   frames, and in practice what was published within the TTL. Each
//!   frame exists once, shared as `Bytes` by every client it is sent to.
//!
//! ```
//! use futures::StreamExt;
//! use sse_hub::{Event, broker::{Broker, BrokerConfig}};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let broker = Broker::new(BrokerConfig::default());
//! let mut stream = broker.subscribe(["news"], None)?;
//! let published = broker.publish("news", &Event::new("hello"))?;
//! assert_eq!(published.sent, 1);
//! let chunk = stream.next().await.unwrap();
//! assert_eq!(chunk, format!("id: {}\ndata: hello\n\n", published.id));
//! # Ok::<(), sse_hub::broker::BrokerError>(())
//! # }).unwrap();
//! ```

mod client;
mod config;
mod drain;
mod handle;
mod history;
pub(crate) mod ids;
mod log;
mod shared;
mod topic;

pub use client::{ClientStream, Ended};
pub use config::{
    BrokerConfig, BrokerError, History, HistoryEvent, Publish, Published, Start, Stats,
};
pub use handle::Broker;
pub use ids::EventId;
#[cfg(feature = "redis")]
pub(crate) use shared::Mirrored;
#[cfg(test)]
pub(crate) use topic::TURN;

#[cfg(test)]
mod backlog_tests;
#[cfg(test)]
mod drain_tests;
#[cfg(test)]
mod ephemeral_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod topic_tests;
