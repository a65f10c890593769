//! The contract's responses as Rocket responses.

use std::io::Cursor;

use rocket::Request;
use rocket::futures::StreamExt;
use rocket::http::Status;
use rocket::response::stream::ReaderStream;
use rocket::response::{self, Responder, Response};
use sse_core::broker::PROBE_INTERVAL;
use sse_core::contract;

/// A [`contract::Response`] (for a bare client stream:
/// `SseResponse(stream.into())`) as a Rocket
/// response; an event stream becomes a body that is written chunk by chunk
/// as the broker yields, with no buffering.
///
/// Rocket 0.5 only notices that a client went away when a write to it
/// fails, so an idle stream writes an empty line (which clients skip)
/// every [`PROBE_INTERVAL`]: a gone client is dropped within a second
/// rather than at the next heartbeat.
#[derive(Debug)]
pub struct SseResponse(pub contract::Response);

impl From<contract::Response> for SseResponse {
    fn from(response: contract::Response) -> Self {
        Self(response)
    }
}

impl<'r> Responder<'r, 'static> for SseResponse {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let contract::Response {
            status,
            headers,
            body,
        } = self.0;
        let mut response = Response::build();
        response.status(Status::new(status));
        for (name, value) in headers {
            response.raw_header(name, value);
        }
        match body {
            contract::Body::Full(bytes) => {
                response.sized_body(bytes.len(), Cursor::new(bytes));
            }
            contract::Body::Stream(stream) => {
                let stream = stream.probe_idle(PROBE_INTERVAL);
                response.streamed_body(ReaderStream::from(stream.map(Cursor::new)));
            }
        }
        response.ok()
    }
}
