//! [`Mode`]: the setting that picks how a server serves many clients.
//!
//! Only the names and their meaning live here, low in the crate, so the
//! settings can name a mode without depending on the server; each mode is
//! implemented in `server/modes/`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::Named;

/// How a server handles many clients; the lesson's question.
///
/// The TOML and command-line names are [`name`](Mode::name)'s: `serial`,
/// `threads`, `pool`, `event`, `event-workers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
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
    /// `loops` event loops (mio), each owning its connections on
    /// non-blocking sockets, and running their handler calls itself: an
    /// idle client costs no thread, but a handler that blocks (echo's
    /// `delay_ms`) stalls every client of its loop.
    Event,
    /// `loops` event loops do the reading, framing and writing; each
    /// message's handler call runs on a pool of `workers` threads, one
    /// message of a client at a time. An idle client holds no thread, a
    /// slow handler holds a worker for one message.
    #[serde(rename = "event-workers")]
    EventWorkers,
}

impl Mode {
    /// Every mode, in the order the lesson meets them. Tests iterate this,
    /// so a new mode is tested by every suite that exists.
    pub const ALL: [Mode; 5] = [
        Mode::Serial,
        Mode::Threads,
        Mode::Pool,
        Mode::Event,
        Mode::EventWorkers,
    ];

    /// The setting's name, as in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Serial => "serial",
            Mode::Threads => "threads",
            Mode::Pool => "pool",
            Mode::Event => "event",
            Mode::EventWorkers => "event-workers",
        }
    }
}

impl Named for Mode {
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

impl std::str::FromStr for Mode {
    type Err = String;
    /// Parses a mode's [`name`](Mode::name).
    fn from_str(s: &str) -> Result<Mode, String> {
        Mode::from_name(s)
    }
}
