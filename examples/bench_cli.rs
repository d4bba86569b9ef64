//! `tcpmodes bench` as a standalone program, so the load generator can be
//! run (and measured) before or without the main CLI:
//!
//! ```text
//! cargo run --release --example bench_cli -- --addr 127.0.0.1:PORT --clients 64
//! ```

use clap::Parser;
use tcpmodes::bench::{BenchArgs, main_bench};

/// Load generator for the echo protocol.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn main() -> std::process::ExitCode {
    main_bench(&Cli::parse().bench)
}
