//! The stream an application reads.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::stream::BoxStream;

use crate::error::Error;
use crate::event::Event;

/// One logical event stream, kept alive across connections: a
/// [`Stream`] of [`Event`]s, or errors.
///
/// Build one with [`EventSource::get`], [`EventSource::post`] or
/// [`EventSource::builder`]. The first connect starts at the first poll.
/// The stream ends (`None`) when the server answers `204`, when a request
/// that is not retried ends cleanly, or after a fatal error, which is the
/// last item; [`Error::is_fatal`] tells which errors those are.
pub struct EventSource {
    items: BoxStream<'static, Result<Event, Error>>,
}

impl EventSource {
    pub(crate) fn new(items: impl Stream<Item = Result<Event, Error>> + Send + 'static) -> Self {
        Self {
            items: Box::pin(items),
        }
    }
}

impl Stream for EventSource {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSource").finish_non_exhaustive()
    }
}
