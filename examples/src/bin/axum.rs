//! The contract served by axum: `cargo run -p sse-examples --bin axum`; the
//! wiring is in [`sse_examples::servers::axum`].

fn main() -> std::process::ExitCode {
    sse_examples::main(sse_examples::servers::axum::serve)
}
