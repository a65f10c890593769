//! Server-Sent Events for axum 0.8.
//!
//! This crate will expose [`sse_core`] as axum 0.8's native types; until
//! that adapter lands it only re-exports the core, so that applications can
//! already depend on the crate of their framework.
//!
//! ```
//! let frame = sse_axum::sse_core::Event::new("hello").encode();
//! assert_eq!(&frame[..], b"data: hello\n\n");
//! ```

pub use sse_core;
