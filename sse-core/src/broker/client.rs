//! One client's stream: its topics' logs read after its cursors, merged in
//! id order, as chunks of bytes.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use super::drain::{StreamDrain, last_frame};
use super::ids;
use super::log::Entry;
use super::shared::Shared;
use super::topic::{Topic, TopicState, with_locked};

/// A client's entry in one of its topics.
#[derive(Debug)]
pub(super) struct Joined {
    pub(super) topic: Arc<Topic>,
    /// Its key in the topic's subscribers.
    pub(super) slot: usize,
    /// The topic's newest id when the client joined: ephemeral frames up
    /// to it are not sent, as a replay never includes them.
    pub(super) live_from: u64,
}

impl Joined {
    /// Whether `entry` is sent to this client.
    fn sends(&self, entry: &Entry) -> bool {
        !entry.ephemeral || entry.id > self.live_from
    }
}

/// A client's topics and its cursor in each: every frame of a topic up to
/// its cursor was sent (or, after a reset, is given up on).
#[derive(Debug)]
pub(super) enum Subscriptions {
    /// The common case, without an allocation of its own.
    One { joined: Joined, cursor: u64 },
    /// Sorted by topic name: the order their locks are taken in.
    Many {
        joined: Box<[Joined]>,
        cursors: Box<[u64]>,
    },
}

impl Subscriptions {
    pub(super) fn new(mut joined: Vec<Joined>, mut cursors: Vec<u64>) -> Self {
        match (joined.pop(), cursors.pop()) {
            (Some(one), Some(cursor)) if joined.is_empty() => Self::One {
                joined: one,
                cursor,
            },
            (last, cursor) => {
                joined.extend(last);
                cursors.extend(cursor);
                Self::Many {
                    joined: joined.into(),
                    cursors: cursors.into(),
                }
            }
        }
    }

    fn parts(&mut self) -> (&[Joined], &mut [u64]) {
        match self {
            Self::One { joined, cursor } => {
                (std::slice::from_ref(joined), std::slice::from_mut(cursor))
            }
            Self::Many { joined, cursors } => (joined, cursors),
        }
    }

    fn joined(&self) -> &[Joined] {
        match self {
            Self::One { joined, .. } => std::slice::from_ref(joined),
            Self::Many { joined, .. } => joined,
        }
    }
}

/// The frames for one client, as a `futures::Stream` of `Bytes` that any
/// framework can send as a streaming response body.
///
/// Frames queued since the last poll come as one chunk, so the framework
/// makes one write for them. The stream ends when the client lags too far
/// behind or the broker shuts down. Dropping it (as a framework does when
/// the client goes away) unsubscribes the client at once.
///
/// It is one source of an [`SseStream`](crate::stream::SseStream), which
/// adds keep-alives, `retry:` and a preamble around it:
///
/// ```
/// use std::time::Duration;
/// use sse_hub::broker::{Broker, BrokerConfig};
/// use sse_hub::stream::{KeepAlive, SseStream};
///
/// let broker = Broker::new(BrokerConfig::default());
/// let subscription = broker.subscribe(["user-42"], None)?;
/// let frames = SseStream::new(subscription)
///     .retry(Duration::from_secs(3))
///     .keep_alive(KeepAlive::new());
/// # drop(frames);
/// # Ok::<(), sse_hub::broker::BrokerError>(())
/// ```
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct ClientStream {
    shared: Arc<Shared>,
    subscriptions: Subscriptions,
    client_id: u64,
    reset: bool,
    ended: Option<Ended>,
    /// When this stream ends, once the broker drains.
    drain: Option<Box<StreamDrain>>,
    /// Run once the stream has unsubscribed (a mirror releasing its
    /// hold on the topics).
    #[cfg(feature = "redis")]
    after_drop: Option<AfterDrop>,
}

/// What a stream runs once it has unsubscribed.
#[cfg(feature = "redis")]
struct AfterDrop(Box<dyn FnOnce() + Send + Sync>);

#[cfg(feature = "redis")]
impl std::fmt::Debug for AfterDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterDrop")
    }
}

impl ClientStream {
    pub(super) fn new(
        shared: Arc<Shared>,
        subscriptions: Subscriptions,
        client_id: u64,
        reset: bool,
    ) -> Self {
        Self {
            shared,
            subscriptions,
            client_id,
            reset,
            ended: None,
            drain: None,
            #[cfg(feature = "redis")]
            after_drop: None,
        }
    }

    /// This stream, running `then` once it has been dropped and has
    /// unsubscribed.
    #[cfg(feature = "redis")]
    pub(crate) fn after_drop(mut self, then: impl FnOnce() + Send + Sync + 'static) -> Self {
        self.after_drop = Some(AfterDrop(Box::new(then)));
        self
    }

    /// This connection's id, unique within the broker.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Whether the last event id given at subscription could not be
    /// honoured, so events before the replay may have been lost.
    pub fn is_reset(&self) -> bool {
        self.reset
    }

    /// Why the stream ended, once it has: a framework's response ends
    /// the same way whatever the reason, the application can tell.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use sse_hub::broker::{Broker, BrokerConfig, Ended};
    ///
    /// # futures::executor::block_on(async {
    /// let broker = Broker::new(BrokerConfig::default());
    /// let mut stream = broker.subscribe(["news"], None)?;
    /// broker.shutdown();
    /// assert_eq!(stream.next().await, None);
    /// assert_eq!(stream.ended(), Some(Ended::Shutdown));
    /// # Ok::<(), sse_hub::broker::BrokerError>(())
    /// # }).unwrap();
    /// ```
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    fn end(&mut self, why: Ended) -> Poll<Option<Bytes>> {
        self.ended = Some(why);
        Poll::Ready(None)
    }

    /// The frames after the cursors, as one chunk; registers for a wake-up
    /// when there are none.
    fn read(&mut self, cx: &mut Context<'_>) -> Read {
        let shared = &*self.shared;
        let (joined, cursors) = self.subscriptions.parts();
        // All its topics at once: a publish to any of them is then wholly
        // before this read or wholly after it, and one after it has a
        // larger id than any read here.
        with_locked(joined.iter().map(|j| &*j.topic), |states| {
            read_locked(shared, joined, cursors, states, cx)
        })
    }
}

enum Read {
    Chunk(Bytes, u64),
    Nothing,
    End(Ended),
}

/// Why a [`ClientStream`] ended (see [`ClientStream::ended`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended {
    /// The client fell more than `client_buffer` events behind and was
    /// cut off, `behind` events not yet read (at least): it should resume
    /// with its last event id, and will be told `reset` if the history no
    /// longer holds what it missed.
    Lagged {
        /// How many events waited for it when it was cut off.
        behind: usize,
    },
    /// The broker shut down.
    Shutdown,
    /// The broker drained ([`Broker::drain`](super::Broker::drain)): the
    /// stream's last frame was a `retry:` field telling its client when
    /// to come back.
    Drained,
}

impl Stream for ClientStream {
    type Item = Bytes;

    /// At least one chunk is due once half the client's buffer waits for
    /// it: a stream that holds this one's frames for a coalescing window
    /// ([`SseStream::coalesce`](crate::stream::SseStream::coalesce)) reads
    /// then, so that what it holds never counts against the client.
    /// Below that, nothing is promised.
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended.is_some() {
            return (0, Some(0));
        }
        let Some(first) = self.subscriptions.joined().first() else {
            return (0, Some(0));
        };
        let state = first.topic.lock();
        let pressed = state
            .subscribers
            .get(first.slot)
            .is_some_and(|me| self.shared.backlog.is_pressed(&me.queue));
        (usize::from(pressed), None)
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.ended.is_some() {
            return Poll::Ready(None);
        }
        let due = self.poll_drain(cx);
        match self.read(cx) {
            Read::End(why) => self.end(why),
            Read::Chunk(chunk, count) => {
                self.shared.metrics.delivered.inc_by(count);
                match due {
                    // Its last chunk: a stream that always has one to send
                    // must still end on time. The last frame is made after
                    // the read, which moved the cursors it names.
                    Some(left) => {
                        self.ended = Some(Ended::Drained);
                        let last = last_frame(&self.resume_id(), left);
                        let mut both = BytesMut::with_capacity(chunk.len() + last.len());
                        both.extend_from_slice(&chunk);
                        both.extend_from_slice(&last);
                        Poll::Ready(Some(both.freeze()))
                    }
                    None => Poll::Ready(Some(chunk)),
                }
            }
            // The drain may have begun during the read (see `Broker::drain`).
            Read::Nothing => match due.or_else(|| self.poll_drain(cx)) {
                Some(left) => {
                    self.ended = Some(Ended::Drained);
                    Poll::Ready(Some(last_frame(&self.resume_id(), left)))
                }
                None => Poll::Pending,
            },
        }
    }
}

impl ClientStream {
    /// The time left until this client's moment, once the broker drains
    /// and the stream's end has come; registers for a wake-up until then.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Option<std::time::Duration> {
        if self.drain.is_none() {
            let plan = self.shared.drain.get()?;
            self.drain = Some(Box::new(plan.schedule(tokio::time::Instant::now())));
        }
        match self.drain.as_mut()?.poll_due(cx) {
            Poll::Ready(left) => Some(left),
            Poll::Pending => None,
        }
    }

    /// Where this client resumes: everything of its topics up to its
    /// cursors was sent (each read moves every cursor to its topic's
    /// newest). In memory one id stands for all topics: an event published
    /// after the last read gets an id above every cursor. A mirror's
    /// topics count ids of their own: the topic's id, or the composite of
    /// the cursors.
    fn resume_id(&mut self) -> String {
        let shared = &*self.shared;
        let (_, cursors) = self.subscriptions.parts();
        match cursors {
            [one] => shared.ids.format(*one),
            many if shared.mirror => ids::format_composite(many),
            many => shared.ids.format(many.iter().copied().max().unwrap_or(0)),
        }
    }
}

/// [`ClientStream::read`] with `states[i]` the locked state of
/// `joined[i].topic`.
fn read_locked(
    shared: &Shared,
    joined: &[Joined],
    cursors: &mut [u64],
    states: &mut [MutexGuard<'_, TopicState>],
    cx: &mut Context<'_>,
) -> Read {
    if shared.is_closed() {
        return Read::End(Ended::Shutdown);
    }
    // Every entry of a client has the same queue: the first one will do.
    // (A client is in each of its topics until it drops its stream.)
    let (Some(first), Some(state)) = (joined.first(), states.first_mut()) else {
        return Read::End(Ended::Shutdown);
    };
    let Some(me) = state.subscribers.get_mut(first.slot) else {
        return Read::End(Ended::Shutdown);
    };
    if me.queue.is_lagging() {
        return Read::End(Ended::Lagged {
            behind: me.queue.pending(),
        });
    }
    let evicted_unsent = cursors
        .iter()
        .zip(states.iter())
        .any(|(&cursor, state)| state.log.floor() > cursor);
    if evicted_unsent {
        // A frame of its own topics went before it was sent: it fell too
        // far behind.
        let mut behind = 0;
        if let Some(me) = states[0].subscribers.get_mut(first.slot) {
            behind = me.queue.pending();
            if me.queue.lag() {
                shared.metrics.lagged.inc();
            }
        }
        return Read::End(Ended::Lagged { behind });
    }
    let mut chunk = Chunk::default();
    if let ([cursor], [state], [joined]) = (&*cursors, &*states, joined) {
        chunk.extend(state.log.after(*cursor).filter(|entry| joined.sends(entry)));
    } else {
        let mut entries: Vec<(usize, &Entry)> = cursors
            .iter()
            .zip(states.iter())
            .zip(joined)
            .enumerate()
            .flat_map(|(topic, ((&cursor, state), joined))| {
                state
                    .log
                    .after(cursor)
                    .filter(|entry| joined.sends(entry))
                    .map(move |entry| (topic, entry))
            })
            .collect();
        entries.sort_unstable_by_key(|(_, entry)| entry.id);
        if shared.mirror {
            // Each topic of a mirror has ids of its own: every frame
            // carries the client's cursor in each (see
            // `ids::format_composite`).
            let mut at: Vec<u64> = cursors.to_vec();
            for (topic, entry) in entries {
                at[topic] = entry.id;
                chunk.push_with_id(&ids::format_composite(&at), &entry.frame);
            }
        } else {
            chunk.extend(entries.into_iter().map(|(_, entry)| entry));
        }
    }
    for (cursor, state) in cursors.iter_mut().zip(states.iter()) {
        *cursor = (*cursor).max(state.log.last_id());
    }
    let ready = chunk.finish();
    let now = shared.millis(tokio::time::Instant::now());
    for (j, state) in joined.iter().zip(states.iter_mut()) {
        let Some(me) = state.subscribers.get_mut(j.slot) else {
            continue;
        };
        me.queue.clear(ready.is_none(), now);
        // Kept after a chunk too: a publish wakes a client that holds one
        // once half its buffer is used (see `Backlog::wake_at`).
        if !me.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            me.waker = Some(cx.waker().clone());
        }
    }
    match ready {
        Some((bytes, count)) => Read::Chunk(bytes, count),
        None => Read::Nothing,
    }
}

/// Frames joined into one chunk: a single frame is shared, not copied.
#[derive(Default)]
struct Chunk {
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    count: u64,
}

impl Chunk {
    fn extend<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) {
        for entry in entries {
            self.count += 1;
            match (&self.first, &mut self.rest) {
                (None, _) => self.first = Some(entry.frame.clone()),
                (Some(head), None) => {
                    let mut buf = BytesMut::with_capacity(head.len() + entry.frame.len() * 2);
                    buf.extend_from_slice(head);
                    buf.extend_from_slice(&entry.frame);
                    self.rest = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&entry.frame),
            }
        }
    }

    /// `frame` (`id: …` first, as every frame) with its id line replaced
    /// by `id`.
    fn push_with_id(&mut self, id: &str, frame: &[u8]) {
        let body = memchr::memchr(b'\n', frame).map_or(frame, |line| &frame[line + 1..]);
        let buf = self.rest.get_or_insert_with(|| {
            let mut buf = BytesMut::new();
            buf.extend(self.first.take().as_deref().unwrap_or_default());
            buf
        });
        buf.reserve(id.len() + body.len() + 5);
        buf.extend_from_slice(b"id: ");
        buf.extend_from_slice(id.as_bytes());
        buf.extend_from_slice(b"\n");
        buf.extend_from_slice(body);
        self.count += 1;
    }

    fn finish(self) -> Option<(Bytes, u64)> {
        let bytes = self.rest.map(BytesMut::freeze).or(self.first)?;
        Some((bytes, self.count))
    }
}

impl Drop for ClientStream {
    fn drop(&mut self) {
        let mut unused = Vec::new();
        for joined in self.subscriptions.joined() {
            let mut state = joined.topic.lock();
            state.subscribers.try_remove(joined.slot);
            if state.is_unused() {
                unused.push(joined.topic.clone());
            }
        }
        // A topic left with no subscribers and nothing retained costs no
        // memory: forget it now (its lock is released, as forgetting takes
        // the map's lock first).
        for topic in &unused {
            self.shared.forget_if_unused(topic);
        }
        if self.shared.clients.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.emptied.notify_waiters();
        }
        self.shared.metrics.clients.dec();
        #[cfg(feature = "redis")]
        if let Some(AfterDrop(then)) = self.after_drop.take() {
            then();
        }
    }
}
