//! [`RunSettings`]: what the program runner adds to a server's settings.
//!
//! A [`Server`](crate::Server) is one listener in one process; running
//! several processes on one port is the program's business (`run_cli`,
//! [`Program`](crate::Program)), so its setting lives here, read from the
//! same file and command line as the server's.

use crate::settings::{range, settings};

settings! {
    /// Settings of the program runner, not of a server.
    pub(crate) struct RunSettings {
        /// Processes serving the port: the program starts this many minus
        /// one copies of itself, each with its own listener on the same
        /// address (implies `reuse_port`), as nginx runs its workers; it
        /// restarts a copy that dies, stops them all at shutdown and adds
        /// up their summaries.
        processes: usize {
            default: 1,
            flag: "processes", value: "N",
            help: "Processes sharing the port (more than 1 implies --reuse-port)",
            check: check_processes,
        }
    }
}

/// From 1 to 256; more than 1 needs SO_REUSEPORT, which Windows lacks.
fn check_processes(processes: &usize) -> Result<(), String> {
    range::<1, 256, _>(processes)?;
    if *processes > 1 && cfg!(windows) {
        return Err(
            "Windows has no SO_REUSEPORT, so processes cannot share a port there: \
             use 1 (for more cores use mode threads, pool or event)"
                .to_string(),
        );
    }
    Ok(())
}

impl RunSettings {
    /// Checks every value.
    pub(crate) fn validate(&self) -> Result<(), crate::error::ConfigError> {
        self.check_all()
    }
}
