//! One client's stream: its topics' logs read after its cursors, merged in
//! id order, as chunks of bytes.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use super::Shared;
use super::log::Entry;
use super::topic::{Topic, TopicState};
use crate::encode::keep_alive;

/// A client's entry in one of its topics.
#[derive(Debug)]
pub(super) struct Joined {
    pub(super) topic: Arc<Topic>,
    /// Its key in the topic's subscribers.
    pub(super) slot: usize,
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

/// Runs `f` with all of `topics` locked at once, in the order given (name
/// order, so that no two callers wait for each other in opposite orders).
/// One topic, the common case, takes no allocation for its guard.
pub(super) fn with_locked<'a, R>(
    mut topics: impl ExactSizeIterator<Item = &'a Topic>,
    f: impl FnOnce(&mut [MutexGuard<'a, TopicState>]) -> R,
) -> R {
    if topics.len() == 1
        && let Some(topic) = topics.next()
    {
        return f(&mut [topic.lock()]);
    }
    let mut guards: Vec<_> = topics.map(Topic::lock).collect();
    f(&mut guards)
}

/// The frames for one client, as a `futures::Stream` of `Bytes` that any
/// framework can send as a streaming response body.
///
/// Frames queued since the last poll come as one chunk, so the framework
/// makes one write for them. The stream sends `: heartbeat` when it has been
/// idle for the broker's heartbeat interval, and ends when the client lags
/// too far behind or the broker shuts down. Dropping it (as a framework does
/// when the client goes away) unsubscribes the client at once.
///
/// Polling needs a Tokio runtime with time enabled, for the heartbeat.
///
/// Some frameworks only notice that a client went away when a write to it
/// fails; [`probe_idle`](Self::probe_idle) makes such writes happen.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct ClientStream {
    shared: Arc<Shared>,
    subscriptions: Subscriptions,
    client_id: u64,
    reset: bool,
    preamble: Option<Bytes>,
    /// Due at the next heartbeat or probe; created at the first poll,
    /// which runs inside the runtime.
    timer: Option<Pin<Box<Sleep>>>,
    /// The last frame (preamble, events or heartbeat): heartbeats count
    /// from it.
    last_frame: Instant,
    /// Boxed: most streams have none, and every idle stream pays for the
    /// inline size.
    probe: Option<Box<Probe>>,
    ended: bool,
}

/// [`ClientStream::probe_idle`]'s state.
#[derive(Debug)]
struct Probe {
    every: Duration,
    /// The last write of anything, probes included: probes count from it.
    last_write: Instant,
}

/// How often [`ClientStream::probe_idle`] should write, for a gone client
/// to be noticed within a second: the first write after a close only draws
/// the peer's reset, the second one fails.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(300);

/// The probe: an empty line. Between frames it ends an event that has no
/// data, which every SSE parser skips.
const PROBE: &[u8] = b"\n";

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
            preamble: None,
            timer: None,
            last_frame: Instant::now(),
            probe: None,
            ended: false,
        }
    }

    /// This connection's id, unique within the broker.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Whether the last event id given at subscription could not be
    /// honoured, so events before the replay may have been lost.
    pub fn reset(&self) -> bool {
        self.reset
    }

    /// Sends `bytes` before anything else (for instance a `retry:` and a
    /// greeting event). Replaces an earlier preamble.
    pub fn with_preamble(mut self, bytes: Bytes) -> Self {
        self.preamble = Some(bytes);
        self
    }

    /// Writes a single `\n` whenever nothing was written for `interval`
    /// (see [`PROBE_INTERVAL`]), for frameworks that only notice that a
    /// client went away when a write to it fails (Rocket 0.5, poem 3.1);
    /// clients skip it. Heartbeats keep their own schedule. A zero
    /// interval turns probing off.
    ///
    /// The price is a wake-up and a one-byte write per idle stream per
    /// interval.
    pub fn probe_idle(mut self, interval: Duration) -> Self {
        self.probe = (!interval.is_zero()).then(|| {
            Box::new(Probe {
                every: interval,
                last_write: self.last_frame,
            })
        });
        self
    }

    /// Notes a write at `now`; a frame, unless it is a probe.
    fn wrote(&mut self, now: Instant, frame: bool) {
        if frame {
            self.last_frame = now;
        }
        if let Some(probe) = &mut self.probe {
            probe.last_write = now;
        }
    }

    /// The stream as `Result` items, which most frameworks' streaming
    /// bodies ask for; it never yields an error.
    pub fn try_chunks<E>(self) -> TryChunks<E> {
        TryChunks {
            stream: self,
            error: PhantomData,
        }
    }

    fn end(&mut self) -> Poll<Option<Bytes>> {
        self.ended = true;
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

    /// When the next heartbeat is due, if heartbeats are on.
    fn heartbeat_due(&self) -> Option<Instant> {
        // Zero disables heartbeats (rather than sending them nonstop).
        Some(self.shared.config.heartbeat)
            .filter(|interval| !interval.is_zero())
            .map(|interval| self.last_frame + interval)
    }

    /// When the next heartbeat or probe is due, if any is on.
    fn next_due(&self) -> Option<Instant> {
        let probe = self.probe.as_ref().map(|p| p.last_write + p.every);
        self.heartbeat_due().into_iter().chain(probe).min()
    }

    /// A heartbeat or a probe, if one is due.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<Bytes> {
        let Some(due) = self.next_due() else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        // Writes do not move the timer (that would cost a timer update per
        // chunk); a timer that fires early is moved to the real deadline.
        loop {
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) if Instant::now() >= due => break,
                Poll::Ready(()) => timer.as_mut().reset(due),
                Poll::Pending => return Poll::Pending,
            }
        }
        let now = Instant::now();
        let frame = self.heartbeat_due().is_some_and(|at| now >= at);
        self.wrote(now, frame);
        let bytes = if frame {
            keep_alive()
        } else {
            Bytes::from_static(PROBE)
        };
        if let (Some(next), Some(timer)) = (self.next_due(), self.timer.as_mut()) {
            timer.as_mut().reset(next);
        }
        Poll::Ready(bytes)
    }
}

/// A [`ClientStream`] whose items are `Ok(chunk)`, from
/// [`ClientStream::try_chunks`].
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct TryChunks<E> {
    stream: ClientStream,
    error: PhantomData<fn() -> E>,
}

impl<E> TryChunks<E> {
    /// The client stream.
    pub fn get_ref(&self) -> &ClientStream {
        &self.stream
    }
}

impl<E> Stream for TryChunks<E> {
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.stream)
            .poll_next(cx)
            .map(|chunk| chunk.map(Ok))
    }
}

enum Read {
    Chunk(Bytes, u64),
    Nothing,
    End,
}

impl Stream for ClientStream {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.read(cx) {
            Read::End => return self.end(),
            Read::Chunk(chunk, count) => {
                self.shared.metrics.delivered.inc_by(count);
                self.wrote(Instant::now(), true);
                let chunk = match self.preamble.take() {
                    Some(preamble) => [preamble, chunk].concat().into(),
                    None => chunk,
                };
                return Poll::Ready(Some(chunk));
            }
            Read::Nothing => {}
        }
        if let Some(preamble) = self.preamble.take() {
            self.wrote(Instant::now(), true);
            return Poll::Ready(Some(preamble));
        }
        self.poll_timer(cx).map(Some)
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
        return Read::End;
    }
    // Every entry of a client has the same queue: the first one will do.
    let (Some(first), Some(state)) = (joined.first(), states.first_mut()) else {
        return Read::End;
    };
    let Some(me) = state.subscribers.get_mut(first.slot) else {
        return Read::End;
    };
    if me.queue.is_lagging() {
        return Read::End;
    }
    let evicted_unsent = cursors
        .iter()
        .zip(states.iter())
        .any(|(&cursor, state)| state.log.floor() > cursor);
    if evicted_unsent {
        // A frame of its own topics went before it was sent: it fell too
        // far behind.
        if let Some(me) = states[0].subscribers.get_mut(first.slot)
            && me.queue.lag()
        {
            shared.metrics.lagged.inc();
        }
        return Read::End;
    }
    let mut chunk = Chunk::default();
    if let ([cursor], [state]) = (&*cursors, &*states) {
        chunk.extend(state.log.after(*cursor));
    } else {
        let mut entries: Vec<&Entry> = cursors
            .iter()
            .zip(states.iter())
            .flat_map(|(&cursor, state)| state.log.after(cursor))
            .collect();
        entries.sort_unstable_by_key(|entry| entry.id);
        chunk.extend(entries);
    }
    for (cursor, state) in cursors.iter_mut().zip(states.iter()) {
        *cursor = (*cursor).max(state.log.last_id());
    }
    let ready = chunk.finish();
    for (j, state) in joined.iter().zip(states.iter_mut()) {
        let Some(me) = state.subscribers.get_mut(j.slot) else {
            continue;
        };
        me.queue.clear();
        if ready.is_none() && !me.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
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
        self.shared.clients.fetch_sub(1, Ordering::SeqCst);
        self.shared.metrics.clients.dec();
    }
}
