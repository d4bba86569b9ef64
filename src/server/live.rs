//! What a running server shares between its threads: its settings, its
//! counters, and the table of live connections that shutdown reaches into.
//!
//! The accept loop, every mode and every connection thread hold the same
//! [`ServerState`]. A connection enters the table when a mode takes it on
//! (its outgoing side, `outgoing/`, is what shutdown reaches it by) and
//! leaves it when it is finished, however that happens.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::stats::Stats;
use crate::config::Config;
use crate::handler::{ConnInfo, HandlerFactory};
use crate::shutdown::Shutdown;

/// State every thread of one server shares.
pub(crate) struct ServerState {
    pub config: Config,
    pub factory: Box<HandlerFactory>,
    pub shutdown: Shutdown,
    pub stats: Stats,
    pub conns: LiveConnections,
    /// When each handler call began, for `compare` (see `call_log.rs`).
    pub calls: Option<Arc<crate::call_log::CallLog>>,
}

/// What shutdown and the table of live connections need from a connection,
/// whichever mode serves it.
pub(crate) trait LiveConn: Send + Sync {
    /// Shutdown began: stop taking new input; answer what has arrived (a
    /// connection still waiting for a thread is closed unserved).
    fn stop_reading(&self);
    /// End the connection now: the connection is finished, or shutdown
    /// cut it after `shutdown_timeout_ms`.
    fn close(&self);
}

/// A connection just taken from the listener, before a mode takes it on.
pub(crate) struct Accepted {
    pub info: ConnInfo,
    /// A blocking socket; the event modes make it non-blocking.
    pub stream: TcpStream,
    /// When it was taken from the backlog: `-v` logs how long it then
    /// waited for a thread, and how long it lived.
    pub accepted_at: Instant,
}

/// Every connection taken on and not yet finished, so shutdown can reach
/// them and the server can wait for them to finish.
#[derive(Default)]
pub(crate) struct LiveConnections {
    live: Mutex<HashMap<u64, Arc<dyn LiveConn>>>,
    emptied: Condvar,
}

impl LiveConnections {
    fn live(&self) -> MutexGuard<'_, HashMap<u64, Arc<dyn LiveConn>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records connection `id`, reached through `conn` until it finishes.
    pub fn add(&self, id: u64, conn: Arc<dyn LiveConn>) {
        self.live().insert(id, conn);
    }

    /// Closes a connection and forgets it: every way a connection ends
    /// (served, refused, never started, no thread for it) ends here, so
    /// its client sees the close and shutdown stops waiting for it.
    pub fn finish(&self, id: u64) {
        let mut live = self.live();
        if let Some(socket) = live.remove(&id) {
            socket.close();
        }
        if live.is_empty() {
            self.emptied.notify_all();
        }
    }

    /// The shutdown hook: every connection stops reading new input and
    /// answers what has arrived; one still waiting for a thread is closed
    /// (see each [`LiveConn`]).
    pub fn stop_reading(&self) {
        for conn in self.live().values() {
            conn.stop_reading();
        }
    }

    /// Waits until every connection has finished or `timeout` passes, then
    /// cuts the ones left. Returns how many were cut.
    pub fn drain(&self, timeout: Duration) -> u64 {
        let live = self.live();
        let (live, _) = self
            .emptied
            .wait_timeout_while(live, timeout, |l| !l.is_empty())
            .unwrap_or_else(|e| e.into_inner());
        for (_, socket) in live.iter() {
            socket.close();
        }
        live.len() as u64
    }
}
