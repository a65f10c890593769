#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod extract;
mod response;
mod routes;

pub use extract::LastEventId;
pub use response::{HubResponse, Sse};
pub use routes::configure;

/// The hub's handlers one by one, each taking the [`Hub`] as
/// `web::Data<Hub>`.
pub mod handlers {
    pub use crate::routes::{
        events, healthz, history, index, metrics, notify, notify_batch, presence, readyz,
    };
}
pub use sse_hub;
pub use sse_hub::auth;
pub use sse_hub::broker::BrokerError;
pub use sse_hub::hub::{Presence, RedisConfig, stop_signals};
pub use sse_hub::{
    Broker, BrokerConfig, Event, EventError, EventId, Hub, HubConfig, KeepAlive, OpenError,
    PublishError, Published, ReadError, SseStream, Start,
};
