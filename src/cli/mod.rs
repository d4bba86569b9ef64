//! The command line: flags over the config file over the defaults, then run.
//!
//! [`run_cli`] gives any handler the whole program (`--config`, `--mode`,
//! every flag, logging, Ctrl+C) from one line of `main`, so an example
//! protocol is as easy to run in every mode as the built-in echo.

mod child;
mod logging;
mod program;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::bench::{ServeSpec, main_compare_with};
use crate::config::{Config, SettingFlags};
use crate::echo::EchoHandler;
use crate::error::{ConfigError, Error};
use crate::handler::{Handler, HandlerFactory};
use crate::mode::Mode;
use crate::server::{Server, Summary};
pub use program::Program;
use program::Served;

/// tcpmodes: one protocol handler, served one client at a time, a thread per
/// client, from a thread pool, or from event loops. With no subcommand it
/// serves.
#[derive(Debug, Parser)]
#[command(name = "tcpmodes", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load-test a running server and report msgs/s, wait and latency
    /// percentiles, and errors.
    Bench(crate::bench::BenchArgs),
    /// Run the same benchmark against each mode of this server, in-process,
    /// side by side.
    Compare(crate::bench::CompareArgs),
}

/// Server settings from the command line; each overrides the config file.
/// Defaults are listed in `config.toml`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML file with settings (default: ./config.toml when it exists)
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: SettingFlags,
    /// More log output (-v debug, -vv trace); RUST_LOG overrides
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less log output (-q warnings only, -qq errors only)
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    quiet: u8,
    /// Run as one of the extra processes of a `processes = N` server: no
    /// `Listening on` line, stop when stdin closes, hand the summary to
    /// the first process (`child.rs`). Only that process passes it.
    #[arg(long, hide = true)]
    child: bool,
}

impl ServeArgs {
    /// Settings over a program's own `defaults` (see [`run_cli_with`]):
    /// then the config file, then the flags; validated. `implicit_file`
    /// says whether `./config.toml` is read without `--config`: only the
    /// `tcpmodes` binary does that, because that file is written for it (a
    /// line protocol run from this repository must not pick up its
    /// `framing = "raw"`).
    fn to_config_over(
        &self,
        defaults: &Config,
        implicit_file: bool,
    ) -> Result<(Config, Option<PathBuf>), ConfigError> {
        let (mut c, file) = defaults
            .clone()
            .load(self.config.as_deref(), implicit_file)?;
        self.settings.apply(&mut c);
        c.validate()?;
        Ok((c, file))
    }
}

/// The handlers the `tcpmodes` binary can serve by name (`handler = "echo"`).
const BUILTIN_HANDLERS: [&str; 1] = ["echo"];

/// The built-in handler named by `config.handler`, as a factory.
fn builtin_factory(config: &Config) -> Result<Box<HandlerFactory>, ConfigError> {
    match config.handler.as_str() {
        "echo" => {
            let delay = std::time::Duration::from_millis(config.delay_ms);
            Ok(Box::new(move || Box::new(EchoHandler::new(delay))))
        }
        other => Err(ConfigError::new(
            config.origin("handler").map(str::to_string),
            format!(
                "handler: unknown handler `{other}`; built in: {}",
                BUILTIN_HANDLERS.join(", ")
            ),
        )),
    }
}

/// The `tcpmodes` program itself (its `main` is this one call): serves the
/// built-in handler the settings name, reading `./config.toml` when present.
pub fn run_builtin() -> ExitCode {
    Program::tcpmodes().run_served(Served::Builtin)
}

/// A whole server program for your handler: parses the command line, reads
/// the config file given with `--config`, sets up logging and Ctrl+C,
/// serves in the chosen mode, prints the summary at exit; its `compare`
/// subcommand compares the modes on *your* handler. (Only the `tcpmodes`
/// binary also reads `./config.toml` unasked: that file is written for
/// it.) `main` is one line:
///
/// ```no_run
/// # use tcpmodes::{Action, Context, Handler};
/// # #[derive(Default)] struct MyHandler;
/// # impl Handler for MyHandler {
/// #     fn on_message(&mut self, _: &[u8], _: &mut Context<'_>) -> Action { Action::Continue }
/// # }
/// fn main() -> std::process::ExitCode {
///     tcpmodes::run_cli(MyHandler::default)
/// }
/// ```
///
/// The program is named after its executable; [`Program`] also gives it a
/// description and a version for `--help`. The echo-only settings
/// (`handler`, `delay_ms`) are hidden from its help and refused as flags.
pub fn run_cli<H, F>(factory: F) -> ExitCode
where
    H: Handler,
    F: Fn() -> H + Send + Sync + 'static,
{
    Program::from_executable().run(factory)
}

/// [`run_cli`] for a protocol that needs other defaults than the lesson's,
/// most often its framing: a line protocol passes `framing = Line` here so
/// its users need not remember `--framing line`. The config file and the
/// flags still override these defaults, so every setting stays changeable:
///
/// ```no_run
/// # use tcpmodes::{Action, Context, Handler};
/// # #[derive(Default)] struct MyHandler;
/// # impl Handler for MyHandler {
/// #     fn on_message(&mut self, _: &[u8], _: &mut Context<'_>) -> Action { Action::Continue }
/// # }
/// use tcpmodes::{Config, Framing};
///
/// fn main() -> std::process::ExitCode {
///     let defaults = Config::default().with_framing(Framing::Line);
///     tcpmodes::run_cli_with(defaults, MyHandler::default)
/// }
/// ```
pub fn run_cli_with<H, F>(defaults: Config, factory: F) -> ExitCode
where
    H: Handler,
    F: Fn() -> H + Send + Sync + 'static,
{
    Program::from_executable().defaults(defaults).run(factory)
}

/// Serves after the command line is parsed; `program` says who we are.
fn run(program: &Program, cli: Cli, served: Served) -> ExitCode {
    // compare runs servers in this process: their per-connection lines
    // would bury the table, so it logs warnings only unless -v is given.
    let quieter = u8::from(matches!(cli.command, Some(Command::Compare(_))));
    logging::init(cli.serve.verbose, cli.serve.quiet + quieter);
    match cli.command {
        Some(Command::Bench(args)) => return crate::bench::main_bench(&args),
        Some(Command::Compare(args)) => {
            return match &served {
                Served::Builtin => crate::bench::main_compare(&args),
                Served::Custom(factory) => {
                    let spec = ServeSpec::custom(
                        program.name.clone(),
                        program.defaults.clone(),
                        factory.clone(),
                    );
                    main_compare_with(&args, &spec)
                }
            };
        }
        None => {}
    }
    let builtin = matches!(served, Served::Builtin);
    let (config, file) = match cli.serve.to_config_over(&program.defaults, builtin) {
        Ok(c) => c,
        Err(e) => return fail(&e, 2),
    };
    let (factory, handler_name) = match served {
        Served::Custom(f) => {
            if let Err(e) = program.check_echo_only(&config) {
                return fail(&e, 2);
            }
            let shared = f.clone();
            let factory: Box<HandlerFactory> = Box::new(move || shared());
            (factory, program.name.clone())
        }
        Served::Builtin => match builtin_factory(&config) {
            Ok(f) => (f, config.handler.clone()),
            Err(e) => return fail(&e, 2),
        },
    };
    let server = match Server::bind_boxed(config, factory) {
        Ok(s) => s,
        Err(e) => return fail(&with_flag_hint(e), 1),
    };
    let child = cli.serve.child;
    let c = server.config();
    if c.processes > 1 || child {
        // Several processes write to one terminal: say who logs.
        logging::tag_with_pid();
    }
    // Before the first line: once a script sees it, Ctrl+C or SIGTERM must
    // already mean a graceful shutdown, not the default instant death.
    if let Err(e) = server.shutdown_handle().trigger_on_signals() {
        log::warn!("Ctrl+C will not shut down gracefully: {e}");
    }
    if child {
        return run_child(server);
    }
    let supervisor = if c.processes > 1 {
        let timeout = std::time::Duration::from_millis(c.shutdown_timeout_ms);
        match supervisor::Supervisor::start(c.processes, server.local_addr(), timeout) {
            Ok(s) => {
                server.shutdown_handle().on_trigger(s.stopper());
                Some(s)
            }
            Err(e) => return fail(&e, 1),
        }
    } else {
        None
    };
    let detail = match c.mode {
        Mode::Serial => String::new(),
        Mode::Threads => format!(", max_connections {}", c.max_connections),
        Mode::Pool => format!(", workers {}", c.workers),
        Mode::Event => format!(", loops {}", c.loops),
        Mode::EventWorkers => format!(", loops {}, workers {}", c.loops, c.workers),
    };
    let procs = if c.processes > 1 {
        format!(", processes {}", c.processes)
    } else {
        String::new()
    };
    let from = file.map_or(String::new(), |f| format!(", config {}", f.display()));
    // The first stdout line; scripts read the port from it. With several
    // processes it comes once every one of them listens.
    println!(
        "Listening on {} (mode {}{detail}{procs}, handler {handler_name}, framing {}{from})",
        server.local_addr(),
        c.mode,
        c.codec_name()
    );
    let mut summary = server.run();
    match supervisor {
        Some(s) => {
            let children = s.finish();
            for other in &children {
                summary.add(other);
            }
            println!("{summary} ({} processes)", children.len() + 1);
        }
        None => println!("{summary}"),
    }
    ExitCode::SUCCESS
}

/// One of the extra processes: says it listens, serves until the first
/// process closes its stdin (or a signal), and hands its summary back.
fn run_child(server: Server) -> ExitCode {
    if let Err(e) = child::watch_parent(server.shutdown_handle()) {
        return fail(&format!("cannot watch the first process: {e}"), 1);
    }
    child::report_ready();
    let summary: Summary = server.run();
    child::report_summary(&summary);
    ExitCode::SUCCESS
}

/// On the command line, the port is changed with a flag: say which.
fn with_flag_hint(e: Error) -> String {
    e.bind_text("pick another with --addr")
}

fn fail(e: &dyn std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(code)
}
