//! The contract's responses as actix-web responses.

use std::convert::Infallible;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentEncoding;
use actix_web::{HttpRequest, HttpResponse, Responder};
use sse_core::contract;

/// A [`contract::Response`] (for a bare client stream:
/// `SseResponse(stream.into())`) as an actix-web
/// response; an event stream becomes a body that is written chunk by chunk
/// as the broker yields, with no buffering.
#[derive(Debug)]
pub struct SseResponse(pub contract::Response);

impl From<contract::Response> for SseResponse {
    fn from(response: contract::Response) -> Self {
        Self(response)
    }
}

impl Responder for SseResponse {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let contract::Response {
            status,
            headers,
            body,
        } = self.0;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = HttpResponse::build(status);
        for header in headers {
            response.insert_header(header);
        }
        match body {
            contract::Body::Full(bytes) => response.body(bytes),
            contract::Body::Stream(stream) => response
                // actix-web's `Compress` skips responses that already name
                // an encoding; compressing would hold events back.
                .insert_header(ContentEncoding::Identity)
                .streaming(stream.try_chunks::<Infallible>()),
        }
    }
}
