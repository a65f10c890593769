//! Server-Sent Events for warp 0.4.
//!
//! This crate will expose [`sse_core`] as warp 0.4's native types; until
//! that adapter lands it only re-exports the core, so that applications can
//! already depend on the crate of their framework.
//!
//! ```
//! let frame = sse_warp::sse_core::Event::new("hello").encode();
//! assert_eq!(&frame[..], b"data: hello\n\n");
//! ```

pub use sse_core;
