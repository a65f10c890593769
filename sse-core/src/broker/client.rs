//! One client's stream: its cursor read out of the log as chunks of bytes.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use super::{Shared, State};
use crate::encode::keep_alive;

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
    key: usize,
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
    pub(super) fn new(shared: Arc<Shared>, key: usize, client_id: u64, reset: bool) -> Self {
        Self {
            shared,
            key,
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

    /// The frames after the cursor, as one chunk; registers for a wake-up
    /// when there are none.
    fn read(&mut self, cx: &mut Context<'_>) -> Read {
        let mut guard = self.shared.lock();
        let State {
            log,
            clients,
            closed,
            ..
        } = &mut *guard;
        if *closed {
            return Read::End;
        }
        let Some(client) = clients.get_mut(self.key) else {
            return Read::End;
        };
        if client.lagged {
            return Read::End;
        }
        if client.cursor < log.floor() {
            // Frames it never read were evicted: it fell too far behind.
            client.lagged = true;
            self.shared.metrics.lagged.inc();
            return Read::End;
        }
        let mut first: Option<Bytes> = None;
        let mut rest: Option<BytesMut> = None;
        let mut count = 0;
        for entry in log.after(client.cursor) {
            if !client.topics.iter().any(|(t, _)| *t == entry.topic) {
                continue;
            }
            count += 1;
            match (&first, &mut rest) {
                (None, _) => first = Some(entry.frame.clone()),
                (Some(head), None) => {
                    let mut buf = BytesMut::with_capacity(head.len() + entry.frame.len() * 2);
                    buf.extend_from_slice(head);
                    buf.extend_from_slice(&entry.frame);
                    rest = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&entry.frame),
            }
        }
        // Nothing after the newest id can be for this client yet, matching
        // or not: skip it all next time.
        client.cursor = log.newest();
        client.pending = 0;
        match rest.map(BytesMut::freeze).or(first) {
            Some(chunk) => Read::Chunk(chunk, count),
            None => {
                if !client
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    client.waker = Some(cx.waker().clone());
                }
                Read::Nothing
            }
        }
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

impl Drop for ClientStream {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let State {
            topics, clients, ..
        } = &mut *state;
        let Some(client) = clients.try_remove(self.key) else {
            return;
        };
        for (topic, slot) in client.topics {
            if let Some(subscribers) = topics.get_mut(&topic) {
                subscribers.try_remove(slot);
                if subscribers.is_empty() {
                    topics.remove(&topic);
                }
            }
        }
        drop(state);
        self.shared.metrics.clients.dec();
    }
}
