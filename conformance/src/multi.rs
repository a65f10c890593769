//! Multi-instance checks: two instances of one framework's server on one
//! private `redis-server`, or on a private Redis Cluster of three masters
//! (see [`crate::redis_server`]), talked to over HTTP only, as a load
//! balancer without sticky sessions would spread clients over them.

use std::time::Duration;

use crate::client::{Error, EventStream, http_client, notify};
use crate::launch::{Running, Target, start_nginx};
use crate::redis_server::{RedisCluster, RedisServer};
use crate::support::{Check, ensure, metric, publish, readyz, subscribe};

/// How long Redis may take to come back into use after a restart: the
/// tail's backoff is at most 5 s.
const RECOVERY: Duration = Duration::from_secs(15);

/// The multi-instance checks, in the order a report lists them.
pub const MULTI_INSTANCE_CHECKS: &[Check] = &[
    (
        "multi-instance: both deliver every event once, each topic in order; ids resume anywhere",
        |t| Box::pin(delivery(t)),
    ),
    (
        "multi-instance: resume on the other instance with exactly what was missed",
        |t| Box::pin(resume_elsewhere(t)),
    ),
    (
        "multi-instance: history survives an instance restart",
        |t| Box::pin(restart(t)),
    ),
    (
        "multi-instance: reset for unparsable, future and trimmed ids",
        |t| Box::pin(reset(t)),
    ),
    (
        "multi-instance: Redis down answers 503 (and /readyz 503), streams stay open, publishing comes back",
        |t| Box::pin(redis_down(t)),
    ),
    (
        "multi-instance: over TLS with client certificates, as the README's minimal ACL user",
        |t| Box::pin(crate::secure_redis::tls_acl(t)),
    ),
    (
        "multi-instance: batches and ephemeral events reach both; an ephemeral id resumes anywhere",
        |t| Box::pin(batch_and_ephemeral(t)),
    ),
    (
        "multi-instance: idempotency keys shared, 50 concurrent over both publish once",
        |t| Box::pin(shared_keys(t)),
    ),
    (
        "multi-instance: history read on the instance that follows nothing",
        |t| Box::pin(history_elsewhere(t)),
    ),
    (
        "multi-instance: presence counts both instances' streams within 2 s",
        |t| Box::pin(presence_over_both(t)),
    ),
    (
        "multi-instance: drain: readiness first, new streams 503, each stream a retry: and its end within the window, /notify on",
        |t| Box::pin(crate::drain::drain_on_redis(t)),
    ),
    (
        "multi-instance: drain: a second signal ends it at once",
        |t| Box::pin(crate::drain::second_signal_on_redis(t)),
    ),
];

/// The multi-instance checks on a Redis Cluster of three masters.
pub const CLUSTER_CHECKS: &[Check] = &[
    (
        "cluster: both deliver every event once, each topic in order; ids resume anywhere",
        |t| Box::pin(delivery_on(t, Backing::Cluster)),
    ),
    (
        "cluster: resume on the other instance with exactly what was missed",
        |t| Box::pin(resume_elsewhere_on(t, Backing::Cluster)),
    ),
    ("cluster: history survives an instance restart", |t| {
        Box::pin(restart_on(t, Backing::Cluster))
    }),
    (
        "cluster: reset for unparsable, future and trimmed ids",
        |t| Box::pin(reset_on(t, Backing::Cluster)),
    ),
    (
        "cluster: a topic's master down answers 503, streams stay open, publishing comes back",
        |t| Box::pin(master_down(t)),
    ),
    (
        "cluster: batches, ephemeral events, shared keys, history and presence over both",
        |t| Box::pin(features_on_cluster(t)),
    ),
];

/// The checks of the two-instance nginx configuration, on one Redis and on
/// a Redis Cluster, run by `cargo xtask conformance --via-nginx`.
pub const BEHIND_NGINX: &[Check] = &[
    (
        "multi-instance: two instances behind nginx, no sticky sessions",
        |t| Box::pin(behind_nginx(t, Backing::Server)),
    ),
    (
        "cluster: two instances behind nginx, no sticky sessions",
        |t| Box::pin(behind_nginx(t, Backing::Cluster)),
    ),
];

/// Whether the checks can run here: `redis-server` is installed, or
/// `SSE_REQUIRE_REDIS=1` makes its absence a failure (see
/// [`RedisServer::start`]).
pub fn redis_available(test: &str) -> bool {
    RedisServer::start(test).is_some()
}

fn redis() -> Result<RedisServer, Error> {
    RedisServer::start("multi-instance check")
        .ok_or_else(|| "redis-server is not installed (apt-get install redis-server)".into())
}

/// Which Redis the instances of a check share.
#[derive(Debug, Clone, Copy)]
enum Backing {
    Server,
    Cluster,
}

/// A running [`Backing`], kept for the length of a check.
enum Deployment {
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl Deployment {
    fn start(backing: Backing) -> Result<Self, Error> {
        match backing {
            Backing::Server => redis().map(Self::Server),
            Backing::Cluster => RedisCluster::start("cluster check", 3)
                .map(Self::Cluster)
                .ok_or_else(|| {
                    "redis-server is not installed (apt-get install redis-server)".into()
                }),
        }
    }

    /// The servers' `--redis` options: one URL, or one per node.
    fn options(&self) -> Vec<String> {
        match self {
            Self::Server(server) => redis_options(vec![server.url()]),
            Self::Cluster(cluster) => redis_options(cluster.urls()),
        }
    }
}

/// `--redis URL` for each of `urls`.
fn redis_options(urls: Vec<String>) -> Vec<String> {
    urls.into_iter()
        .flat_map(|url| ["--redis".to_owned(), url])
        .collect()
}

/// Two instances of `target` on a new `backing`, started with `extra`
/// options too; the deployment lives as long as it is kept.
async fn two_instances(
    target: &Target,
    backing: Backing,
    extra: &[&str],
) -> Result<(Deployment, Running, Running), Error> {
    let redis = Deployment::start(backing)?;
    let options = redis.options();
    let a = target.start(&with_redis(&options, extra)).await?;
    let b = target.start(&with_redis(&options, extra)).await?;
    Ok((redis, a, b))
}

/// `extra` after `deployment`'s `--redis` options.
fn with_redis<'a>(options: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    options
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}

/// `<ms>-<seq>` as a pair, to compare ids as Redis orders them.
fn order(id: &str) -> Result<(u64, u64), Error> {
    let parse = || {
        let (ms, seq) = id.split_once('-')?;
        Some((ms.parse().ok()?, seq.parse().ok()?))
    };
    parse().ok_or_else(|| format!("{id:?} is not a Redis id"))
}

/// The next `count` events: (id, data).
async fn events(stream: &mut EventStream, count: usize) -> Result<Vec<(String, String)>, Error> {
    let mut events = Vec::with_capacity(count);
    for _ in 0..count {
        let event = stream.next_event().await?;
        events.push((event.last_event_id().to_owned(), event.data().to_owned()));
    }
    Ok(events)
}

async fn delivery(target: &Target) -> Result<(), Error> {
    delivery_on(target, Backing::Server).await
}

/// The data of `seen` that start with `topic`, in the order they came.
fn of_topic<'a>(seen: &'a [(String, String)], topic: &str) -> Vec<&'a str> {
    let prefix = format!("\"{topic}");
    seen.iter()
        .map(|(_, data)| data.as_str())
        .filter(|data| data.starts_with(&prefix))
        .collect()
}

async fn delivery_on(target: &Target, backing: Backing) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, backing, &[]).await?;
    let mut on_a = subscribe(&a.base, "?topic=x&topic=y", &[]).await?;
    let mut on_b = subscribe(&b.base, "?topic=x&topic=y", &[]).await?;
    publish(&a.base, "topic=nobody", "\"alone\"").await?;
    const EACH: usize = 20;
    let publish_all = |base: String, topic: &'static str| async move {
        let mut ids = Vec::new();
        for i in 0..EACH {
            ids.push(publish(&base, &format!("topic={topic}"), &format!("\"{topic}{i}\"")).await?);
        }
        Ok::<_, Error>(ids)
    };
    // Each instance takes the publishes of one topic, at the same moment.
    let (from_a, from_b) = tokio::join!(
        publish_all(a.base.clone(), "x"),
        publish_all(b.base.clone(), "y")
    );
    let published: Vec<String> = from_a?.into_iter().chain(from_b?).collect();
    let seen_a = events(&mut on_a, 2 * EACH).await?;
    let seen_b = events(&mut on_b, 2 * EACH).await?;
    for (seen, on) in [(&seen_a, "A"), (&seen_b, "B")] {
        for topic in ["x", "y"] {
            let expected: Vec<String> = (0..EACH).map(|i| format!("\"{topic}{i}\"")).collect();
            ensure(of_topic(seen, topic) == expected, || {
                format!(
                    "{topic} on {on}: {:?}, published {expected:?}",
                    of_topic(seen, topic)
                )
            })?;
        }
        let mut ids: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ensure(ids.len() == seen.len() && !ids.contains(&""), || {
            format!("every event needs an id of its own: {seen:?}")
        })?;
    }
    // A topic's ids increase in publish order (those of different topics
    // need not be comparable).
    for ids in published.chunks(EACH) {
        for pair in ids.windows(2) {
            ensure(order(&pair[0])? < order(&pair[1])?, || {
                format!("a topic's ids not strictly increasing: {ids:?}")
            })?;
        }
    }
    // A's id after its 25th event resumes the stream on B with the rest.
    let (cut, _) = &seen_a[24];
    let mut resumed = subscribe(&b.base, "?topic=x&topic=y", &[("last-event-id", cut)]).await?;
    let rest = events(&mut resumed, 2 * EACH - 25).await?;
    for topic in ["x", "y"] {
        ensure(
            of_topic(&rest, topic) == of_topic(&seen_a[25..], topic),
            || {
                format!(
                    "resumed on B after {cut}: {rest:?}, missed {:?}",
                    &seen_a[25..]
                )
            },
        )?;
    }
    // `sent` counts the subscribers of the instance that took the publish:
    // B's one, not A's.
    let (status, body) = notify(&http_client(), &b.base, "topic=x", "\"count\"").await?;
    let answer: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    ensure(status == 200 && answer["sent"] == 2, || {
        format!("publish on B with two subscribers there: {status} {body}")
    })?;
    // A topic nobody follows (published to first) costs neither
    // instance a topic.
    for (instance, on) in [(&a, "A"), (&b, "B")] {
        let topics = metric(&instance.base, "sse_topics").await?;
        ensure(topics == 2.0, || {
            format!("{on} holds {topics} topics; its clients follow 2")
        })?;
    }
    Ok(())
}

async fn resume_elsewhere(target: &Target) -> Result<(), Error> {
    resume_elsewhere_on(target, Backing::Server).await
}

async fn resume_elsewhere_on(target: &Target, backing: Backing) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, backing, &[]).await?;
    let mut on_a = subscribe(&a.base, "?topic=r", &[]).await?;
    for i in 0..3 {
        publish(&a.base, "topic=r", &i.to_string()).await?;
    }
    let seen = events(&mut on_a, 3).await?;
    drop(on_a);
    // At once on B, with the id A just sent: B may be a moment behind.
    let last = seen[2].0.clone();
    let mut on_b = subscribe(&b.base, "?topic=r", &[("last-event-id", &last)]).await?;
    let live = publish(&a.base, "topic=r", "\"live\"").await?;
    let next = events(&mut on_b, 1).await?;
    ensure(next == [(live.clone(), "\"live\"".into())], || {
        format!("after {last} B sent {next:?}, expected only {live}")
    })?;
    drop(on_b);
    // Events published on B while the client was away are replayed by A.
    let mut missed = Vec::new();
    for i in 3..5 {
        missed.push((
            publish(&b.base, "topic=r", &i.to_string()).await?,
            i.to_string(),
        ));
    }
    let mut back = subscribe(&a.base, "?topic=r", &[("last-event-id", &live)]).await?;
    let replayed = events(&mut back, 2).await?;
    ensure(replayed == missed, || {
        format!("replayed {replayed:?}, missed {missed:?}")
    })
}

async fn restart(target: &Target) -> Result<(), Error> {
    restart_on(target, Backing::Server).await
}

async fn restart_on(target: &Target, backing: Backing) -> Result<(), Error> {
    let redis = Deployment::start(backing)?;
    let options = redis.options();
    let first = target.start(&with_redis(&options, &[])).await?;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(publish(&first.base, "topic=h", &i.to_string()).await?);
    }
    drop(first);
    let again = target.start(&with_redis(&options, &[])).await?;
    let mut stream = subscribe(&again.base, "?topic=h", &[("last-event-id", &ids[0])]).await?;
    let replayed = events(&mut stream, 2).await?;
    let expected: Vec<(String, String)> = ids[1..]
        .iter()
        .cloned()
        .zip(["1".to_owned(), "2".to_owned()])
        .collect();
    ensure(replayed == expected, || {
        format!("after a restart, replayed {replayed:?} instead of {expected:?}")
    })
}

async fn reset(target: &Target) -> Result<(), Error> {
    reset_on(target, Backing::Server).await
}

async fn reset_on(target: &Target, backing: Backing) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, backing, &["--history", "3"]).await?;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(publish(&a.base, "topic=r", &i.to_string()).await?);
    }
    let retained: Vec<(String, String)> = ids[2..]
        .iter()
        .cloned()
        .zip(["2", "3", "4"].map(str::to_owned))
        .collect();
    for given in ["garbage", "12345", "99999999999999-0", ids[0].as_str()] {
        let mut stream = subscribe(&b.base, "?topic=r", &[("last-event-id", given)]).await?;
        let reset = stream.next_event().await?;
        ensure(
            reset.event() == "reset" && reset.last_event_id().is_empty(),
            || format!("{given}: expected reset, got {reset:?}"),
        )?;
        // The newest may come live rather than replayed: the same events.
        let replayed = events(&mut stream, 3).await?;
        ensure(replayed == retained, || {
            format!("{given}: replayed {replayed:?} instead of {retained:?}")
        })?;
    }
    Ok(())
}

/// Waits until the server's `sse_redis_connected` is `up`.
async fn redis_connected(base: &str, up: bool) -> Result<(), Error> {
    let want = f64::from(u8::from(up));
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        if metric(base, "sse_redis_connected").await? == want {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "sse_redis_connected was not {want} within {RECOVERY:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stream of topic `d` on each of `a` and `b`, both past a first event
/// published on `a`.
async fn streams_on_both(a: &Running, b: &Running) -> Result<(EventStream, EventStream), Error> {
    let mut on_a = subscribe(&a.base, "?topic=d", &[]).await?;
    let mut on_b = subscribe(&b.base, "?topic=d", &[]).await?;
    publish(&a.base, "topic=d", "\"before\"").await?;
    for stream in [&mut on_a, &mut on_b] {
        let got = events(stream, 1).await?;
        ensure(got[0].1 == "\"before\"", || format!("got {got:?}"))?;
    }
    Ok((on_a, on_b))
}

async fn redis_down(target: &Target) -> Result<(), Error> {
    let mut redis = redis()?;
    let url = redis.url();
    let a = target.start(&["--redis", &url]).await?;
    let b = target.start(&["--redis", &url]).await?;
    let (mut on_a, mut on_b) = streams_on_both(&a, &b).await?;

    redis.stop();
    redis_connected(&a.base, false).await?;
    let (status, body) = notify(&http_client(), &a.base, "topic=d", "\"lost\"").await?;
    ensure(status == 503, || {
        format!("publish while Redis is down: {status} {body}")
    })?;
    let error: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    ensure(error["error"].is_string(), || {
        format!("no JSON error: {body}")
    })?;
    ensure(
        on_a.ends_within(Duration::from_millis(300)).await.is_err(),
        || "a stream ended when Redis went down".into(),
    )?;
    let (status, body) = readyz(&a.base).await?;
    ensure(status == 503 && body.contains("Redis"), || {
        format!("/readyz while Redis is down: {status} {body}")
    })?;

    redis.restart();
    redis_connected(&a.base, true).await?;
    redis_connected(&b.base, true).await?;
    ensure(
        metric(&a.base, "sse_redis_reconnects_total").await? >= 1.0,
        || "the reconnect was not counted".into(),
    )?;
    let (status, body) = readyz(&a.base).await?;
    ensure(status == 200, || {
        format!("/readyz once Redis is back: {status} {body}")
    })?;
    publish(&a.base, "topic=d", "\"after\"").await?;
    for stream in [&mut on_a, &mut on_b] {
        let got = events(stream, 1).await?;
        ensure(got[0].1 == "\"after\"", || {
            format!("after Redis came back, the open stream got {got:?}")
        })?;
    }
    Ok(())
}

/// On a cluster, the master of the topic's key (`sse:{d}` with the
/// default prefix) goes down: publishes answer `503` while open
/// streams stay open, and publishing comes back when the master does.
async fn master_down(target: &Target) -> Result<(), Error> {
    let Deployment::Cluster(mut cluster) = Deployment::start(Backing::Cluster)? else {
        return Err("a cluster check started no cluster".into());
    };
    let options = redis_options(cluster.urls());
    let a = target.start(&with_redis(&options, &[])).await?;
    let b = target.start(&with_redis(&options, &[])).await?;
    let (mut on_a, mut on_b) = streams_on_both(&a, &b).await?;

    let master = cluster
        .node_serving("sse:{d}")
        .ok_or("no master serves the topic's key")?;
    cluster.nodes_mut()[master].stop();
    let (status, body) = notify(&http_client(), &a.base, "topic=d", "\"lost\"").await?;
    ensure(status == 503, || {
        format!("publish while the keys' master is down: {status} {body}")
    })?;
    ensure(
        on_a.ends_within(Duration::from_millis(300)).await.is_err(),
        || "a stream ended when a master went down".into(),
    )?;

    cluster.nodes_mut()[master].restart();
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        let (status, body) = notify(&http_client(), &b.base, "topic=d", "\"after\"").await?;
        if status == 200 {
            break;
        }
        ensure(tokio::time::Instant::now() < deadline, || {
            format!("publishing did not come back within {RECOVERY:?}: {status} {body}")
        })?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for stream in [&mut on_a, &mut on_b] {
        // An attempt that timed out as the master came back may have been
        // stored too: it comes before "after", never after it.
        let mut got = events(stream, 1).await?;
        while got.last().is_some_and(|(_, data)| data != "\"after\"") {
            ensure(got.len() < 20, || format!("\"after\" never came: {got:?}"))?;
            got.extend(events(stream, 1).await?);
        }
    }
    Ok(())
}

/// Clients and publishers reach two instances only through nginx
/// (`examples/deploy/nginx-redis.conf`), round-robin: every event reaches
/// every stream, and resuming replays exactly what was missed whichever
/// instance answers.
async fn behind_nginx(target: &Target, backing: Backing) -> Result<(), Error> {
    let template = target
        .nginx_config
        .as_ref()
        .and_then(|config| config.parent())
        .map(|dir| dir.join("nginx-redis.conf"))
        .ok_or("no nginx configuration to find nginx-redis.conf beside")?;
    let direct = Target {
        nginx_config: None,
        ..target.clone()
    };
    let (_redis, a, b) = two_instances(&direct, backing, &[]).await?;
    let upstreams = [
        a.base.trim_start_matches("http://"),
        b.base.trim_start_matches("http://"),
    ];
    let (_nginx, base) = start_nginx(&template, &upstreams).await?;
    // Two streams: nginx sends them to different instances.
    let mut first = subscribe(&base, "?topic=n", &[]).await?;
    let mut second = subscribe(&base, "?topic=n", &[]).await?;
    let mut published = Vec::new();
    for i in 0..4 {
        published.push((
            publish(&base, "topic=n", &i.to_string()).await?,
            i.to_string(),
        ));
    }
    for stream in [&mut first, &mut second] {
        let got = events(stream, 4).await?;
        ensure(got == published, || {
            format!("through nginx a stream got {got:?}, published {published:?}")
        })?;
    }
    // Each resume may land on either instance: each replays the same.
    for _ in 0..4 {
        let mut resumed =
            subscribe(&base, "?topic=n", &[("last-event-id", &published[1].0)]).await?;
        let replayed = events(&mut resumed, 2).await?;
        ensure(replayed == published[2..], || {
            format!("resumed through nginx: {replayed:?}")
        })?;
    }
    Ok(())
}

/// The checks of the features beyond publish and subscribe, on one
/// cluster with two instances: topics spread over the masters.
async fn features_on_cluster(target: &Target) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, Backing::Cluster, &["--history", "3"]).await?;
    ephemeral_over(&a, &b).await?;
    crate::features::idempotency_on(&a.base, &b.base).await?;
    crate::features::history_on(&a.base, &b.base).await?;
    crate::features::presence_on(&a.base, &b.base).await
}

async fn shared_keys(target: &Target) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, Backing::Server, &[]).await?;
    crate::features::idempotency_on(&a.base, &b.base).await
}

async fn history_elsewhere(target: &Target) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, Backing::Server, &["--history", "3"]).await?;
    crate::features::history_on(&a.base, &b.base).await
}

async fn presence_over_both(target: &Target) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, Backing::Server, &[]).await?;
    crate::features::presence_on(&a.base, &b.base).await
}

/// A batch with an ephemeral item published on one instance reaches the
/// streams of both in order; resuming on the other instance with the
/// ephemeral event's id is no reset, and replays only what followed.
async fn batch_and_ephemeral(target: &Target) -> Result<(), Error> {
    let (_redis, a, b) = two_instances(target, Backing::Server, &[]).await?;
    ephemeral_over(&a, &b).await
}

/// [`batch_and_ephemeral`] on running instances.
async fn ephemeral_over(a: &Running, b: &Running) -> Result<(), Error> {
    let mut on_a = subscribe(&a.base, "?topic=room", &[]).await?;
    let mut on_b = subscribe(&b.base, "?topic=room", &[]).await?;
    let body = r#"[{"topic": "room", "data": 1}, {"topic": "room", "data": 2, "history": false},
                   {"topic": "room", "data": 3}]"#;
    let published = crate::features::post(&a.base, "/notify/batch", body, &[]).await?;
    ensure(published.status == 200, || {
        format!("the batch answered {} {}", published.status, published.body)
    })?;
    let ids = crate::features::batch_ids(&published.body);
    ensure(ids.len() == 3, || {
        format!("the batch answered {}", published.body)
    })?;
    let mut orders = Vec::new();
    for id in &ids {
        orders.push(order(id)?);
    }
    ensure(orders.windows(2).all(|w| w[0] < w[1]), || {
        format!("ids not increasing in batch order: {ids:?}")
    })?;
    for stream in [&mut on_a, &mut on_b] {
        let got = events(stream, 3).await?;
        let want: Vec<(String, String)> = ids
            .iter()
            .zip(["1", "2", "3"])
            .map(|(id, data)| (id.clone(), data.to_owned()))
            .collect();
        ensure(got == want, || {
            format!("a stream got {got:?}, expected {want:?}")
        })?;
    }
    drop((on_a, on_b));
    let mut resumed = subscribe(&b.base, "?topic=room", &[("last-event-id", &ids[1])]).await?;
    let event = resumed.next_event().await?;
    ensure(
        event.event() != "reset" && event.last_event_id() == ids[2],
        || {
            format!(
                "resuming with the ephemeral id gave {event:?}, expected {}",
                ids[2]
            )
        },
    )
}
