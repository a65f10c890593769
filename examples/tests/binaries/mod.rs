//! The five example servers' binaries, as the tests that run them as
//! processes name them.

/// Each framework's name and the path of its example server.
pub(crate) const BINARIES: [(&str, &str); 5] = [
    ("axum", env!("CARGO_BIN_EXE_axum")),
    ("actix", env!("CARGO_BIN_EXE_actix")),
    ("warp", env!("CARGO_BIN_EXE_warp")),
    ("rocket", env!("CARGO_BIN_EXE_rocket")),
    ("poem", env!("CARGO_BIN_EXE_poem")),
];
