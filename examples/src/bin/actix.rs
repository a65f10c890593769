//! The contract served by actix: `cargo run -p sse-examples --bin actix`; the
//! wiring is in [`sse_examples::servers::actix`].

fn main() -> std::process::ExitCode {
    sse_examples::main(sse_examples::servers::actix::serve)
}
