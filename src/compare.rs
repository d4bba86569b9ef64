//! `tcpmodes compare`: the same benchmark against each mode, side by side.
//!
//! Each mode gets a fresh in-process echo server on a free loopback port
//! with identical settings, then the same [`bench`](crate::bench) run; one
//! table (or JSON, CSV, SVG chart) shows the difference. The lesson's whole
//! point fits in one line:
//!
//! ```text
//! tcpmodes compare --clients 2 --messages 3 --delay-ms 1000
//! ```
//!
//! where serial takes about twice as long as threads.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::Config;
use crate::EchoHandler;
use crate::Framing;
use crate::Mode;
use crate::Server;
use crate::bench::{BenchArgs, BenchReport, run_bench};
use crate::report::{OutputFormat, plot_svg, render_comparison};

/// Flags of `tcpmodes compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Modes to run, in order, comma-separated
    #[arg(long, value_parser = crate::names::value_parser::<Mode>(), value_delimiter = ',', default_value = "serial,threads,pool")]
    pub modes: Vec<Mode>,
    /// Concurrent clients
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Messages per client (instead of a duration)
    #[arg(long, conflicts_with = "duration")]
    pub messages: Option<u64>,
    /// Measured seconds per mode (default 3 when --messages is not given)
    #[arg(long)]
    pub duration: Option<f64>,
    /// Payload bytes per message
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Framing of server and clients
    #[arg(long, value_parser = crate::names::value_parser::<Framing>(), default_value = "raw")]
    pub framing: Framing,
    /// Echo: pause before each reply, like the lesson's time.sleep(1)
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub delay_ms: u64,
    /// Pool mode: worker threads (default: number of CPUs)
    #[arg(long)]
    pub workers: Option<usize>,
    /// Threads mode: connections served at once
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Listen backlog of each server
    #[arg(long, default_value_t = 4096)]
    pub backlog: u32,
    /// A new connection per message, to measure accept cost
    #[arg(long)]
    pub churn: bool,
    /// Seconds of unmeasured load before each measurement
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Per-reply deadline of the clients, in milliseconds
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Also draw msgs/s and p99 per mode into this SVG file
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Exit 0 even when errors occurred
    #[arg(long)]
    pub allow_errors: bool,
}

/// Runs the bench against each mode in turn; one labelled report per mode.
pub fn run_compare(args: &CompareArgs) -> Result<Vec<(String, BenchReport)>, String> {
    let mut rows = Vec::new();
    for &mode in &args.modes {
        let mut config = Config::default();
        config.address = "127.0.0.1:0".into();
        config.mode = mode;
        config.framing = args.framing;
        config.delay_ms = args.delay_ms;
        config.max_connections = args.max_connections;
        config.backlog = args.backlog;
        if let Some(w) = args.workers {
            config.workers = w;
        }
        let delay = std::time::Duration::from_millis(args.delay_ms);
        let server = Server::bind(config, move || EchoHandler::new(delay))
            .map_err(|e| format!("{mode}: {e}"))?
            .spawn();
        let mut bench = BenchArgs::new(server.local_addr().to_string());
        bench.clients = args.clients;
        bench.messages = args.messages;
        bench.duration = match args.messages {
            Some(_) => None,
            None => Some(args.duration.unwrap_or(3.0)),
        };
        bench.size = args.size;
        bench.framing = args.framing;
        bench.churn = args.churn;
        bench.warmup = args.warmup;
        bench.timeout_ms = args.timeout_ms;
        bench.no_progress = true;
        log::info!("compare: {mode} mode on {}", server.local_addr());
        let report = run_bench(&bench).map_err(|e| format!("{mode}: {e}"));
        server.stop();
        rows.push((mode.name().to_string(), report?));
    }
    Ok(rows)
}

/// `tcpmodes compare`: prints the comparison, draws the chart if asked, and
/// exits non-zero when any mode saw errors (unless `--allow-errors`).
pub fn main_compare(args: &CompareArgs) -> ExitCode {
    let rows = match run_compare(args) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", render_comparison(&rows, args.format));
    if let Some(path) = &args.plot {
        if let Err(e) = plot_svg(&rows, path) {
            eprintln!("error: cannot draw {}: {e}", path.display());
            return ExitCode::from(1);
        }
        eprintln!("Chart written to {}", path.display());
    }
    let errors: u64 = rows.iter().map(|(_, r)| r.errors.total).sum();
    if errors > 0 && !args.allow_errors {
        eprintln!("error: {errors} requests failed (see the errors column)");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
