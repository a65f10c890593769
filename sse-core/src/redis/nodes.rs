//! Where the Redis of a deployment is: one server, or the nodes of a Redis
//! Cluster; and the command connection to it, whichever it is.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::error::RedisError;

/// One Redis server, or the nodes of a Redis Cluster.
#[derive(Debug, Clone)]
pub(super) enum Nodes {
    Standalone(redis::Client),
    Cluster {
        /// Routes each command to the master of its key's slot.
        client: Box<ClusterClient>,
        /// Each node given, for the Pub/Sub connection: a cluster sends
        /// every message published on any node to the subscribers of all.
        nodes: Vec<redis::Client>,
    },
}

impl Nodes {
    /// `urls`: one URL for a standalone server, several for the nodes of a
    /// cluster.
    pub(super) fn open(urls: &[&str]) -> Result<Self, RedisError> {
        match urls {
            [] => Err(RedisError::NoUrl),
            [url] => Ok(Self::Standalone(
                redis::Client::open(*url).map_err(RedisError::Url)?,
            )),
            several => Ok(Self::Cluster {
                client: Box::new(ClusterClient::new(several.to_vec()).map_err(RedisError::Url)?),
                nodes: several
                    .iter()
                    .map(|url| redis::Client::open(*url))
                    .collect::<Result<_, _>>()
                    .map_err(RedisError::Url)?,
            }),
        }
    }

    /// Whether these are a cluster's nodes, whose keys live in slots.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// The client to subscribe through on the `attempt`th try: the nodes
    /// of a cluster in turn, so that one node down does not stop the tail.
    pub(super) fn pubsub_client(&self, attempt: usize) -> &redis::Client {
        match self {
            Self::Standalone(client) => client,
            Self::Cluster { nodes, .. } => &nodes[attempt % nodes.len()],
        }
    }

    /// A command connection.
    pub(super) async fn connect(&self) -> redis::RedisResult<Connection> {
        match self {
            Self::Standalone(client) => client
                .get_multiplexed_async_connection()
                .await
                .map(Connection::Standalone),
            Self::Cluster { client, .. } => {
                client.get_async_connection().await.map(Connection::Cluster)
            }
        }
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
