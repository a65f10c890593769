//! Server-Sent Events for poem 3.
//!
//! This crate will expose [`sse_core`] as poem 3's native types; until
//! that adapter lands it only re-exports the core, so that applications can
//! already depend on the crate of their framework.
//!
//! ```
//! let frame = sse_poem::sse_core::Event::new("hello").encode();
//! assert_eq!(&frame[..], b"data: hello\n\n");
//! ```

pub use sse_core;
