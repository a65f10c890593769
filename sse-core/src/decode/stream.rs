//! The decoder as a `futures::Stream` adapter over a stream of byte chunks.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use pin_project_lite::pin_project;

use super::decoder::{DecodeError, Decoded, Decoder};

/// Why a [`DecodeStream`] yielded an error.
#[derive(Debug, thiserror::Error)]
pub enum StreamError<E> {
    /// The bytes broke a bound of the decoder; decoding goes on after them.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The underlying byte stream failed.
    #[error("the byte stream failed: {0}")]
    Transport(#[source] E),
}

pin_project! {
    /// Decodes a stream of byte chunks (such as an HTTP response body) into
    /// [`Decoded`] items.
    ///
    /// When the byte stream ends, an event left without its closing blank
    /// line is discarded, as the spec requires, and this stream ends too.
    ///
    /// ```
    /// use futures::{StreamExt, stream};
    /// use sse_hub::decode::{DecodeStream, Decoded};
    ///
    /// let chunks = stream::iter([Ok::<_, std::io::Error>(&b"data: a\n\ndata: b"[..]), Ok(b"\n\n")]);
    /// let data: Vec<String> = futures::executor::block_on(
    ///     DecodeStream::new(chunks)
    ///         .filter_map(|item| async move { item.ok()?.into_event() })
    ///         .map(|event| event.into_data())
    ///         .collect(),
    /// );
    /// assert_eq!(data, ["a", "b"]);
    /// ```
    #[must_use = "streams do nothing unless polled"]
    pub struct DecodeStream<S> {
        #[pin]
        chunks: S,
        decoder: Decoder,
        ended: bool,
    }
}

impl<S> DecodeStream<S> {
    /// Decodes `chunks` with a default [`Decoder`].
    pub fn new(chunks: S) -> Self {
        Self::with_decoder(chunks, Decoder::new())
    }

    /// Decodes `chunks` with `decoder`, for instance one with other bounds.
    pub fn with_decoder(chunks: S, decoder: Decoder) -> Self {
        Self {
            chunks,
            decoder,
            ended: false,
        }
    }

    /// The decoder, for its last event id and retry.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }
}

impl<S, B, E> Stream for DecodeStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    type Item = Result<Decoded, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.decoder.next_item() {
                return Poll::Ready(Some(item.map_err(StreamError::Decode)));
            }
            if *this.ended {
                return Poll::Ready(None);
            }
            match ready!(this.chunks.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => this.decoder.feed(chunk.as_ref()),
                Some(Err(err)) => return Poll::Ready(Some(Err(StreamError::Transport(err)))),
                None => {
                    this.decoder.finish();
                    *this.ended = true;
                }
            }
        }
    }
}
