//! [`Program`]: who a program built on tcpmodes says it is, and what it
//! serves.
//!
//! A protocol built with [`run_cli`](crate::run_cli) is its own program:
//! its `--help` must carry its name, description and version, not
//! tcpmodes'. Only the `tcpmodes` program has the flags of its built-in
//! echo (`--handler`, `--delay-ms`): they are added to its command line,
//! never hidden from another's.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, FromArgMatches};

use super::{Cli, run};
use crate::config::Config;
use crate::handler::{Handler, HandlerFactory};
use crate::program::echo_settings;
use crate::program::run_settings::RunSettings;

/// A server program around your handler: its name, description and
/// version for `--help`, and its default settings.
///
/// ```no_run
/// # use tcpmodes::{Action, Context, Handler};
/// # #[derive(Default)] struct Kv;
/// # impl Handler for Kv {
/// #     fn on_message(&mut self, _: &[u8], _: &mut Context<'_>) -> Action { Action::Continue }
/// # }
/// use tcpmodes::{Config, Framing, Program};
///
/// fn main() -> std::process::ExitCode {
///     Program::new("kv")
///         .about("A key-value store over a line protocol")
///         .version(env!("CARGO_PKG_VERSION"))
///         .defaults(Config::default().with_framing(Framing::Line))
///         .run(Kv::default)
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Program {
    pub(super) name: String,
    about: Option<String>,
    version: Option<String>,
    pub(super) defaults: Config,
    /// The runner's own defaults (`processes`), under file and flags.
    pub(super) run: RunSettings,
}

/// What a program serves: the built-in handler its settings name (the
/// `tcpmodes` program), or its own.
pub(super) enum Served {
    Builtin,
    Custom(Arc<HandlerFactory>),
}

impl Program {
    /// A program called `name` (as in its `--help` and usage line), with
    /// the lesson's default settings and no description or version.
    pub fn new(name: impl Into<String>) -> Program {
        Program {
            name: name.into(),
            about: None,
            version: None,
            defaults: Config::default(),
            run: RunSettings::default(),
        }
    }

    /// A program named after its executable, as [`run_cli`](crate::run_cli)
    /// makes.
    pub(super) fn from_executable() -> Program {
        let name = std::env::args()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "server".into());
        Program::new(name)
    }

    /// The `tcpmodes` program itself.
    pub(super) fn tcpmodes() -> Program {
        Program::new("tcpmodes")
            .about(env!("CARGO_PKG_DESCRIPTION"))
            .version(env!("CARGO_PKG_VERSION"))
    }

    /// The one-line description `--help` shows.
    pub fn about(mut self, text: impl Into<String>) -> Program {
        self.about = Some(text.into());
        self
    }

    /// The version `--version` prints; without one there is no
    /// `--version` flag.
    pub fn version(mut self, version: impl Into<String>) -> Program {
        self.version = Some(version.into());
        self
    }

    /// Default settings, under the config file and the flags: a line
    /// protocol sets its framing here so users need not pass `--framing`.
    pub fn defaults(mut self, config: Config) -> Program {
        self.defaults = config;
        self
    }

    /// How many processes serve the port unless the file or a flag says
    /// otherwise (the `processes` setting, which belongs to the program,
    /// not to a server's [`Config`]).
    pub fn processes(mut self, processes: usize) -> Program {
        self.run.processes = processes;
        self
    }

    /// Parses the command line and runs: serves `factory`'s handlers, or
    /// runs `bench` or `compare` (on this handler). Returns the exit code
    /// for `main`.
    pub fn run<H, F>(self, factory: F) -> ExitCode
    where
        H: Handler,
        F: Fn() -> H + Send + Sync + 'static,
    {
        self.run_served(Served::Custom(Arc::new(move || Box::new(factory()))))
    }

    pub(super) fn run_served(self, served: Served) -> ExitCode {
        let builtin = matches!(served, Served::Builtin);
        let mut cmd = self.command();
        if builtin {
            cmd = echo_settings::SettingFlags::augment_args(cmd);
        }
        let matches = cmd.get_matches();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        let echo = builtin.then(|| {
            echo_settings::SettingFlags::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
        });
        run(&self, cli, served, echo)
    }

    /// The clap command, dressed as this program.
    fn command(&self) -> clap::Command {
        let framing = self.defaults.framing.name();
        let mut cmd = Cli::command()
            // A later flag replaces an earlier one: the extra processes of
            // `processes = N` get the user's command line with their own
            // `--addr`, `--processes` and `--reuse-port` after it.
            .args_override_self(true)
            .name(self.name.clone())
            .bin_name(self.name.clone())
            // A program's own framing is what its bench and compare speak.
            .mut_subcommand("bench", |c| {
                c.mut_arg("framing", |a| a.default_value(framing))
            })
            .mut_subcommand("compare", |c| {
                c.mut_arg("framing", |a| a.default_value(framing))
            });
        cmd = match &self.about {
            Some(about) => cmd.about(about.clone()),
            // Not tcpmodes' own description, which the derive put there.
            None => cmd.about(None::<&str>),
        };
        cmd = match &self.version {
            Some(v) => cmd.version(v.clone()),
            None => cmd.disable_version_flag(true),
        };
        cmd
    }
}
