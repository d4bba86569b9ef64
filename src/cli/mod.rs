//! The command line: flags over the config file over the defaults, then run.
//!
//! [`run_cli`] gives any handler the whole program (`--config`, `--mode`,
//! every flag, logging, Ctrl+C) from one line of `main`, so an example
//! protocol is as easy to run in every mode as the built-in echo.

mod child;
mod logging;
mod program;
mod supervisor;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::bench::{CompareArgs, ServeSpec, main_compare_with};
use crate::config::{Config, SettingFlags, read_file};
use crate::error::{ConfigError, Error};
use crate::handler::{Handler, HandlerFactory};
use crate::program::echo_settings::{self, EchoSettings};
use crate::program::run_settings::{self, RunSettings};
use crate::server::{Server, Summary};
use crate::settings::check_keys;
pub use program::Program;
use program::Served;

/// The file the `tcpmodes` program reads when no `--config` is given.
const DEFAULT_CONFIG_FILE: &str = "config.toml";

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
    Compare(CompareArgs),
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
    #[command(flatten)]
    run: run_settings::SettingFlags,
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

/// Everything one run of a program reads: the server's settings, the
/// runner's, and (the `tcpmodes` program only) its echo's.
struct Settings {
    config: Config,
    run: RunSettings,
    echo: Option<EchoSettings>,
    /// The config file read, for the start-up line.
    file: Option<PathBuf>,
}

impl Settings {
    /// The program's defaults, then the config file, then the flags;
    /// validated. `echo` holds the echo's flags for the `tcpmodes`
    /// program, which alone reads `./config.toml` unasked (that file is
    /// written for it: a line protocol run from this repository must not
    /// pick up its `framing = "raw"`).
    fn load(
        program: &Program,
        args: &ServeArgs,
        echo: Option<&echo_settings::SettingFlags>,
    ) -> Result<Settings, ConfigError> {
        let path = match (&args.config, echo) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(_)) => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
            (None, None) => None,
        };
        let mut s = Settings {
            config: program.defaults.clone(),
            run: program.run.clone(),
            echo: echo.map(|_| EchoSettings::default()),
            file: path.clone(),
        };
        if let Some(path) = &path {
            s.merge_file(path)?;
        }
        args.settings.apply(&mut s.config);
        args.run.apply(&mut s.run);
        if let (Some(settings), Some(flags)) = (&mut s.echo, echo) {
            flags.apply(settings);
        }
        s.config.validate()?;
        s.run.validate()?;
        if s.run.processes > 1 {
            s.config.reuse_port = true;
        }
        Ok(s)
    }

    /// Each group takes its keys from the file; a key no group takes is
    /// refused, and the echo's in another program's file are ignored with
    /// a warning (the shared presets in `modes/` set `delay_ms`).
    fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let (text, name) = read_file(path)?;
        self.merge_text(&text, &name)
    }

    fn merge_text(&mut self, text: &str, name: &str) -> Result<(), ConfigError> {
        let echo_keys = crate::program::GROUPS[1..].to_vec();
        let (known, foreign): (&[&[&str]], _) = match self.echo {
            Some(_) => (
                &[Config::KEYS, RunSettings::KEYS, EchoSettings::KEYS],
                &[][..],
            ),
            None => (&[Config::KEYS, RunSettings::KEYS], &echo_keys[..]),
        };
        for warning in check_keys(text, name, known, foreign)? {
            log::warn!("{warning}");
        }
        self.config.merge_toml(text, name)?;
        self.run.merge_toml(text, name)?;
        if let Some(echo) = &mut self.echo {
            echo.merge_toml(text, name)?;
        }
        Ok(())
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
/// description, a version for `--help`, and its own default settings.
pub fn run_cli<H, F>(factory: F) -> ExitCode
where
    H: Handler,
    F: Fn() -> H + Send + Sync + 'static,
{
    Program::from_executable().run(factory)
}

/// [`run_cli`] with other defaults than the lesson's: now
/// `Program::new(name).defaults(defaults).run(factory)`, which also names
/// the program in its `--help`.
#[deprecated(note = "use Program::new(name).defaults(defaults).run(factory)")]
pub fn run_cli_with<H, F>(defaults: Config, factory: F) -> ExitCode
where
    H: Handler,
    F: Fn() -> H + Send + Sync + 'static,
{
    Program::from_executable().defaults(defaults).run(factory)
}

/// Whether `/proc/PID/status` exists here, which `bench --idle --pid` reads.
const HAS_PROC: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Runs the command the line asks for; `program` says who we are.
fn run(
    program: &Program,
    cli: Cli,
    served: Served,
    echo: Option<echo_settings::SettingFlags>,
) -> ExitCode {
    // compare runs servers in this process: their per-connection lines
    // would bury the table, so it logs warnings only unless -v is given.
    let quieter = u8::from(matches!(cli.command, Some(Command::Compare(_))));
    logging::init(cli.serve.verbose, cli.serve.quiet + quieter);
    match cli.command {
        Some(Command::Bench(args)) if args.pid.is_some() && !HAS_PROC => {
            eprintln!(
                "bench: --pid is Linux-only: it reads the server's memory and threads from \
                 /proc/PID/status, which this system does not have; run bench --idle without it"
            );
            ExitCode::from(2)
        }
        Some(Command::Bench(args)) => crate::bench::main_bench(&args),
        Some(Command::Compare(args)) => compare(program, &args, &served),
        None => match Settings::load(program, &cli.serve, echo.as_ref()) {
            Ok(settings) => serve(program, settings, served, cli.serve.child),
            Err(e) => fail(&e, 2),
        },
    }
}

/// `compare`: the modes side by side, on this program's handler.
fn compare(program: &Program, args: &CompareArgs, served: &Served) -> ExitCode {
    match served {
        Served::Builtin => crate::bench::main_compare(args),
        Served::Custom(factory) => {
            let spec = ServeSpec::custom(
                program.name.clone(),
                program.defaults.clone(),
                factory.clone(),
            );
            main_compare_with(args, &spec)
        }
    }
}

/// Serves until Ctrl+C or SIGTERM, with as many processes as asked.
fn serve(program: &Program, settings: Settings, served: Served, child: bool) -> ExitCode {
    let (factory, handler_name) = match (served, settings.echo) {
        (Served::Custom(f), _) => {
            let factory: Box<HandlerFactory> = Box::new(move || f());
            (factory, program.name.clone())
        }
        (Served::Builtin, echo) => {
            let echo = echo.unwrap_or_default();
            match echo.factory() {
                Ok(f) => (f, echo.handler),
                Err(e) => return fail(&e, 2),
            }
        }
    };
    let processes = settings.run.processes;
    let server = match Server::bind_boxed(settings.config, factory) {
        Ok(s) => s,
        Err(e) => return fail(&with_flag_hint(e), 1),
    };
    if processes > 1 || child {
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
    // Only Linux's SO_REUSEPORT spreads new connections over the listeners
    // sharing a port; macOS and the BSDs give them to one of them (Windows
    // refused `processes` already, in `check_processes`).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    if processes > 1 {
        log::warn!(
            "processes: this system's kernel does not balance new connections across \
             processes sharing a port (Linux's SO_REUSEPORT does): one process may take \
             every client"
        );
    }
    let supervisor = if processes > 1 {
        let timeout = std::time::Duration::from_millis(server.config().shutdown_timeout_ms);
        match supervisor::Supervisor::start(processes, server.local_addr(), timeout) {
            Ok(s) => {
                server.shutdown_handle().on_trigger(s.stopper());
                Some(s)
            }
            Err(e) => return fail(&e, 1),
        }
    } else {
        None
    };
    println!(
        "{}",
        listening_line(&server, processes, &handler_name, settings.file.as_deref())
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

/// The first line on stdout, a contract scripts parse (they read the port
/// from it): `Listening on ADDR (mode ..., handler ..., framing ...)`.
/// With several processes it is printed once every one of them listens.
fn listening_line(server: &Server, processes: usize, handler: &str, file: Option<&Path>) -> String {
    let procs = if processes > 1 {
        format!(", processes {processes}")
    } else {
        String::new()
    };
    let from = file.map_or(String::new(), |f| format!(", config {}", f.display()));
    format!(
        "Listening on {} ({}{procs}, handler {handler}, framing {}{from})",
        server.local_addr(),
        server.describe(),
        server.config().codec_name()
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::Mode;

    /// The `tcpmodes` program's settings from `text`, as its file.
    fn read(text: &str, name: &str) -> Result<Settings, ConfigError> {
        let mut s = Settings {
            config: Config::default(),
            run: RunSettings::default(),
            echo: Some(EchoSettings::default()),
            file: None,
        };
        s.merge_text(text, name)?;
        s.config.validate()?;
        s.run.validate()?;
        Ok(s)
    }

    /// `config.toml` is the learner's list of every setting: each key of
    /// every group must be in it, set to its real default (the
    /// CPU-dependent `workers` and `loops` aside, which the file shows
    /// commented out).
    #[test]
    fn config_toml_lists_every_setting_with_its_default() {
        let text = include_str!("../../config.toml");
        let file = read(text, "config.toml").unwrap_or_else(|e| panic!("{e}"));
        let defaults = Config::default();
        assert_eq!(
            file.config
                .clone()
                .with_workers(defaults.workers)
                .with_loops(defaults.loops),
            defaults
        );
        assert_eq!(file.run, RunSettings::default());
        assert_eq!(file.echo, Some(EchoSettings::default()));
        for key in [Config::KEYS, RunSettings::KEYS, EchoSettings::KEYS].concat() {
            let set = text.lines().any(|l| {
                l.trim_start_matches('#')
                    .trim_start()
                    .split('=')
                    .next()
                    .map(str::trim)
                    == Some(key)
            });
            assert!(set, "config.toml does not mention `{key}`");
        }
    }

    /// Every preset in `modes/` is a valid configuration of its mode.
    #[test]
    fn presets_are_valid() {
        for (name, text, mode) in [
            (
                "serial.toml",
                include_str!("../../modes/serial.toml"),
                Mode::Serial,
            ),
            (
                "threads.toml",
                include_str!("../../modes/threads.toml"),
                Mode::Threads,
            ),
            (
                "pool.toml",
                include_str!("../../modes/pool.toml"),
                Mode::Pool,
            ),
            (
                "event.toml",
                include_str!("../../modes/event.toml"),
                Mode::Event,
            ),
            (
                "event-workers.toml",
                include_str!("../../modes/event-workers.toml"),
                Mode::EventWorkers,
            ),
        ] {
            let s = read(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.config.mode, mode, "{name}");
        }
    }

    /// Each group takes its own keys from one file; a key no group has is
    /// refused with its line, and another program ignores the echo's.
    #[test]
    fn one_file_feeds_every_group() {
        // Windows allows 1 process only (no SO_REUSEPORT); the origin still
        // shows the file's line was read.
        let n = if cfg!(windows) { 1 } else { 2 };
        let text = &format!("mode = \"pool\"\nprocesses = {n}\ndelay_ms = 300\n");
        let s = read(text, "t.toml").unwrap();
        assert_eq!(s.config.mode, Mode::Pool);
        assert_eq!(s.run.processes, n);
        assert_eq!(s.echo.as_ref().map(|e| e.delay_ms), Some(300));
        assert_eq!(s.run.origin("processes"), Some("t.toml:2"));
        let e = read("mode = \"pool\"\ndelay = 3\n", "t.toml")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("t.toml:2: unknown setting `delay`"),
            "{e}"
        );
        let mut other = Settings {
            config: Config::default(),
            run: RunSettings::default(),
            echo: None,
            file: None,
        };
        other.merge_text(text, "t.toml").unwrap();
        assert_eq!(other.run.processes, n);
    }
}
