//! A cap on open connections of every kind, so that idle or hostile
//! sockets cannot exhaust the process's file descriptors.
//!
//! An SSE server holds one descriptor per stream for as long as the stream
//! lives, and a client that opens sockets and sends nothing holds one
//! too. Counting streams alone (`BrokerConfig::max_clients`) lets a few thousand
//! silent sockets use up the open-files limit first; then `accept` fails,
//! Redis and log files cannot be opened, and `/healthz` goes unanswered.
//! A server that takes a [`ConnectionPermit`] for every accepted
//! connection, and closes the connection at once when none is left, keeps
//! a reserve of descriptors for its own work.
//!
//! ```
//! use sse_hub::connections::ConnectionLimit;
//!
//! let limit = ConnectionLimit::new(2);
//! let first = limit.try_acquire().expect("room for one");
//! let _second = limit.try_acquire().expect("room for two");
//! assert!(limit.try_acquire().is_none(), "a third is closed at once");
//! drop(first);
//! assert!(limit.try_acquire().is_some(), "a closed connection frees its place");
//! assert_eq!((limit.open(), limit.refused()), (1, 1));
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

/// How many open connections a server holds at most; cheap to clone, and
/// every clone counts against the same cap.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    open: AtomicUsize,
    gauge: Gauge,
    refused: Counter,
}

/// One open connection's place under a [`ConnectionLimit`]; keep it as
/// long as the connection, and the place is freed when it is dropped.
#[derive(Debug)]
#[must_use = "the connection's place is freed as soon as the permit is dropped"]
pub struct ConnectionPermit {
    inner: Arc<Inner>,
}

impl ConnectionLimit {
    /// A cap of `max` open connections, with counts of its own (use
    /// [`Broker::connection_limit`](crate::broker::Broker::connection_limit)
    /// to have them in the broker's metrics).
    pub fn new(max: usize) -> Self {
        Self::with_metrics(max, Gauge::default(), Counter::default())
    }

    pub(crate) fn with_metrics(max: usize, gauge: Gauge, refused: Counter) -> Self {
        Self {
            inner: Arc::new(Inner {
                max,
                open: AtomicUsize::new(0),
                gauge,
                refused,
            }),
        }
    }

    /// A place for one more connection, or `None` when `max` are open: the
    /// caller then closes the new connection at once (and it is counted
    /// as refused).
    pub fn try_acquire(&self) -> Option<ConnectionPermit> {
        let inner = &self.inner;
        let taken = inner
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < inner.max).then_some(open + 1)
            });
        if taken.is_err() {
            inner.refused.inc();
            return None;
        }
        inner.gauge.inc();
        Some(ConnectionPermit {
            inner: Arc::clone(inner),
        })
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Connections closed at once since the start because the cap was
    /// reached.
    pub fn refused(&self) -> u64 {
        self.inner.refused.get()
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.inner.open.fetch_sub(1, Ordering::AcqRel);
        self.inner.gauge.dec();
    }
}

/// The process's open-files limit (the soft `RLIMIT_NOFILE`), when the
/// platform has one and it is finite.
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The descriptors kept back from connections for the process's own
/// work (listeners, Redis, log files, the runtime's own descriptors):
/// 2% of `open_files`, at least 64 and at most 1024.
///
/// ```
/// use sse_hub::connections::reserve_below;
///
/// assert_eq!(reserve_below(20_000), 400);
/// assert_eq!(reserve_below(1_024), 64);
/// assert_eq!(reserve_below(1 << 20), 1_024);
/// ```
pub fn reserve_below(open_files: u64) -> u64 {
    (open_files / 50).clamp(64, 1024)
}

/// The connection cap a server takes when none is configured: the
/// open-files limit minus [`reserve_below`] it (at least 1), or `100_000`
/// where the platform tells no limit.
pub fn default_max_connections() -> usize {
    match open_files_limit() {
        Some(limit) => {
            let max = limit.saturating_sub(reserve_below(limit)).max(1);
            usize::try_from(max).unwrap_or(usize::MAX)
        }
        None => 100_000,
    }
}

/// How an accept loop waits after `accept` failed, so that it does not
/// spin while the process is out of descriptors or memory.
///
/// An error that concerns one connection only (it was reset or aborted
/// before it was accepted) is retried at once. Any other, such as
/// `EMFILE`, will fail again until something is closed: the loop sleeps,
/// 10 ms after the first failure, doubling up to 1 s while they go on, and
/// starts over after an accept succeeds.
///
/// ```
/// use std::io::{Error, ErrorKind};
/// use std::time::Duration;
/// use sse_hub::connections::AcceptBackoff;
///
/// let mut backoff = AcceptBackoff::default();
/// assert_eq!(backoff.failed(&Error::from(ErrorKind::ConnectionAborted)), None);
/// let out_of_files = Error::other("Too many open files");
/// assert_eq!(backoff.failed(&out_of_files), Some(Duration::from_millis(10)));
/// assert_eq!(backoff.failed(&out_of_files), Some(Duration::from_millis(20)));
/// backoff.accepted();
/// assert_eq!(backoff.failed(&out_of_files), Some(Duration::from_millis(10)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct AcceptBackoff {
    next: Option<std::time::Duration>,
}

impl AcceptBackoff {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(10);
    const MOST: std::time::Duration = std::time::Duration::from_secs(1);

    /// How long to wait before accepting again after `err`; `None` to
    /// go on at once.
    pub fn failed(&mut self, err: &std::io::Error) -> Option<std::time::Duration> {
        use std::io::ErrorKind;
        if matches!(
            err.kind(),
            ErrorKind::ConnectionAborted
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionRefused
                | ErrorKind::Interrupted
                | ErrorKind::WouldBlock
        ) {
            return None;
        }
        let wait = self.next.unwrap_or(Self::FIRST);
        self.next = Some((wait * 2).min(Self::MOST));
        Some(wait)
    }

    /// An accept succeeded: the next failure waits the shortest time again.
    pub fn accepted(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_and_freed_across_threads() {
        let limit = ConnectionLimit::new(100);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limit = limit.clone();
                std::thread::spawn(move || {
                    (0..1000)
                        .filter_map(|_| limit.try_acquire())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let held: Vec<_> = threads
            .into_iter()
            .map(|thread| thread.join().expect("no panic"))
            .collect();
        let granted: usize = held.iter().map(Vec::len).sum();
        assert_eq!(granted, 100, "never more than the cap");
        assert_eq!(limit.open(), 100);
        assert_eq!(limit.refused(), 4000 - 100);
        drop(held);
        assert_eq!(limit.open(), 0);
    }

    #[test]
    fn accept_backoff_doubles_up_to_a_second() {
        let mut backoff = AcceptBackoff::default();
        let err = std::io::Error::other("out of descriptors");
        let waits: Vec<_> = (0..10)
            .map(|_| backoff.failed(&err).map(|wait| wait.as_millis()))
            .collect();
        let expected = [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000];
        assert_eq!(waits, expected.map(Some));
    }

    #[test]
    fn the_default_leaves_a_reserve_below_the_open_files_limit() {
        let max = default_max_connections() as u64;
        match open_files_limit() {
            Some(limit) => {
                assert!(max < limit, "{max} < {limit}");
                assert!(max >= limit.saturating_sub(1024), "{max} vs {limit}");
            }
            None => assert_eq!(max, 100_000),
        }
    }
}
