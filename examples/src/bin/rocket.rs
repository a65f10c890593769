//! The contract served by rocket: `cargo run -p sse-examples --bin rocket`; the
//! wiring is in [`sse_examples::servers::rocket`].

fn main() -> std::process::ExitCode {
    sse_examples::main(sse_examples::servers::rocket::serve)
}
