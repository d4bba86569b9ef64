//! Start-up errors, each shown to the user as one line that says what to fix.

use std::fmt;
use std::io;

use crate::config::{ConfigError, io_text};

/// Why a server could not start. Once it runs, nothing that happens on one
/// connection is an `Error` of the server: it is logged and the server goes on.
#[derive(Debug)]
pub enum Error {
    /// A setting is wrong; the message names where it came from.
    Config(ConfigError),
    /// The address could not be bound or listened on.
    Bind {
        /// The address as configured.
        address: String,
        /// Where the address came from (`file:line`, `--addr`, `default`).
        origin: String,
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
            Error::Bind {
                address,
                origin,
                source,
            } => {
                if origin != "default" {
                    write!(f, "{origin}: ")?;
                }
                write!(f, "cannot listen on {address}: {}", io_text(source))?;
                match source.kind() {
                    io::ErrorKind::AddrInUse => {
                        f.write_str(" (another server uses this port; pick another with --addr)")
                    }
                    io::ErrorKind::PermissionDenied => {
                        f.write_str(" (ports below 1024 need extra rights; use a port above 1024)")
                    }
                    io::ErrorKind::AddrNotAvailable => {
                        f.write_str(" (this machine has no such address; try 127.0.0.1)")
                    }
                    _ => Ok(()),
                }
            }
            Error::Start(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}
