//! `tcpmodes compare`: the same benchmark against each mode, side by side.
//!
//! Each mode gets a fresh in-process echo server on a free loopback port
//! with identical settings, then the same bench run; one table (or JSON,
//! CSV, SVG chart) shows the difference.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::LazyLock;

use super::flags::{BenchArgs, LoadArgs, OutputFormat};
use super::plot::plot_svg;
use super::render::render_comparison;
use super::report::BenchReport;
use super::run::run_bench;
use crate::{Config, EchoHandler, Mode, Server};

/// Flags of `tcpmodes compare`: which modes, how each server is set up,
/// and the same load flags as `bench` ([`LoadArgs`]), with compare's own
/// defaults (4 clients, 3 seconds, a 10 s deadline) and help.
#[derive(Debug, Clone, clap::Args)]
#[command(
    mut_arg("clients", |a| a.help("Concurrent clients").default_value("4")),
    mut_arg("messages", |a| a.help("Messages per client (instead of a duration)")),
    mut_arg("duration", |a| {
        a.help("Measured seconds per mode (default 3 when --messages is not given)")
    }),
    mut_arg("size", |a| a.help("Payload bytes per message")),
    mut_arg("framing", |a| a.help("Framing of server and clients")),
    mut_arg("churn", |a| a.help("A new connection per message, to measure accept cost")),
    mut_arg("warmup", |a| a.help("Seconds of unmeasured load before each measurement")),
    mut_arg("timeout_ms", |a| {
        a.help("Per-reply deadline of the clients, in milliseconds")
            .default_value("10000")
    }),
)]
pub struct CompareArgs {
    /// Modes to run, in order, comma-separated
    #[arg(long, value_parser = crate::names::value_parser::<Mode>(), value_delimiter = ',', default_value = every_mode())]
    pub modes: Vec<Mode>,
    /// The load each mode gets, as `bench` takes it.
    #[command(flatten)]
    pub load: LoadArgs,
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

/// `--modes` default: every mode, in the order of [`Mode::ALL`], so a new
/// mode is compared without touching this file.
fn every_mode() -> &'static str {
    static NAMES: LazyLock<String> = LazyLock::new(|| Mode::ALL.map(Mode::name).join(","));
    &NAMES
}

/// Runs the bench against each mode in turn; one labelled report per mode,
/// ready for [`render_comparison`] and [`plot_svg`]. `Err` names the mode
/// whose server or bench could not run.
pub fn run_compare(args: &CompareArgs) -> Result<Vec<(String, BenchReport)>, String> {
    let mut rows = Vec::new();
    for &mode in &args.modes {
        let mut config = Config::default();
        config.address = "127.0.0.1:0".into();
        config.mode = mode;
        config.framing = args.load.framing;
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
        bench.load = args.load.clone();
        bench.load.duration = match args.load.messages {
            Some(_) => None,
            None => Some(args.load.duration.unwrap_or(3.0)),
        };
        bench.no_progress = true;
        log::info!("compare: {mode} mode on {}", server.local_addr());
        let report = run_bench(&bench).map_err(|e| format!("{mode}: {e}"));
        server.stop();
        rows.push((mode.name().to_string(), report?));
    }
    Ok(rows)
}

/// `tcpmodes compare`: prints the comparison, draws the chart if asked, and
/// exits non-zero when any mode saw errors (unless `--allow-errors`), so a
/// script or CI can run the lesson's demonstration as a check.
///
/// The lesson's whole point fits in one line:
///
/// ```text
/// tcpmodes compare --clients 2 --messages 3 --delay-ms 1000
/// ```
///
/// where serial takes about twice as long as threads.
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
