//! The last event id as a poem extractor.

use poem::{FromRequest, Request, RequestBody};

/// The id a reconnecting client last saw: the `Last-Event-ID` header, else
/// the `lastEventId` query parameter; `None` when neither is given.
///
/// ```
/// use poem::handler;
/// use sse_poem::LastEventId;
///
/// #[handler]
/// fn resume(LastEventId(id): LastEventId) -> String {
///     format!("resuming after {id:?}")
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl<'a> FromRequest<'a> for LastEventId {
    async fn from_request(request: &'a Request, _: &mut RequestBody) -> poem::Result<Self> {
        let header = request.headers().get("last-event-id").map(|v| v.as_bytes());
        Ok(Self(sse_hub::request::last_event_id(
            header,
            request.uri().query(),
        )))
    }
}
