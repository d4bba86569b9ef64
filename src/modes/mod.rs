//! Modes: who serves an accepted connection, and when.
//!
//! The accept loop, the connection loop and shutdown are the same for every
//! mode (`server.rs`, `connection.rs`, `shutdown.rs`). A mode decides only
//! two things, like a concurrency mix-in of Python's `socketserver`: whether
//! the server may accept another connection now (`Driver::ready`), and
//! which thread serves the one just accepted (`Driver::dispatch`). Each
//! mode's file holds just that.

mod pool;
mod serial;
mod threads;

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::connection::Accepted;
use crate::server::Shared;

/// How a server handles many clients; the lesson's question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One connection at a time on the accepting thread; the next client
    /// waits in the kernel's backlog. The lesson's first server.
    Serial,
    /// A new OS thread for each connection (the lesson's
    /// `threading.Thread`), up to `max_connections` at once.
    Threads,
    /// A fixed pool of `workers` threads (rayon); each connection is one
    /// task holding its worker until it ends, so at most `workers` clients
    /// are served at once and the others wait their turn.
    Pool,
}

impl Mode {
    /// Every mode, in the order the lesson meets them.
    pub const ALL: [Mode; 3] = [Mode::Serial, Mode::Threads, Mode::Pool];

    /// The setting's name, as in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Serial => "serial",
            Mode::Threads => "threads",
            Mode::Pool => "pool",
        }
    }
}

impl crate::names::Named for Mode {
    const ALL: &'static [Mode] = &Mode::ALL;
    fn name(self) -> &'static str {
        Mode::name(self)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a mode does with connections; see the module docs.
pub(crate) trait Driver: Send {
    /// Blocks until another connection may be accepted. Returns `false`
    /// when shutdown came while waiting.
    fn ready(&mut self) -> bool {
        true
    }

    /// Hands an accepted connection to whichever thread will serve it.
    fn dispatch(&mut self, conn: Accepted);
}

/// The driver for `mode`, sharing the server's state.
pub(crate) fn driver(mode: Mode, server: &Arc<Shared>) -> std::io::Result<Box<dyn Driver>> {
    Ok(match mode {
        Mode::Serial => Box::new(serial::Serial::new(server)),
        Mode::Threads => Box::new(threads::Threads::new(server)),
        Mode::Pool => Box::new(pool::Pool::new(server)?),
    })
}
