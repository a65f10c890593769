//! The contract's responses as warp replies.

use std::convert::Infallible;

use sse_core::contract;
use warp::Reply;
use warp::reply::Response;

/// A [`contract::Response`] (for a bare client stream:
/// `SseResponse(stream.into())`) as a warp reply;
/// an event stream becomes a body that is written chunk by chunk as the
/// broker yields, with no buffering.
#[derive(Debug)]
pub struct SseResponse(pub contract::Response);

impl From<contract::Response> for SseResponse {
    fn from(response: contract::Response) -> Self {
        Self(response)
    }
}

impl Reply for SseResponse {
    fn into_response(self) -> Response {
        self.0.into_http(|body| match body {
            contract::Body::Full(bytes) => Response::new(bytes.into()).into_body(),
            contract::Body::Stream(stream) => {
                warp::reply::stream(stream.try_chunks::<Infallible>())
                    .into_response()
                    .into_body()
            }
        })
    }
}
