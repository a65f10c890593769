//! Server-Sent Events for Rocket 0.5.
//!
//! This crate will expose [`sse_core`] as Rocket 0.5's native types; until
//! that adapter lands it only re-exports the core, so that applications can
//! already depend on the crate of their framework.
//!
//! ```
//! let frame = sse_rocket::sse_core::Event::new("hello").encode();
//! assert_eq!(&frame[..], b"data: hello\n\n");
//! ```

pub use sse_core;
