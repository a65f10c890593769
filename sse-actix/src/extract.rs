//! The last event id as an actix-web extractor.

use std::convert::Infallible;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

/// The id a reconnecting client last saw: the `Last-Event-ID` header, else
/// the `lastEventId` query parameter; `None` when neither is given.
///
/// ```
/// use sse_actix::LastEventId;
///
/// async fn resume(LastEventId(id): LastEventId) -> String {
///     format!("resuming after {id:?}")
/// }
/// # let _ = actix_web::web::get().to(resume);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

impl FromRequest for LastEventId {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = request.headers().get("last-event-id").map(|v| v.as_bytes());
        let query = Some(request.query_string()).filter(|q| !q.is_empty());
        ready(Ok(Self(sse_hub::request::last_event_id(header, query))))
    }
}
