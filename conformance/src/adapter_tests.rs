//! The adapter test suite as each adapter crate runs it: every check of
//! [`adapter`](crate::adapter) twice, with the hub in memory and on a
//! private `redis-server`, from the same test body. What a framework's
//! user sees must not depend on the engine under the hub.

use std::time::Duration;

use sse_hub::hub::{Hub, HubConfig, RedisConfig};

use crate::redis_server::RedisServer;

/// Which engine a test runs the hub on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// In this process's memory.
    Memory,
    /// On a private `redis-server` of the test's own.
    Redis,
}

/// What a test's hub runs on, kept for the test's length.
#[derive(Debug)]
pub struct Backend {
    redis: Option<RedisServer>,
}

/// How long a hub on Redis may take to connect.
const CONNECT: Duration = Duration::from_secs(10);

impl Backend {
    /// The backend of `engine` for `test`: `None` (after a notice) on
    /// Redis where `redis-server` is not installed and not required (see
    /// [`RedisServer::start`]).
    pub fn start(engine: Engine, test: &str) -> Option<Self> {
        let redis = match engine {
            Engine::Memory => None,
            Engine::Redis => Some(RedisServer::start(test)?),
        };
        Some(Self { redis })
    }

    /// A hub of the default configuration on `engine`, ready to publish,
    /// with its backend (keep it for the test's length); `None` as
    /// [`Backend::start`].
    pub async fn open_hub(engine: Engine, test: &str) -> Option<(Self, Hub)> {
        let backend = Self::start(engine, test)?;
        let hub = Hub::open(backend.config(HubConfig::default())).expect("a hub");
        backend.ready(&hub).await;
        Some((backend, hub))
    }

    /// The hub configuration `config` on this backend.
    pub fn config(&self, config: HubConfig) -> HubConfig {
        HubConfig {
            redis: self
                .redis
                .as_ref()
                .map(|server| RedisConfig::new(server.url())),
            ..config
        }
    }

    /// Waits until `hub` can publish.
    ///
    /// # Panics
    ///
    /// When it cannot within 10 seconds.
    pub async fn ready(&self, hub: &Hub) {
        assert!(
            hub.ready_within(CONNECT).await,
            "the hub was not ready within {CONNECT:?}"
        );
    }
}

/// The adapter test suite, for an adapter crate's `tests/adapter.rs`.
///
/// `serve` is an `async fn(Config, compress: bool) -> Server` that serves
/// the adapter's routes over a hub built from the config, plus a route at
/// `/id` answering `format!("{:?}", last_event_id)` through the adapter's
/// extractor, one at `/own` answering `Sse::new(own.events())` with
/// the adapter's `Sse`, and the routes once more under `/sse`. `with_compression` names the compression test, for
/// frameworks that have compression of their own.
///
/// Each check runs twice, in the modules `in_memory` and `on_redis`.
#[macro_export]
macro_rules! adapter_tests {
    (
        serve: $serve:ident,
        $(with_compression: $compression:ident,)?
    ) => {
        /// The checks with the hub in memory.
        mod in_memory {
            use super::*;
            $crate::adapter_checks!($serve, $crate::adapter_tests::Engine::Memory, $($compression)?);
        }

        /// The same checks with the hub on a private `redis-server`.
        mod on_redis {
            use super::*;
            $crate::adapter_checks!($serve, $crate::adapter_tests::Engine::Redis, $($compression)?);
        }
    };
}

/// The checks of [`adapter_tests!`] on one engine.
#[doc(hidden)]
#[macro_export]
macro_rules! adapter_checks {
    ($serve:ident, $engine:expr, $($compression:ident)?) => {
        $crate::adapter_checks!(@one $serve, $engine, response_headers_and_preamble, false,
            |server| $crate::adapter::response_headers_and_preamble(server).await);
        $crate::adapter_checks!(@one $serve, $engine, last_event_id_from_header_then_query, false,
            |server| {
                $crate::adapter::last_event_id_header_then_query(server).await?;
                $crate::adapter::last_event_id_extractor(server, "/id").await
            });
        $crate::adapter_checks!(@one $serve, $engine, notify_and_other_routes, false,
            |server| {
                $crate::adapter::notify_reads_the_body(server).await?;
                $crate::adapter::other_routes(server).await
            });
        $crate::adapter_checks!(@one $serve, $engine, flushes_each_event_at_once, false,
            |server| $crate::adapter::flushes_each_event_at_once(server).await);
        $crate::adapter_checks!(@one $serve, $engine, notices_disconnect, false,
            |server| $crate::adapter::notices_disconnect(server).await);
        $crate::adapter_checks!(@one $serve, $engine, nested_under_a_prefix, false,
            |server| $crate::adapter::nested_under_a_prefix(server).await);
        $crate::adapter_checks!(@one $serve, $engine, own_stream_flushes_each_event_at_once, false,
            |server| $crate::adapter::own_stream_flushes_each_event_at_once(server).await);
        $crate::adapter_checks!(@one $serve, $engine, bursts_arrive_whole_and_in_order, false,
            |server| $crate::adapter::bursts_arrive_whole_and_in_order(server).await);
        $crate::adapter_checks!(@one $serve, $engine, own_stream_ends_cleanly, false,
            |server| $crate::adapter::own_stream_ends_cleanly(server).await);
        $crate::adapter_checks!(@one $serve, $engine, own_stream_notices_disconnect, false,
            |server| $crate::adapter::own_stream_notices_disconnect(server).await);
        $(
            $crate::adapter_checks!(@one $serve, $engine, $compression, true,
                |server| {
                    $crate::adapter::compresses_other_responses(server).await?;
                    $crate::adapter::response_headers_and_preamble(server).await?;
                    $crate::adapter::flushes_each_event_at_once(server).await?;
                    $crate::adapter::own_stream_flushes_each_event_at_once(server).await
                });
        )?
    };
    (@one $serve:ident, $engine:expr, $name:ident, $compress:expr, |$server:ident| $check:expr) => {
        #[::tokio::test]
        async fn $name() {
            let Some(backend) = $crate::adapter_tests::Backend::start($engine, stringify!($name))
            else {
                return;
            };
            let server = $serve(backend.config(::sse_hub::HubConfig::default()), $compress).await;
            backend.ready(&server.hub).await;
            let $server = &server;
            let checked: ::std::result::Result<(), $crate::client::Error> = async { $check }.await;
            checked.unwrap();
        }
    };
}
