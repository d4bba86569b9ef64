//! Why a bench could not run at all.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a bench could not run at all, as opposed to errors *during* a run,
/// which are results and so are counted in the report
/// ([`ErrorCounts`](super::ErrorCounts)).
#[derive(Debug)]
pub enum BenchError {
    /// A flag is out of range or flags contradict each other.
    InvalidArgs(String),
    /// `--addr` did not resolve to any address.
    Resolve {
        /// The address as given.
        addr: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// Not a single connection could be made before the run, so there is
    /// nothing to measure (the server is not up, or the port is wrong).
    Connect {
        /// The address tried last.
        addr: SocketAddr,
        /// The error of that try.
        source: io::Error,
    },
    /// The generator itself failed (creating a poller or a thread).
    Io(io::Error),
    /// A file the flags asked for (`--histogram`) could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: io::Error,
    },
}

impl BenchError {
    /// Whether the user can fix this by changing the command line or
    /// starting the server: `main_bench` exits 2 for those, 1 otherwise.
    pub fn is_usage(&self) -> bool {
        !matches!(self, BenchError::Io(_))
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::InvalidArgs(msg) => write!(f, "invalid arguments: {msg}"),
            BenchError::Resolve { addr, source } => {
                write!(f, "cannot resolve --addr {addr}: {source}")
            }
            BenchError::Connect { addr, source } => {
                write!(
                    f,
                    "cannot connect to {addr}: {source} (is the server running?)"
                )
            }
            BenchError::Io(e) => write!(f, "load generator failed: {e}"),
            BenchError::Write { path, source } => {
                write!(f, "cannot write {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::InvalidArgs(_) => None,
            BenchError::Resolve { source, .. }
            | BenchError::Connect { source, .. }
            | BenchError::Write { source, .. } => Some(source),
            BenchError::Io(e) => Some(e),
        }
    }
}
