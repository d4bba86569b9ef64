//! `threads`: one OS thread per connection, the lesson's second server.
//!
//! Clients no longer wait for each other, at the price of a thread (a stack,
//! a kernel task) per client. `max_connections` caps that price: at the cap
//! the server stops accepting, so new clients wait in the backlog (they are
//! not refused) until a connection ends and frees a slot.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use super::Driver;
use crate::server::blocking::{Blocking, serve};
use crate::server::live::{Accepted, ServerState};

pub(crate) struct Threads {
    server: Arc<ServerState>,
    blocking: Blocking,
    slots: Arc<Slots>,
}

/// Connections being served, and a signal when one ends (or shutdown).
#[derive(Default)]
struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
}

impl Threads {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<Threads> {
        let slots = Arc::new(Slots::default());
        let wake = slots.clone();
        server.shutdown.on_trigger(move || {
            // Taking the lock orders this with `ready`'s check of the flag.
            let _busy = wake.busy.lock();
            wake.freed.notify_all();
        });
        Ok(Threads {
            server: server.clone(),
            blocking: Blocking::start(server)?,
            slots,
        })
    }
}

impl Driver for Threads {
    fn ready(&mut self) -> bool {
        let max = self.server.config.max_connections;
        let busy = self.slots.busy.lock().unwrap_or_else(|e| e.into_inner());
        if *busy >= max {
            log::debug!(
                "All {max} connections in use (max_connections): new clients wait in the backlog."
            );
        }
        let _busy = self
            .slots
            .freed
            .wait_while(busy, |n| *n >= max && !self.server.shutdown.is_triggered())
            .unwrap_or_else(|e| e.into_inner());
        !self.server.shutdown.is_triggered()
    }

    fn dispatch(&mut self, conn: Accepted) {
        let conn = self.blocking.adopt(conn);
        let info = conn.info;
        *self.slots.busy.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let (server, slots) = (self.server.clone(), self.slots.clone());
        let spawned = thread::Builder::new()
            .name(format!("conn-{}", conn.info.id))
            .stack_size(self.server.config.thread_stack_kb * 1024)
            .spawn(move || {
                // Frees the slot even if serving panics; a lost slot would
                // shrink max_connections for the rest of the run.
                let _slot = Slot(slots);
                serve(&server, conn);
            });
        if let Err(e) = spawned {
            // Out of memory or threads: this client is closed at once (the
            // table of live connections still holds its socket), counted,
            // and the server goes on.
            log::error!(
                "Cannot start a thread for the connection from {}: {e}; connection closed.",
                info.peer
            );
            self.server.stats.errors.fetch_add(1, Relaxed);
            self.server.conns.finish(info.id);
            *self.slots.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        }
    }
}

/// One connection's place in [`Slots`], given back when dropped.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// How this mode describes itself in the start-up line: its name and the
/// settings that shape it.
pub(super) fn describe(config: &crate::config::Config) -> String {
    format!("mode threads, max_connections {}", config.max_connections)
}
