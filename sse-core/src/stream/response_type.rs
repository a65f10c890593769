//! The `Sse<S>` type every adapter exposes, written once.

/// Defines an adapter's SSE response type: a newtype over
/// [`SseStream`](crate::stream::SseStream) with its builder methods (`new`,
/// `keep_alive`, `retry`, `coalesce`) and `From<SseStream<S>>`, for the
/// adapter to implement its framework's response trait on. The orphan
/// rule forbids implementing a framework's trait on `SseStream` itself, so
/// each adapter needs a type of its own; this macro keeps the five alike.
/// The stream is the tuple field `.0`, private to the defining module.
///
/// ```
/// sse_hub::sse_response_type! {
///     /// My framework's SSE response.
///     pub struct Sse;
/// }
///
/// let response = Sse::new(futures::stream::iter([sse_hub::Event::new("hi")]))
///     .retry(std::time::Duration::from_secs(3));
/// let _stream: sse_hub::SseStream<_> = response.0;
/// ```
#[macro_export]
macro_rules! sse_response_type {
    ($(#[$attr:meta])* $vis:vis struct $name:ident;) => {
        $(#[$attr])*
        #[derive(Debug)]
        #[must_use = "a response does nothing unless returned"]
        $vis struct $name<S>($crate::stream::SseStream<S>);

        impl<S> $name<S> {
            /// `events` as an SSE response, with the default
            /// [`KeepAlive`]($crate::stream::KeepAlive).
            pub fn new(events: S) -> Self {
                Self(
                    $crate::stream::SseStream::new(events)
                        .keep_alive($crate::stream::KeepAlive::new()),
                )
            }

            /// Replaces the keep-alive; a zero interval turns it off.
            pub fn keep_alive(self, keep_alive: $crate::stream::KeepAlive) -> Self {
                Self(self.0.keep_alive(keep_alive))
            }

            /// Sends `retry:` first: how long the client waits before
            /// reconnecting.
            pub fn retry(self, retry: ::std::time::Duration) -> Self {
                Self(self.0.retry(retry))
            }

            /// Writes at most once per `window` while events come faster
            /// than that, sending what arrived meanwhile in one write;
            /// slower streams are not delayed. Off by default; see
            /// [`SseStream::coalesce`]($crate::stream::SseStream::coalesce).
            pub fn coalesce(self, window: ::std::time::Duration) -> Self {
                Self(self.0.coalesce(window))
            }
        }

        /// A stream set up in `sse-hub` (keep-alive, retry, preamble) as
        /// it is.
        impl<S> ::std::convert::From<$crate::stream::SseStream<S>> for $name<S> {
            fn from(stream: $crate::stream::SseStream<S>) -> Self {
                Self(stream)
            }
        }
    };
}

/// Defines an adapter's response type for a [`hub::Response`]: a newtype
/// with a public field and `From<hub::Response>`, for the adapter to
/// implement its framework's response trait on (the orphan rule again).
///
/// ```
/// sse_hub::hub_response_type! {
///     /// A hub response as my framework's response.
///     pub struct HubResponse;
/// }
///
/// let hub = sse_hub::Hub::open(sse_hub::HubConfig::default()).expect("a hub");
/// let response = HubResponse::from(hub.routes().healthz());
/// assert_eq!(response.0.status, 200);
/// ```
///
/// [`hub::Response`]: crate::hub::Response
#[cfg(feature = "hub")]
#[macro_export]
macro_rules! hub_response_type {
    ($(#[$attr:meta])* $vis:vis struct $name:ident;) => {
        $(#[$attr])*
        #[derive(Debug)]
        $vis struct $name(pub $crate::hub::Response);

        impl ::std::convert::From<$crate::hub::Response> for $name {
            fn from(response: $crate::hub::Response) -> Self {
                Self(response)
            }
        }
    };
}
