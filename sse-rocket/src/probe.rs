//! How often an idle event stream writes a probe.
//!
//! Rocket 0.5 (0.5.2 on hyper 1 too) only notices that a client went
//! away when a write to it fails, so an idle stream writes an empty line,
//! which clients skip, every [`PROBE_INTERVAL`]: the first write after a
//! close draws the peer's reset and the second fails, so a gone client is
//! dropped within two intervals rather than at the next keep-alive.
//!
//! The interval trades that delay against the cost of the writes, which
//! Rocket makes dear: 15–24 µs of server CPU per probe. Measured with
//! 10,000 idle streams (`cargo xtask bench-sockets --server rocket`, one
//! run each, 2026-12-03, on Rocket 0.5.2; 0.5.1 took 57.2% at 300 ms):
//!
//! | interval | server CPU, % of a core | a gone client is noticed within (two probes) |
//! |---|---|---|
//! | 300 ms | 59.0 | 0.6 s |
//! | 1 s | 24.4 | 2 s |
//! | 2 s (the default) | 11.2 | 4 s |
//! | off | 0.0 | the next keep-alive (30 s) |
//!
//! Until then a gone client's subscription only holds its bounded buffer
//! and counts in `sse_clients`; a few seconds of that cost less than a
//! tenth of a core held all the time.
//!
//! Over TLS the default is [`PROBE_INTERVAL_TLS`] (500 ms) instead: there
//! a stream may go over HTTP/2, where a client that resets one stream
//! keeps the connection open for its others (a browser tab that
//! navigates away does), so only a probe notices it, at the first one
//! after the reset: within a second, as the example servers' contract
//! asks. Set your own with [`ProbeIdle`] as managed state.

use std::time::Duration;

/// The default probe interval for Rocket; see the [module](self) docs.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// The default probe interval when Rocket serves TLS, and so HTTP/2; see
/// the [module](self) docs.
pub const PROBE_INTERVAL_TLS: Duration = Duration::from_millis(500);

/// How often idle event streams write a probe, as managed state
/// ([`Sse`](crate::Sse) and the hub's routes alike); without it,
/// [`PROBE_INTERVAL`], or [`PROBE_INTERVAL_TLS`] over TLS.
///
/// ```
/// use std::time::Duration;
/// use sse_rocket::ProbeIdle;
///
/// // Gone clients noticed within 600 ms, for five times the CPU.
/// let rocket = rocket::build().manage(ProbeIdle::every(Duration::from_millis(300)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ProbeIdle(Duration);

impl ProbeIdle {
    /// A probe after `interval` without a write; zero turns probes off,
    /// and gone clients are then noticed at the next keep-alive.
    pub fn every(interval: Duration) -> Self {
        Self(interval)
    }

    /// The interval for a response to `request`.
    pub(crate) fn of(request: &rocket::Request<'_>) -> Duration {
        let rocket = request.rocket();
        match rocket.state::<Self>() {
            Some(probe) => probe.0,
            None if rocket.config().tls_enabled() => PROBE_INTERVAL_TLS,
            None => PROBE_INTERVAL,
        }
    }
}
