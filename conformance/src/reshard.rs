//! A live reshard through the example servers: slots of busy topics move
//! from one master of a Redis Cluster to another while two instances
//! publish to them and follow them.

use std::time::Duration;

use crate::client::{Error, http_client, notify};
use crate::launch::Target;
use crate::redis_server::RedisCluster;
use crate::support::{ensure, publish, subscribe};

/// Publishes `topic/0`, `topic/1`, … to each of `topics` through `base`,
/// round after round, until `moving` is false and `rounds` are done: the
/// data answered 200, and those answered 503.
async fn publish_rounds(
    base: String,
    topics: Vec<String>,
    rounds: usize,
    moving: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let client = http_client();
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for n in 0.. {
        if n >= rounds && !moving.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        for topic in &topics {
            let data = format!("{topic}/{n}");
            let (status, body) = notify(
                &client,
                &base,
                &format!("topic={topic}"),
                &format!("\"{data}\""),
            )
            .await?;
            match status {
                200 => acked.push(data),
                503 => refused.push(data),
                other => {
                    return Err(format!(
                        "during the reshard /notify answered {other} {body}"
                    ));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok((acked, refused))
}

/// Nothing lost or twice, each topic in order, on both instances.
pub(crate) async fn live_reshard(target: &Target) -> Result<(), Error> {
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start("reshard check", 3))
        .await
        .map_err(|e| format!("the cluster start failed: {e}"))?
        .ok_or_else(crate::support::redis_missing)?;
    // Four topics of the first master, each in a slot of its own.
    let (mut topics, mut slots) = (Vec::new(), Vec::new());
    for n in 0..10_000 {
        let topic = format!("busy{n}");
        let key = format!("sse:{{{topic}}}");
        let slot = cluster.slot_of(&key).ok_or("no slot")?;
        if cluster.node_serving(&key) == Some(0) && !slots.contains(&slot) {
            topics.push(topic);
            slots.push(slot);
            if topics.len() == 4 {
                break;
            }
        }
    }
    let options: Vec<String> = cluster
        .urls()
        .into_iter()
        .flat_map(|url| ["--redis".to_owned(), url])
        .collect();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let a = target.start(&options).await?;
    let b = target.start(&options).await?;
    let query = format!(
        "?{}",
        topics
            .iter()
            .map(|topic| format!("topic={topic}"))
            .collect::<Vec<_>>()
            .join("&")
    );
    let on_a = subscribe(&a.base, &query, &[]).await?;
    let on_b = subscribe(&b.base, &query, &[]).await?;
    let moving = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let from_a = tokio::spawn(publish_rounds(
        a.base.clone(),
        topics[..2].to_vec(),
        60,
        moving.clone(),
    ));
    let from_b = tokio::spawn(publish_rounds(
        b.base.clone(),
        topics[2..].to_vec(),
        60,
        moving.clone(),
    ));
    let done = moving.clone();
    let moved = tokio::task::spawn_blocking(move || {
        let moved = slots
            .iter()
            .try_for_each(|&slot| cluster.move_slot(slot, 0, 1, 10, Duration::from_millis(100)));
        done.store(false, std::sync::atomic::Ordering::SeqCst);
        moved.map(|()| cluster)
    });
    // Read as the events come, so that no stream lags behind.
    let expected_end = topics.len();
    let read = move |mut stream: crate::client::EventStream| async move {
        let mut seen: Vec<String> = Vec::new();
        while seen.iter().filter(|data| data.ends_with("/end\"")).count() < expected_end {
            let event = stream.next_event().await?;
            ensure(event.event() != "reset", || {
                format!("a reset during the reshard: {event:?}")
            })?;
            seen.push(event.data().to_owned());
        }
        Ok::<_, Error>(seen)
    };
    let reading_a = tokio::spawn(async move { read(on_a).await });
    let reading_b = tokio::spawn(async move { read(on_b).await });
    let (acked_a, refused_a) = from_a.await.map_err(|e| e.to_string())??;
    let (acked_b, refused_b) = from_b.await.map_err(|e| e.to_string())??;
    let cluster = moved.await.map_err(|e| e.to_string())??;
    for topic in &topics {
        ensure(
            cluster.node_serving(&format!("sse:{{{topic}}}")) == Some(1),
            || format!("{topic}'s slot did not move"),
        )?;
        publish(
            &a.base,
            &format!("topic={topic}"),
            &format!("\"{topic}/end\""),
        )
        .await?;
    }
    let acked: Vec<String> = acked_a.into_iter().chain(acked_b).collect();
    let refused: Vec<String> = refused_a.into_iter().chain(refused_b).collect();
    for (name, reading) in [("A", reading_a), ("B", reading_b)] {
        let seen = reading.await.map_err(|e| e.to_string())??;
        for data in &acked {
            let quoted = format!("\"{data}\"");
            let times = seen.iter().filter(|d| **d == quoted).count();
            ensure(times == 1, || {
                format!("{data}, answered 200, reached {name} {times} times")
            })?;
        }
        for data in &refused {
            let quoted = format!("\"{data}\"");
            ensure(seen.iter().filter(|d| **d == quoted).count() <= 1, || {
                format!("{data} reached {name} twice")
            })?;
        }
        for topic in &topics {
            let prefix = format!("\"{topic}/");
            let order: Vec<usize> = seen
                .iter()
                .filter_map(|data| data.strip_prefix(&prefix)?.strip_suffix('"')?.parse().ok())
                .collect();
            ensure(order.windows(2).all(|pair| pair[0] < pair[1]), || {
                format!("{topic} out of order on {name}: {order:?}")
            })?;
        }
    }
    ensure(!acked.is_empty(), || {
        "nothing was published during the reshard".into()
    })?;
    Ok(())
}
