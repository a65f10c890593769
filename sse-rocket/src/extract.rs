//! The last event id as a Rocket request guard.

use std::convert::Infallible;

use rocket::Request;
use rocket::request::{FromRequest, Outcome};

/// The id a reconnecting client last saw: the `Last-Event-ID` header, else
/// the `lastEventId` query parameter; `None` when neither is given.
///
/// ```
/// use rocket::get;
/// use sse_rocket::LastEventId;
///
/// #[get("/resume")]
/// fn resume(id: LastEventId) -> String {
///     format!("resuming after {:?}", id.0)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastEventId(pub Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LastEventId {
    type Error = Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Infallible> {
        let header = request
            .headers()
            .get_one("Last-Event-ID")
            .map(str::as_bytes);
        let query = request.uri().query().map(|q| q.as_str());
        Outcome::Success(Self(sse_hub::request::last_event_id(header, query)))
    }
}
