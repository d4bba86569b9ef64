//! What a running server shares between its threads: its settings, its
//! counters, and the table of live connections that shutdown reaches into.
//!
//! The accept loop, every mode and every connection thread hold the same
//! [`ServerState`]; a connection's socket ([`ConnSocket`], `outbox.rs`) is
//! shared by the thread serving it, the [`Sender`](crate::Sender)s handed
//! out for it, the flusher and the shutdown hook.

use std::collections::HashMap;
use std::net::{Shutdown as Both, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::outbox::{ConnSocket, OutboxSettings};
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
}

/// What shutdown and the table of live connections need from a connection,
/// whichever mode serves it: a blocking [`ConnSocket`], or an event loop's
/// connection (`outgoing.rs`), whose socket only its loop touches.
pub(crate) trait LiveConn: Send + Sync {
    /// Shutdown began: stop taking new input; answer what has arrived.
    fn stop_reading(&self);
    /// End the connection now: the connection is finished, or shutdown
    /// cut it after `shutdown_timeout_ms`.
    fn close(&self);
}

impl LiveConn for ConnSocket {
    /// A connection being served stops reading new input (its blocked read
    /// returns at once, what already arrived is still read and answered);
    /// one still waiting for a thread is closed.
    fn stop_reading(&self) {
        if self.started.load(SeqCst) {
            let _ = self.stream.shutdown(Both::Read);
        } else {
            self.close_plainly();
        }
    }

    fn close(&self) {
        self.close_plainly();
    }
}

/// A connection accepted from the listener, not yet served.
pub(crate) struct Accepted {
    pub info: ConnInfo,
    pub socket: Arc<ConnSocket>,
    /// When it was taken from the backlog: `-v` logs how long it then
    /// waited for a thread, and how long it lived.
    pub accepted_at: Instant,
}

/// Every connection accepted and not yet finished, so shutdown can reach
/// them and the server can wait for them to finish.
pub(crate) struct LiveConnections {
    live: Mutex<HashMap<u64, Arc<dyn LiveConn>>>,
    emptied: Condvar,
    /// What each new socket's outgoing side is given.
    outbox: OutboxSettings,
}

impl LiveConnections {
    /// An empty table whose sockets write with `outbox`.
    pub fn new(outbox: OutboxSettings) -> LiveConnections {
        LiveConnections {
            live: Mutex::default(),
            emptied: Condvar::new(),
            outbox,
        }
    }

    fn live(&self) -> MutexGuard<'_, HashMap<u64, Arc<dyn LiveConn>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new connection; its id is `info.id`.
    pub fn add(&self, info: ConnInfo, stream: TcpStream) -> Accepted {
        let socket = ConnSocket::new(info.id, stream, self.outbox.clone());
        self.live().insert(info.id, socket.clone());
        Accepted {
            info,
            socket,
            accepted_at: Instant::now(),
        }
    }

    /// Hands an accepted connection's socket to a mode that owns its
    /// sockets itself (the event modes): `handle` takes the place of the
    /// shared [`ConnSocket`] in the table, so shutdown reaches the
    /// connection through it. `None` if the connection was already
    /// finished (shutdown closed it while it waited to be handed over).
    pub fn take_over(&self, conn: Accepted, handle: Arc<dyn LiveConn>) -> Option<TcpStream> {
        let Accepted { info, socket, .. } = conn;
        let mut live = self.live();
        if live.insert(info.id, handle).is_none() {
            live.remove(&info.id);
            return None;
        }
        drop(live);
        // The table held the only other reference; nothing else clones a
        // socket before it is served.
        match Arc::try_unwrap(socket) {
            Ok(socket) => Some(socket.stream),
            Err(_) => {
                log::error!("Connection {} is still shared; closed.", info.id);
                self.finish(info.id);
                None
            }
        }
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
