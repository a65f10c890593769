//! The contract served by poem: `cargo run -p sse-examples --bin poem`; the
//! wiring is in [`sse_examples::servers::poem`].

fn main() -> std::process::ExitCode {
    sse_examples::main(sse_examples::servers::poem::serve)
}
