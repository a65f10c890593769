#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod builder;
mod config;
mod driver;
mod error;
mod event;
mod source;
mod utf8;

pub use backoff::Backoff;
pub use builder::{EventSourceBuilder, client_builder};
pub use error::{Error, HeaderError};
pub use event::{Event, Message, Opened, Reason, Reconnecting};
pub use reqwest;
pub use source::EventSource;
pub use sse_hub::decode::{DEFAULT_MAX_EVENT_LEN, DEFAULT_MAX_LINE_LEN, DecodeError};
