//! The `tcpmodes` binary: `cargo run --release` serves the lesson's echo
//! protocol on 127.0.0.1:9999; `--help` lists the rest.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    tcpmodes::run_builtin()
}
