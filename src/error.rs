//! Errors a user sees, each as one line that says what to fix.
//!
//! [`ConfigError`] is a setting that cannot be used, [`Error`] a server that
//! cannot start. Once a server runs, nothing that happens on one connection
//! is an error of the server: it is logged and the server goes on.

use std::fmt;
use std::io;

/// A setting or configuration file that cannot be used. Its `Display` is
/// the one line the user sees: where the value came from (`file:line` or
/// `--flag`, when it came from either), the key, and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// `file:line`, `--flag`, or the file alone when it cannot be read;
    /// `None` for a value set in code (`Config::with_*`, or a default).
    pub origin: Option<String>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(origin: Option<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Why a server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A setting is wrong; the message names where it came from.
    Config(ConfigError),
    /// The address could not be bound or listened on.
    Bind {
        /// The address as configured.
        address: String,
        /// Where the address came from (`file:line`, `--addr`), if not code.
        origin: Option<String>,
        /// What the system said.
        source: io::Error,
    },
    /// Something else the server needs could not be set up (a thread pool,
    /// a poller).
    Start(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => e.fmt(f),
            Error::Bind { .. } => f.write_str(&self.bind_text("pick another port")),
            Error::Start(m) => f.write_str(m),
        }
    }
}

impl Error {
    /// The one line for a bind failure; `pick` says how to choose another
    /// port (a program with flags names its flag).
    pub(crate) fn bind_text(&self, pick: &str) -> String {
        let Error::Bind {
            address,
            origin,
            source,
        } = self
        else {
            return self.to_string();
        };
        let at = origin.as_ref().map_or(String::new(), |o| format!("{o}: "));
        let hint = match source.kind() {
            io::ErrorKind::AddrInUse => format!(" (another server uses this port; {pick})"),
            io::ErrorKind::PermissionDenied => {
                " (ports below 1024 need extra rights; use a port above 1024)".to_string()
            }
            io::ErrorKind::AddrNotAvailable => {
                " (this machine has no such address; try 127.0.0.1)".to_string()
            }
            _ => String::new(),
        };
        format!("{at}cannot listen on {address}: {}{hint}", io_text(source))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Bind { source, .. } => Some(source),
            Error::Start(_) => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

/// An I/O error's text without the "(os error N)" suffix users need not see.
pub(crate) fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
