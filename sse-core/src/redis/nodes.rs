//! Where the Redis of a deployment is: one server, the nodes of a Redis
//! Cluster, or a master that Sentinels watch; and the command connection
//! to it, whichever it is.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisFuture, TlsCertificates, Value,
};

use super::error::{RedisError, timed};
use crate::redis_tls::RedisTls;

mod sentinel;

pub(super) use sentinel::Sentinels;

/// One Redis server, the nodes of a Redis Cluster, or Sentinels.
#[derive(Debug, Clone)]
pub(super) enum Nodes {
    Standalone(Box<redis::Client>),
    Cluster {
        /// Routes each command to the master of its key's slot.
        client: Box<ClusterClient>,
        /// Each node given, for the Pub/Sub connection: a cluster sends
        /// every message published on any node to the subscribers of all.
        nodes: Vec<redis::Client>,
    },
    /// A master found through Sentinels, anew for each session.
    Sentinel(Box<Sentinels>),
}

impl Nodes {
    /// `urls`: one URL for a standalone server, several for the nodes of a
    /// cluster; with `sentinel_master`, the Sentinels' URLs. `tls` applies
    /// to `rediss://` URLs.
    pub(super) fn open(
        urls: &[&str],
        sentinel_master: Option<&str>,
        tls: &RedisTls,
        timeout: std::time::Duration,
    ) -> Result<Self, RedisError> {
        if urls.is_empty() {
            return Err(RedisError::NoUrl);
        }
        let certificates = certificates(urls, tls)?;
        let client = |url: &str| {
            match &certificates {
                Some(certificates) => redis::Client::build_with_tls(url, certificates.clone()),
                None => redis::Client::open(url),
            }
            .map_err(RedisError::Url)
        };
        if let Some(master) = sentinel_master {
            if master.is_empty() {
                return Err(RedisError::Config(
                    "the Sentinel master name is empty".into(),
                ));
            }
            let sentinels = urls
                .iter()
                .map(|url| client(url))
                .collect::<Result<_, _>>()?;
            return Ok(Self::Sentinel(Box::new(Sentinels::new(
                sentinels,
                master.to_owned(),
                certificates,
            ))));
        }
        match urls {
            [url] => Ok(Self::Standalone(Box::new(client(url)?))),
            several => {
                // Calls are bounded by the timeout where they are made;
                // `WAIT` takes up to the timeout itself, plus its answer.
                let mut builder = ClusterClientBuilder::new(several.to_vec())
                    .connection_timeout(timeout)
                    .response_timeout(timeout * 2);
                if let Some(certificates) = certificates.clone() {
                    builder = builder.certs(certificates);
                }
                Ok(Self::Cluster {
                    client: Box::new(builder.build().map_err(RedisError::Url)?),
                    nodes: several
                        .iter()
                        .map(|url| client(url))
                        .collect::<Result<_, _>>()?,
                })
            }
        }
    }

    /// Whether these are a cluster's nodes, whose keys live in slots.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// The server of a session, on its `attempt`th try: for its Pub/Sub
    /// connection, the nodes of a cluster in turn, so that one node down
    /// does not stop the tail; the master the Sentinels name now.
    pub(super) async fn session(
        &self,
        attempt: usize,
        within: std::time::Duration,
    ) -> Result<(redis::Client, Connection), RedisError> {
        match self {
            Self::Standalone(client) => {
                let connection = timed(
                    within,
                    client.get_multiplexed_async_connection_with_config(&config(within)),
                )
                .await?;
                Ok(((**client).clone(), Connection::Standalone(connection)))
            }
            Self::Cluster { client, nodes } => {
                let connection = timed(within, client.get_async_connection()).await?;
                Ok((
                    nodes[attempt % nodes.len()].clone(),
                    Connection::Cluster(connection),
                ))
            }
            Self::Sentinel(sentinels) => {
                let master = sentinels.master(within).await?;
                let connection = timed(
                    within,
                    master.get_multiplexed_async_connection_with_config(&config(within)),
                )
                .await?;
                Ok((master, Connection::Standalone(connection)))
            }
        }
    }
}

/// A command connection's settings: calls are bounded where they are
/// made (`WAIT` by the timeout it is given, plus its answer), not by the
/// `redis` crate's default of 500 ms for every answer.
fn config(within: std::time::Duration) -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(within))
        .set_response_timeout(Some(within * 2))
}

/// The certificates for `urls`, if `tls` gives any; an error if they
/// could not be used.
fn certificates(urls: &[&str], tls: &RedisTls) -> Result<Option<TlsCertificates>, RedisError> {
    if !tls.is_set() {
        return Ok(None);
    }
    let secure = |url: &&str| {
        url.into_connection_info()
            .is_ok_and(|info| matches!(info.addr(), ConnectionAddr::TcpTls { .. }))
    };
    if !urls.iter().all(secure) {
        return Err(RedisError::Config(
            "TLS certificates were given, but not every Redis URL is a rediss:// one".into(),
        ));
    }
    let client_tls = match (&tls.client_cert_pem, &tls.client_key_pem) {
        (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
            client_cert: cert.clone(),
            client_key: key.clone(),
        }),
        (None, None) => None,
        _ => {
            return Err(RedisError::Config(
                "a TLS client certificate needs its key, and a key its certificate".into(),
            ));
        }
    };
    install_crypto_provider();
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert: tls.ca_pem.clone(),
    }))
}

/// The `redis` crate builds its TLS settings with rustls's process-wide
/// provider: make it ring, which this crate's rustls is built with,
/// unless the application chose one.
pub(super) fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: that one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A command connection to a standalone server, or to a cluster (which
/// routes each command by its keys). Cheap to clone: clones share it.
#[derive(Clone)]
pub(super) enum Connection {
    Standalone(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Standalone(_) => "Connection::Standalone",
            Self::Cluster(_) => "Connection::Cluster",
        })
    }
}

impl Connection {
    /// Sends `command` to the master of `slot`, where keys live in slots;
    /// else to the one server.
    pub(super) async fn query_on_slot<T: redis::FromRedisValue>(
        &mut self,
        command: Cmd,
        slot: u16,
    ) -> redis::RedisResult<T> {
        use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
        match self {
            Self::Standalone(connection) => command.query_async(connection).await,
            Self::Cluster(connection) => {
                let route = Route::new(slot, SlotAddr::Master);
                let value = connection
                    .route_command(
                        command,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await?;
                redis::FromRedisValue::from_redis_value(value).map_err(Into::into)
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Standalone(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Standalone(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}
