//! `tcpmodes compare`: the same benchmark against each mode, side by side.
//!
//! Each mode gets a fresh in-process server on a free loopback port with
//! identical settings, then the same bench run. Each mode's row is printed
//! the moment it finishes; then, if asked, who was served when
//! (`--timeline`, `--timeline-svg`) and the chart (`--plot`).
//!
//! The server is the built-in echo ([`run_compare`], [`main_compare`]) or a
//! program's own handler ([`ServeSpec`], for programs built on
//! [`run_cli`](crate::run_cli)).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, LazyLock};

use super::caption::RunParams;
use super::compare_table::{Shape, notes};
use super::flags::{self, BenchArgs, LoadArgs, OutputFormat, ServerCalls};

use super::render::ComparisonStream;
use super::repeat::combine;
use super::report::BenchReport;
use super::run::run_bench;
use super::views::Views;
use crate::call_log::CallLog;
use crate::handler::HandlerFactory;
use crate::{Config, EchoHandler, Framing, Mode, Server};

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
    mut_arg("framing", |a| {
        a.help("Framing of server and clients; a program with its own handler keeps its framing unless this names another than raw")
    }),
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
    /// Echo only: pause before each reply, like the lesson's time.sleep(1) [default: 0]
    #[arg(long, value_name = "MS")]
    pub delay_ms: Option<u64>,
    /// Pool and event-workers modes: worker threads (default: number of CPUs)
    #[arg(long)]
    pub workers: Option<usize>,
    /// Event modes: event loops (default: number of CPUs); with 1, a slow
    /// handler in event mode makes every client wait, as in serial mode
    #[arg(long)]
    pub loops: Option<usize>,
    /// Threads mode: connections served at once
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// Listen backlog of each server
    #[arg(long, default_value_t = 4096)]
    pub backlog: u32,
    /// Output format; table and csv print each mode's row as soon as it is measured
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Also draw throughput, wait and latency per mode into this file (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Also print who was served when: a row per client per mode (to stderr with --format json or csv)
    #[arg(long)]
    pub timeline: bool,
    /// Also draw who was served when into this file (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub timeline_svg: Option<PathBuf>,
    /// Exit 0 even when errors occurred, or a mode answered no client at all
    #[arg(long)]
    pub allow_errors: bool,
    /// Compare running servers instead of this program's modes: NAME=ADDR,
    /// repeatable, in order (e.g. --server serial=127.0.0.1:9998
    /// --server threads=127.0.0.1:9996): any server, in any language
    #[arg(
        long = "server",
        value_name = "NAME=ADDR",
        value_parser = parse_server,
        conflicts_with_all = ["modes", "delay_ms", "workers", "loops", "max_connections", "backlog"],
    )]
    pub servers: Vec<NamedServer>,
    /// Run each measurement this many times, interleaved across the modes
    /// or servers, and report the median run with the min and max of its
    /// figures (one run on a shared machine can be off by far)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
}

/// A running server `compare --server` measures: its name in the table
/// and pictures, and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedServer {
    /// The label: `serial`, `py-threads`, ...
    pub name: String,
    /// `HOST:PORT`.
    pub addr: String,
}

/// `NAME=ADDR`, both non-empty.
fn parse_server(text: &str) -> Result<NamedServer, String> {
    match text.split_once('=') {
        Some((name, addr)) if !name.is_empty() && !addr.is_empty() => Ok(NamedServer {
            name: name.to_string(),
            addr: addr.to_string(),
        }),
        _ => Err(format!(
            "`{text}` is not NAME=ADDR, e.g. serial=127.0.0.1:9998"
        )),
    }
}

/// `--modes` default: every mode, in the order of [`Mode::ALL`], so a new
/// mode is compared without touching this file.
fn every_mode() -> &'static str {
    static NAMES: LazyLock<String> = LazyLock::new(|| Mode::ALL.map(Mode::name).join(","));
    &NAMES
}

/// What `compare` serves in each mode: the built-in echo, or a program's
/// own handler with the program's default settings, so a protocol built
/// on [`run_cli`](crate::run_cli) is compared as it is served.
///
/// The program's defaults give every setting compare has no flag for
/// (timeouts, message limits, ...); its framing is `--framing`'s default.
#[derive(Clone)]
pub(crate) struct ServeSpec {
    /// Shown in captions: `echo`, or the program's name.
    name: String,
    /// `None` for the built-in echo, which takes `--delay-ms`.
    factory: Option<Arc<HandlerFactory>>,
    defaults: Config,
}

impl ServeSpec {
    /// The built-in echo handler with the lesson's defaults; `--delay-ms`
    /// sets its pause.
    pub(crate) fn echo() -> ServeSpec {
        ServeSpec {
            name: "echo".into(),
            factory: None,
            defaults: Config::default(),
        }
    }

    /// A program's own handler: `factory` makes one per connection,
    /// `defaults` are the program's settings, `name` is shown in captions.
    pub(crate) fn custom(
        name: impl Into<String>,
        defaults: Config,
        factory: Arc<HandlerFactory>,
    ) -> ServeSpec {
        ServeSpec {
            name: name.into(),
            factory: Some(factory),
            defaults,
        }
    }

    /// The framing of server and clients: `--framing`, whose default a
    /// program built on `run_cli` sets to its own framing.
    fn framing(&self, args: &CompareArgs) -> Framing {
        args.load.framing
    }

    /// The server settings of `mode`: the program's defaults, then
    /// compare's flags.
    fn config(&self, args: &CompareArgs, mode: Mode) -> Config {
        let mut config = self.defaults.clone();
        config.address = "127.0.0.1:0".into();
        config.mode = mode;
        config.framing = self.framing(args);
        config.max_connections = args.max_connections;
        config.backlog = args.backlog;
        if let Some(w) = args.workers {
            config.workers = w;
        }
        if let Some(l) = args.loops {
            config.loops = l;
        }
        config
    }

    /// A fresh handler factory for one server.
    fn factory(&self, args: &CompareArgs) -> Box<HandlerFactory> {
        match &self.factory {
            Some(f) => {
                let f = Arc::clone(f);
                Box::new(move || f())
            }
            None => {
                let delay = std::time::Duration::from_millis(args.delay_ms.unwrap_or(0));
                Box::new(move || Box::new(EchoHandler::new(delay)))
            }
        }
    }

    /// What the comparison was run with, for captions and the table.
    fn params(&self, args: &CompareArgs, rows: &[(String, BenchReport)]) -> RunParams {
        let bench = bench_args(args, self, "");
        // Servers of their own: nothing of compare's set them up.
        let own = !args.servers.is_empty();
        RunParams {
            per: if own { "server" } else { "mode" },
            runs: args.repeat.max(1) as usize,
            handler: if own {
                String::new()
            } else {
                self.name.clone()
            },
            clients: bench.load.clients,
            messages: bench.load.messages,
            duration_secs: bench.load.duration,
            size: bench.load.size,
            request: bench.load.request.clone(),
            delay_ms: (!own && self.factory.is_none()).then(|| args.delay_ms.unwrap_or(0)),
            framing: bench.load.framing,
            workers: if own {
                0
            } else {
                args.workers.unwrap_or(self.defaults.workers)
            },
            loops: if !own
                && args
                    .modes
                    .iter()
                    .any(|m| matches!(m, Mode::Event | Mode::EventWorkers))
            {
                args.loops.unwrap_or(self.defaults.loops)
            } else {
                0
            },
            churn: bench.load.churn,
            warmup_secs: bench.load.warmup,
            rate: rows.first().and_then(|(_, r)| r.rate),
        }
    }
}

/// The rows' labels: the servers' names, or the modes'.
fn labels(args: &CompareArgs) -> Vec<String> {
    if args.servers.is_empty() {
        args.modes.iter().map(|m| m.name().to_string()).collect()
    } else {
        args.servers.iter().map(|s| s.name.clone()).collect()
    }
}

/// One run of `mode` on a fresh in-process server. The server logs when
/// each handler call begins, so a request waiting for a worker or a loop
/// is told from one being served.
fn run_mode(args: &CompareArgs, spec: &ServeSpec, mode: Mode) -> Result<BenchReport, String> {
    let calls = Arc::new(CallLog::default());
    let server = Server::bind_logging(
        spec.config(args, mode),
        spec.factory(args),
        Some(calls.clone()),
    )
    .map_err(|e| format!("{mode}: {e}"))?
    .spawn();
    log::info!("compare: {mode} mode on {}", server.local_addr());
    let mut bench = bench_args(args, spec, &server.local_addr().to_string());
    bench.calls = ServerCalls(Some(calls));
    // Requests are recorded to be matched with the calls.
    bench.timeline = true;
    let report = run_bench(&bench).map_err(|e| format!("{mode}: {e}"));
    server.stop();
    report
}

/// The bench each mode gets: compare's load, at `addr`.
fn bench_args(args: &CompareArgs, spec: &ServeSpec, addr: &str) -> BenchArgs {
    let mut bench = BenchArgs::new(addr);
    bench.load = args.load.clone();
    bench.load.framing = spec.framing(args);
    bench.load.duration = match args.load.messages {
        Some(_) => None,
        None => Some(args.load.duration.unwrap_or(3.0)),
    };
    bench.no_progress = true;
    bench.timeline = args.timeline || args.timeline_svg.is_some();
    bench
}

/// Runs the bench against each mode in turn with the built-in echo
/// handler; one labelled report per mode, ready for
/// [`render_comparison`](super::render_comparison) and
/// [`plot_svg`](super::plot_svg). `Err` names the mode whose server or
/// bench could not run.
pub fn run_compare(args: &CompareArgs) -> Result<Vec<(String, BenchReport)>, String> {
    run_compare_with(args, &ServeSpec::echo(), |_, _| {})
}

/// [`run_compare`] for any handler: calls `on_row` with each mode's report
/// as soon as that mode is done, so a person watches the comparison grow.
pub(crate) fn run_compare_with(
    args: &CompareArgs,
    spec: &ServeSpec,
    mut on_row: impl FnMut(&str, &BenchReport),
) -> Result<Vec<(String, BenchReport)>, String> {
    let labels = labels(args);
    // Round by round, every mode or server once a round, so a machine
    // busy for a while slows all of them alike.
    let mut runs: Vec<Vec<BenchReport>> = vec![Vec::new(); labels.len()];
    for round in 0..args.repeat.max(1) {
        for (i, label) in labels.iter().enumerate() {
            if args.repeat > 1 {
                eprintln!("compare: {label}, run {} of {}", round + 1, args.repeat);
            }
            let report = match args.servers.get(i) {
                Some(server) => run_bench(&bench_args(args, spec, &server.addr))
                    .map_err(|e| format!("{label} ({}): {e}", server.addr))?,
                None => run_mode(args, spec, args.modes[i])?,
            };
            runs[i].push(report);
        }
    }
    let mut rows = Vec::new();
    for (label, runs) in labels.into_iter().zip(runs) {
        let Some(mut report) = combine(runs) else {
            continue;
        };
        if !views(args).need_timeline() {
            report.timeline.clear();
        }
        on_row(&label, &report);
        rows.push((label, report));
    }
    Ok(rows)
}

/// `tcpmodes compare` with the built-in echo handler: prints the
/// comparison as it runs, draws what was asked, and exits non-zero when a
/// mode answered nobody or requests failed (unless `--allow-errors`), so a
/// script or CI can run the lesson's demonstration as a check.
///
/// The lesson's whole point fits in one line:
///
/// ```text
/// tcpmodes compare --clients 2 --messages 3 --delay-ms 1000 --timeline
/// ```
///
/// where serial takes about twice as long as threads: its second client
/// waits while the first is served.
pub fn main_compare(args: &CompareArgs) -> ExitCode {
    main_compare_with(args, &ServeSpec::echo())
}

/// [`main_compare`] for any handler ([`ServeSpec`]).
///
/// Exit status: 0 when every mode answered some client (clients left
/// waiting by serial or a small pool are the lesson's result, not an
/// error); 1 when a mode answered no client at all or requests failed
/// (unless `--allow-errors`), or a picture could not be written; 2, with
/// one line on stderr and before anything runs, when the flags are wrong
/// or a picture's file cannot be written; 2 also when a mode's server or
/// bench cannot start.
pub(crate) fn main_compare_with(args: &CompareArgs, spec: &ServeSpec) -> ExitCode {
    if let Err(e) = preflight(args, spec) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let widths = labels(args).iter().map(|l| l.chars().count()).max();
    let shape = Shape {
        label_width: widths.unwrap_or(0),
        clients: args.load.clients,
        churn: args.load.churn,
        not_echo: false,
        queue: args.servers.is_empty(),
        repeat: args.repeat > 1,
    };
    let stream = ComparisonStream::new(args.format, &shape);
    let table = args.format == OutputFormat::Table;
    if table {
        emit(&format!("compare: {}\n", spec.params(args, &[]).line()));
    }
    emit(&stream.header());
    let rows = match run_compare_with(args, spec, |l, r| emit(&stream.row(l, r))) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    emit(&stream.end(&rows));
    if table {
        emit(&notes(&shape));
    }
    let params = spec.params(args, &rows);
    let drawn = views(args).show(&rows, &params, table, emit);
    let problems = verdict(&rows);
    for p in &problems {
        let level = if args.allow_errors {
            "warning"
        } else {
            "error"
        };
        eprintln!("{level}: {p}");
    }
    if !drawn || (!problems.is_empty() && !args.allow_errors) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// The views compare's flags ask for.
fn views(args: &CompareArgs) -> Views {
    Views {
        timeline: args.timeline,
        timeline_svg: args.timeline_svg.clone(),
        plot: args.plot.clone(),
    }
}

/// Writes `text` to stdout at once: a row must show while the next mode
/// runs, and a closed pipe must not panic the program.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Everything that can be refused before a run, so a wrong flag or a
/// chart path that cannot be written costs no waiting: one line.
fn preflight(args: &CompareArgs, spec: &ServeSpec) -> Result<(), String> {
    if spec.factory.is_some() && args.delay_ms.is_some() {
        return Err(format!(
            "--delay-ms applies to the built-in echo handler only; {} has its own timing",
            spec.name
        ));
    }
    if args.modes.is_empty() {
        return Err("--modes names no mode".into());
    }
    if spec.defaults.has_own_codec() {
        return Err(format!(
            "{} frames its messages with its own codec ({}), which compare's clients do not \
             speak: measure it with its protocol's own tool (redis-benchmark for RESP)",
            spec.name,
            spec.defaults.codec_name()
        ));
    }
    views(args).check()?;
    flags::check(&bench_args(args, spec, "127.0.0.1:1")).map_err(|e| e.to_string())?;
    for &mode in &args.modes {
        spec.config(args, mode)
            .validate()
            .map_err(|e| format!("{mode}: {e}"))?;
    }
    Ok(())
}

/// What makes the run a failure, one line each: a mode that answered no
/// client at all (nothing was measured, so its row means nothing), and
/// failed requests. Clients a mode left waiting are not here: showing
/// them is the point of the comparison.
fn verdict(rows: &[(String, BenchReport)]) -> Vec<String> {
    let mut problems: Vec<String> = rows
        .iter()
        .filter(|(_, r)| r.clients_answered == 0)
        .map(|(mode, r)| {
            format!(
                "{mode}: no client was answered at all ({} requests sent, {} failed)",
                r.sent, r.errors.total
            )
        })
        .collect();
    let errors: u64 = rows.iter().map(|(_, r)| r.errors.total).sum();
    if errors > 0 {
        problems.push(format!("{errors} requests failed (see the errors column)"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plot::tests::lesson_rows;
    use clap::Parser;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        compare: CompareArgs,
    }

    fn parse(args: &[&str]) -> CompareArgs {
        Cli::try_parse_from(std::iter::once("compare").chain(args.iter().copied()))
            .unwrap()
            .compare
    }

    #[test]
    fn clients_left_waiting_are_the_lesson_not_a_failure() {
        assert!(verdict(&lesson_rows()).is_empty());
    }

    #[test]
    fn a_mode_that_answered_nobody_fails_by_name() {
        let mut rows = lesson_rows();
        rows[2].1.clients_answered = 0;
        let problems = verdict(&rows);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("pool: no client was answered"),
            "{problems:?}"
        );
    }

    #[test]
    fn flags_set_the_timeline_and_the_defaults() {
        let args = parse(&[]);
        assert_eq!(args.modes, Mode::ALL);
        let bench = bench_args(&args, &ServeSpec::echo(), "x");
        assert_eq!((bench.load.clients, bench.load.duration), (4, Some(3.0)));
        assert!(!bench.timeline);
        assert!(bench_args(&parse(&["--timeline"]), &ServeSpec::echo(), "x").timeline);
        let args = parse(&["--timeline-svg", "t.png", "--messages", "2"]);
        let bench = bench_args(&args, &ServeSpec::echo(), "x");
        assert!(bench.timeline && bench.load.duration.is_none());
    }

    #[test]
    fn bad_flags_and_paths_are_refused_before_running() {
        let spec = ServeSpec::echo();
        let e = preflight(&parse(&["--plot", "chart.jpg"]), &spec).unwrap_err();
        assert!(
            e.contains("--plot chart.jpg") && e.contains(".svg or .png"),
            "{e}"
        );
        let e = preflight(&parse(&["--timeline-svg", "/no/such/dir/t.svg"]), &spec).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = preflight(&parse(&["--clients", "0"]), &spec).unwrap_err();
        assert!(e.contains("--clients"), "{e}");
        let e = preflight(&parse(&["--workers", "0"]), &spec).unwrap_err();
        assert!(e.starts_with("serial: ") && e.contains("workers"), "{e}");
        assert_eq!(preflight(&parse(&["--delay-ms", "5"]), &spec), Ok(()));
    }

    fn counting_echo(made: &Arc<AtomicUsize>, defaults: Config) -> ServeSpec {
        let made = Arc::clone(made);
        ServeSpec::custom(
            "counting-echo",
            defaults,
            Arc::new(move || {
                made.fetch_add(1, Ordering::SeqCst);
                Box::new(EchoHandler::default())
            }),
        )
    }

    #[test]
    fn a_custom_handler_is_served_in_every_mode_with_its_framing() {
        let made = Arc::new(AtomicUsize::new(0));
        let spec = counting_echo(&made, Config::default().with_framing(Framing::Line));
        // The program's framing is `--framing`'s default on its command
        // line (set by `Program`); here it is given as that default would be.
        let args = parse(&["--clients", "2", "--messages", "3", "--framing", "line"]);
        let mut streamed = Vec::new();
        let rows = run_compare_with(&args, &spec, |l, _| streamed.push(l.to_string())).unwrap();
        assert_eq!(streamed, Mode::ALL.map(Mode::name));
        for (mode, r) in &rows {
            assert_eq!((r.replies_ok, r.errors.total), (6, 0), "{mode}: {r:?}");
            assert_eq!(r.framing, Framing::Line, "{mode}");
        }
        // Two clients (and the pre-flight connection) per mode, at least.
        assert!(made.load(Ordering::SeqCst) >= 6);
        assert_eq!(spec.params(&args, &rows).handler, "counting-echo");
        assert_eq!(spec.params(&args, &rows).delay_ms, None);
        // Another framing named on the command line wins.
        let args = parse(&[
            "--framing",
            "length",
            "--messages",
            "1",
            "--modes",
            "threads",
        ]);
        let rows = run_compare_with(&args, &spec, |_, _| {}).unwrap();
        assert_eq!(rows[0].1.framing, Framing::Length);
    }

    #[test]
    fn delay_is_refused_for_a_custom_handler() {
        let spec = counting_echo(&Arc::new(AtomicUsize::new(0)), Config::default());
        let e = preflight(&parse(&["--delay-ms", "0"]), &spec).unwrap_err();
        assert_eq!(
            e,
            "--delay-ms applies to the built-in echo handler only; counting-echo has its own timing"
        );
    }
}
