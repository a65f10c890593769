//! Every check by name, in report order; the known gaps of each
//! framework; and running them against a target.

use std::time::Duration;

use crate::client::Error;
use crate::launch::*;
use crate::limits::*;
use crate::operations::*;
use crate::replay::*;
use crate::streams::*;
use crate::support::*;
use crate::{auth, backlog, features, h2};

/// Every check, in the order a report lists them.
pub const CHECKS: &[Check] = &[
    ("preamble and headers", |t| {
        Box::pin(preamble_and_headers(t))
    }),
    ("publish and receive exactly", |t| {
        Box::pin(publish_and_receive(t))
    }),
    ("topics, several per client", |t| Box::pin(topics(t))),
    ("a busy topic neither lags nor evicts a quiet one", |t| {
        Box::pin(backlog::topics_independent(t, &[]))
    }),
    (
        "a busy topic neither lags nor evicts a quiet one (--coalesce 0s)",
        |t| Box::pin(backlog::topics_independent(t, NO_COALESCE)),
    ),
    ("multi-line and non-ASCII data", |t| {
        Box::pin(multi_line_and_unicode(t))
    }),
    ("replay by header, by query, header wins", |t| {
        Box::pin(replay(t))
    }),
    ("reset for ids that cannot be honoured", |t| {
        Box::pin(reset(t))
    }),
    ("reset after a restart", |t| {
        Box::pin(reset_after_restart(t))
    }),
    ("history TTL", |t| Box::pin(history_ttl(t))),
    ("rewind: the newest N retained events, then live", |t| {
        Box::pin(rewind(t))
    }),
    ("streams end after --max-stream-lifetime and resume", |t| {
        Box::pin(max_stream_lifetime(t))
    }),
    (EPHEMERAL, |t| Box::pin(features::ephemeral(t))),
    (BATCH, |t| Box::pin(features::batch(t))),
    (IDEMPOTENCY, |t| Box::pin(features::idempotency(t))),
    (HISTORY, |t| Box::pin(features::history(t))),
    ("presence: open streams per topic, within 2 s", |t| {
        Box::pin(features::presence(t))
    }),
    ("heartbeat after the idle interval", |t| {
        Box::pin(heartbeat(t))
    }),
    ("503 above max clients", |t| Box::pin(max_clients(t))),
    ("notify errors publish nothing", |t| {
        Box::pin(notify_errors(t))
    }),
    ("no injection through name, topic or data", |t| {
        Box::pin(injection(t))
    }),
    ("replay/live seam under concurrent publishing", |t| {
        Box::pin(seam(t))
    }),
    ("slow client cut off, others unaffected", |t| {
        Box::pin(backlog::slow_client(t, &[]))
    }),
    (
        "slow client cut off, others unaffected (--coalesce 0s)",
        |t| Box::pin(backlog::slow_client(t, NO_COALESCE)),
    ),
    (
        "a reader that keeps up is never cut (--client-buffer 4, 800 events)",
        |t| Box::pin(backlog::reader_that_keeps_up(t, &[])),
    ),
    (
        "a reader that keeps up is never cut (--client-buffer 4, 800 events, --coalesce 0s)",
        |t| Box::pin(backlog::reader_that_keeps_up(t, NO_COALESCE)),
    ),
    ("two independent parsers agree", |t| {
        Box::pin(parsers_agree(t))
    }),
    ("metrics series move", |t| Box::pin(metrics(t))),
    ("healthz and demo page", |t| Box::pin(healthz_and_page(t))),
    ("no leaked clients after disconnects", |t| {
        Box::pin(no_leaks(t))
    }),
    ("graceful shutdown (--drain-timeout 0s)", |t| {
        Box::pin(graceful_shutdown(t))
    }),
    (
        "drain: readiness first, new streams 503, each stream a retry: and its end within the window, /notify on",
        |t| Box::pin(crate::drain::drain(t)),
    ),
    ("drain: a second signal ends it at once", |t| {
        Box::pin(crate::drain::second_signal(t))
    }),
    (HEAD_TIMEOUT, |t| Box::pin(slow_heads(t))),
    (BODY_TIMEOUT, |t| Box::pin(stalled_body(t))),
    (EARLY_413, |t| Box::pin(early_413(t))),
    (CONNECTION_CAP, |t| Box::pin(connection_cap(t))),
    (AUTH_BAD_TOKENS, |t| Box::pin(auth::bad_tokens(t))),
    ("auth: expired, not-yet-valid, no exp → 401", |t| {
        Box::pin(auth::expired_and_not_yet_valid(t))
    }),
    (
        "auth: topics not granted → 403, patterns grant families",
        |t| Box::pin(auth::topics_granted(t)),
    ),
    (AUTH_TRANSPORTS, |t| Box::pin(auth::token_transports(t))),
    ("auth: a stream ends when its token expires", |t| {
        Box::pin(auth::expiry_ends_stream(t))
    }),
    ("auth: ES256 public key, no algorithm confusion", |t| {
        Box::pin(auth::public_keys(t))
    }),
    ("auth: the demo page's routes with a cookie", |t| {
        Box::pin(auth::demo_page_with_cookie(t))
    }),
    (CORS_ALLOWED, |t| Box::pin(auth::cors_allowed(t))),
    ("cors: preflight of /notify → 204", |t| {
        Box::pin(auth::cors_preflight(t))
    }),
    (
        "cors: other origins, or no option → no CORS headers",
        |t| Box::pin(auth::cors_refused(t)),
    ),
    (
        "h2: TLS offers h2 and http/1.1; events and heartbeats exact over both",
        |t| Box::pin(h2::tls_negotiates_both(t)),
    ),
    ("h2: replay by Last-Event-ID", |t| {
        Box::pin(h2::replay_over_h2(t))
    }),
    ("h2: 100 streams on one connection, each exact", |t| {
        Box::pin(h2::hundred_streams_one_connection(t))
    }),
    (
        "h2: a reset stream unsubscribed within 1 s, the others go on",
        |t| Box::pin(h2::reset_stream_unsubscribed(t)),
    ),
    ("h2: shutdown ends every stream (--drain-timeout 0s)", |t| {
        Box::pin(h2::shutdown_over_h2(t))
    }),
    (H2C, |t| Box::pin(h2::h2c_prior_knowledge(t))),
];

const H2C: &str = "h2c: HTTP/2 with prior knowledge (--h2c)";

const EPHEMERAL: &str = "ephemeral: history=false is live only, never replayed, no reset";
const BATCH: &str = "batch: checked whole (400 with its index), then published in order";
const IDEMPOTENCY: &str =
    "idempotency: a repeat replays the answer, another request 422, 50 concurrent publish once";
const HISTORY: &str = "history: newest, pages after an id, reset, bounded limit";

const AUTH_BAD_TOKENS: &str = "auth: no, wrongly signed or malformed token → 401";
const AUTH_TRANSPORTS: &str = "auth: token by header, cookie or query, in that order";
const CORS_ALLOWED: &str = "cors: a listed origin streams and publishes";

const HEAD_TIMEOUT: &str =
    "silent, half-sent and idle connections closed after the request timeout";
const BODY_TIMEOUT: &str = "a stalled publish body closed after the request timeout";
const EARLY_413: &str = "413 at once for a Content-Length over --max-body";
const CONNECTION_CAP: &str = "connections past --max-connections closed at once";

/// What Rocket 0.5 cannot do, and why.
const ROCKET_GAP_HOOKS: &str = "Rocket 0.5 keeps its hyper server private: it sets no header read \
     timeout, has no idle timeout for HTTP/1 keep-alive, and accepts connections with no hook to \
     count or refuse them";
const ROCKET_GAP_PEEK: &str = "Rocket 0.5 waits for the first 14 bytes of every request body \
     (to look for a `_method` form field) before any fairing, guard or handler runs, with no \
     timeout";

/// The checks a framework is known to fail, and why. The report marks
/// them; the tests require them to fail still, so that the list is
/// corrected as soon as one is fixed.
pub const KNOWN_GAPS: &[(&str, &str, &str)] = &[
    ("rocket", HEAD_TIMEOUT, ROCKET_GAP_HOOKS),
    ("rocket", BODY_TIMEOUT, ROCKET_GAP_PEEK),
    ("rocket", EARLY_413, ROCKET_GAP_PEEK),
    ("rocket", CONNECTION_CAP, ROCKET_GAP_HOOKS),
    ("rocket", H2C, ROCKET_GAP_H2C),
];

const ROCKET_GAP_H2C: &str = "Rocket 0.5 serves HTTP/2 over TLS only: its server has no \
    cleartext HTTP/2, so the example refuses --h2c at start";

/// Why `framework` is known to fail `check`, if it is.
pub fn known_gap(framework: &str, check: &str) -> Option<&'static str> {
    KNOWN_GAPS
        .iter()
        .find(|(f, c, _)| *f == framework && *c == check)
        .map(|(_, _, why)| *why)
}

/// The checks of streaming and replay, which a proxy could break: those run
/// through nginx.
pub const THROUGH_PROXY: &[&str] = &[
    "preamble and headers",
    "publish and receive exactly",
    "multi-line and non-ASCII data",
    "replay by header, by query, header wins",
    "reset for ids that cannot be honoured",
    "reset after a restart",
    "heartbeat after the idle interval",
    "replay/live seam under concurrent publishing",
    "two independent parsers agree",
    AUTH_TRANSPORTS,
    CORS_ALLOWED,
    EPHEMERAL,
    BATCH,
    IDEMPOTENCY,
    HISTORY,
];

/// Runs every check against `target` (only [`THROUGH_PROXY`] when it sits
/// behind nginx): (check name, outcome).
pub async fn run_all(target: &Target) -> Vec<(&'static str, Result<(), Error>)> {
    if target.nginx_config.is_some() {
        run_named(target, THROUGH_PROXY).await
    } else {
        run_checks(target, CHECKS.iter()).await
    }
}

/// Runs the multi-instance checks against `target`: two instances of it
/// on one private Redis (see [`crate::multi`]); behind nginx, the check
/// of `examples/deploy/nginx-redis.conf` (found beside the target's nginx
/// configuration).
pub async fn run_multi_instance(target: &Target) -> Vec<(&'static str, Result<(), Error>)> {
    if target.nginx_config.is_some() {
        run_checks(target, crate::multi::BEHIND_NGINX.iter()).await
    } else {
        run_checks(target, crate::multi::MULTI_INSTANCE_CHECKS.iter()).await
    }
}

/// Runs the multi-instance checks on a private Redis Cluster of three
/// masters against `target` (see [`crate::multi::CLUSTER_CHECKS`]).
pub async fn run_cluster(target: &Target) -> Vec<(&'static str, Result<(), Error>)> {
    run_checks(target, crate::multi::CLUSTER_CHECKS.iter()).await
}

/// Runs the checks that kill a Redis master against `target` (see
/// [`crate::failover::FAULT_CHECKS`]): seconds each.
pub async fn run_faults(target: &Target) -> Vec<(&'static str, Result<(), Error>)> {
    run_checks(target, crate::failover::FAULT_CHECKS.iter()).await
}

/// Runs the checks called `names` against `target`, in [`CHECKS`] order.
pub async fn run_named(target: &Target, names: &[&str]) -> Vec<(&'static str, Result<(), Error>)> {
    run_checks(
        target,
        CHECKS.iter().filter(|(name, _)| names.contains(name)),
    )
    .await
}

async fn run_checks(
    target: &Target,
    checks: impl Iterator<Item = &Check>,
) -> Vec<(&'static str, Result<(), Error>)> {
    let mut outcomes = Vec::new();
    for (name, check) in checks {
        let outcome = match tokio::time::timeout(Duration::from_secs(30), check(target)).await {
            Ok(outcome) => outcome,
            Err(_) => Err("the check took longer than 30 s".into()),
        };
        outcomes.push((*name, outcome));
    }
    outcomes
}
