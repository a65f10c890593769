//! The contract served by warp: `cargo run -p sse-examples --bin warp`; the
//! wiring is in [`sse_examples::servers::warp`].

fn main() -> std::process::ExitCode {
    sse_examples::main(sse_examples::servers::warp::serve)
}
