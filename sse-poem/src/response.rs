//! The contract's responses as poem responses.

use poem::{Body, IntoResponse, Response};
use sse_core::broker::PROBE_INTERVAL;
use sse_core::contract;

/// A [`contract::Response`] (for a bare client stream:
/// `SseResponse(stream.into())`) as a poem
/// response; an event stream becomes a body that is written chunk by chunk
/// as the broker yields, with no buffering.
///
/// poem 3.1's server keeps the body of a closed connection until a write
/// to it fails, so an idle stream writes an empty line (which clients
/// skip) every [`PROBE_INTERVAL`]: a gone client is dropped within a
/// second rather than at the next heartbeat.
#[derive(Debug)]
pub struct SseResponse(pub contract::Response);

impl From<contract::Response> for SseResponse {
    fn from(response: contract::Response) -> Self {
        Self(response)
    }
}

impl IntoResponse for SseResponse {
    fn into_response(self) -> Response {
        let response = self.0.into_http(|body| match body {
            contract::Body::Full(bytes) => Body::from(bytes),
            contract::Body::Stream(stream) => {
                let stream = stream.probe_idle(PROBE_INTERVAL);
                Body::from_bytes_stream(stream.try_chunks::<std::io::Error>())
            }
        });
        let (parts, body) = response.into_parts();
        let mut response = Response::builder().status(parts.status).body(body);
        *response.headers_mut() = parts.headers;
        response
    }
}
