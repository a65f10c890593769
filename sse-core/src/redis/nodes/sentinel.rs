//! Finding the master through Redis Sentinel, as Sentinel's guidelines
//! for clients describe: ask each sentinel in turn for the master's
//! address (`SENTINEL GET-MASTER-ADDR-BY-NAME`), then ask that server
//! whether it is the master (`ROLE`), since a sentinel may still name the
//! old one in the middle of a failover.
//!
//! Written here rather than taken from the `redis` crate's `sentinel`
//! module, whose clients for the master are built without the client
//! certificate, and which answers "not found" both for a name that no
//! sentinel knows (a mistake to stop at) and for a master that is down
//! (a failover to wait out).

use std::time::Duration;

use redis::{ConnectionAddr, TlsCertificates};

use crate::redis::error::{RedisError, timed};

/// The sentinels of one master.
#[derive(Debug, Clone)]
pub(in crate::redis) struct Sentinels {
    sentinels: Vec<redis::Client>,
    master: String,
    certificates: Option<TlsCertificates>,
}

/// What one sentinel said.
enum Answer {
    /// The master is there, as far as it knows.
    Master(String, u16),
    /// It watches no master of this name.
    Unknown,
}

impl Sentinels {
    pub(super) fn new(
        sentinels: Vec<redis::Client>,
        master: String,
        certificates: Option<TlsCertificates>,
    ) -> Self {
        Self {
            sentinels,
            master,
            certificates,
        }
    }

    /// A client of the master as the sentinels name it now, once it says
    /// it is the master; each sentinel and server gets `within`.
    pub(in crate::redis) async fn master(
        &self,
        within: Duration,
    ) -> Result<redis::Client, RedisError> {
        let mut answered = false;
        let mut last: Option<RedisError> = None;
        for sentinel in &self.sentinels {
            match timed(within, ask(sentinel, &self.master)).await {
                Ok(Answer::Master(host, port)) => {
                    answered = true;
                    let client = self.client_of(sentinel, host, port)?;
                    match timed(within, is_master(&client)).await {
                        Ok(true) => return Ok(client),
                        Ok(false) => {
                            last = Some(RedisError::Unavailable(format!(
                                "the server the sentinels name for {:?} is not a master (yet)",
                                self.master
                            )));
                        }
                        Err(err) if err.is_refusal() => return Err(err),
                        Err(err) => last = Some(err),
                    }
                }
                Ok(Answer::Unknown) => answered = true,
                Err(err) if err.is_refusal() => return Err(err),
                Err(err) => last = Some(err),
            }
        }
        match last {
            Some(err) => Err(err),
            None if answered => Err(RedisError::Refused(format!(
                "no sentinel knows a master named {:?}: check the name against `SENTINEL MASTERS`",
                self.master
            ))),
            None => Err(RedisError::NoUrl),
        }
    }

    /// A client of the server at `host:port`, with the credentials and
    /// TLS settings of `sentinel`'s URL.
    fn client_of(
        &self,
        sentinel: &redis::Client,
        host: String,
        port: u16,
    ) -> Result<redis::Client, RedisError> {
        let info = sentinel.get_connection_info().clone();
        let addr = match info.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: *insecure,
                tls_params: None,
            },
            _ => ConnectionAddr::Tcp(host, port),
        };
        let info = info.set_addr(addr);
        match &self.certificates {
            Some(certificates) => redis::Client::build_with_tls(info, certificates.clone()),
            None => redis::Client::open(info),
        }
        .map_err(RedisError::Url)
    }
}

/// Where `sentinel` says the master named `name` is.
async fn ask(sentinel: &redis::Client, name: &str) -> redis::RedisResult<Answer> {
    let mut connection = sentinel.get_multiplexed_async_connection().await?;
    let address: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(name)
        .query_async(&mut connection)
        .await?;
    Ok(match address {
        Some((host, port)) => Answer::Master(host, port),
        None => Answer::Unknown,
    })
}

/// Whether the server of `client` says it is a master.
async fn is_master(client: &redis::Client) -> redis::RedisResult<bool> {
    let mut connection = client.get_multiplexed_async_connection().await?;
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut connection).await?;
    Ok(matches!(
        role.first(),
        Some(redis::Value::BulkString(kind)) if kind == b"master"
    ))
}
