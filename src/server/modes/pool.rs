//! `pool`: a fixed set of `workers` threads (a rayon `ThreadPool`).
//!
//! Each connection is served whole by one worker, because the connection
//! loop blocks on reads: so at most `workers` clients are served at once,
//! and the rest wait in the pool's queue, already accepted but not yet
//! greeted. This is the honest cost of putting blocking connections on a
//! pool: it bounds threads and memory, and makes long connections queue.
//! `queue_limit` bounds that queue; past it a client is told the server is
//! busy instead of waiting without end.
//!
//! The queue is our own (`work_queue.rs`, which says why), not rayon's:
//! each worker runs one long rayon job (`spawn_broadcast`) that takes
//! connections from it in turn, and sleeps on it when there are none.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use super::Driver;
use super::work_queue::WorkQueue;
use crate::server::blocking::{Blocking, Conn, refuse_busy, serve};
use crate::server::live::{Accepted, ServerState};
use crate::session::panic_text;

pub(crate) struct Pool {
    server: Arc<ServerState>,
    blocking: Blocking,
    /// Connections waiting for a worker; closed when the pool is dropped.
    queue: Arc<WorkQueue<Conn>>,
    /// The workers' threads; they outlive this handle only until their
    /// loops end.
    _pool: rayon::ThreadPool,
    /// Connections handed over and not yet finished: served plus queued.
    tasks: Arc<AtomicUsize>,
}

impl Pool {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<Pool> {
        let config = &server.config;
        let pool = super::worker_pool(config, || {})?;
        let queue = Arc::new(WorkQueue::new(config.workers));
        let tasks = Arc::new(AtomicUsize::new(0));
        let (shared, waiting, done) = (server.clone(), queue.clone(), tasks.clone());
        pool.spawn_broadcast(move |_| work(&shared, &waiting, &done));
        Ok(Pool {
            server: server.clone(),
            blocking: Blocking::start(server)?,
            queue,
            _pool: pool,
            tasks,
        })
    }
}

impl Driver for Pool {
    fn dispatch(&mut self, conn: Accepted) {
        let conn = self.blocking.adopt(conn);
        let workers = self.server.config.workers;
        let limit = self.server.config.queue_limit;
        let ahead = self.tasks.load(SeqCst);
        let queued = ahead.saturating_sub(workers);
        if ahead >= workers {
            if limit > 0 && queued >= limit {
                let why = format!(
                    "all {workers} workers in use and {queued} clients waiting (queue_limit = {limit})"
                );
                refuse_busy(&self.server, conn, &why);
                return;
            }
            log::info!(
                "Connection from {} (client #{}) waits: all {workers} workers busy ({} ahead in the queue).",
                conn.info.peer,
                conn.info.id,
                queued
            );
        }
        self.tasks.fetch_add(1, SeqCst);
        let _ = self.queue.push(conn);
    }
}

impl Drop for Pool {
    /// Ends every worker's loop once the connections still queued are
    /// taken (at shutdown they are closed unserved, and counted).
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// One worker's life: take the oldest waiting connection, serve it to its
/// end, and again, until the queue closes with the server.
fn work(server: &ServerState, queue: &WorkQueue<Conn>, tasks: &AtomicUsize) {
    let mut ended = false;
    while let Some(conn) = queue.take(ended) {
        ended = true;
        // Counted down even if serving panics, or the queue would look
        // ever fuller and turn every later client away as busy.
        let _done = Done(tasks);
        // Handler panics are caught per connection; this is the last line
        // for a bug elsewhere, so it costs one connection, not a worker.
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| serve(server, conn))) {
            log::error!(
                "Serving a connection panicked: {}; the worker goes on.",
                panic_text(p.as_ref())
            );
        }
    }
}

/// Counts a connection as finished when dropped, however serving ends.
struct Done<'a>(&'a AtomicUsize);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// How this mode describes itself in the start-up line: its name and the
/// settings that shape it.
pub(super) fn describe(config: &crate::config::Config) -> String {
    format!("mode pool, workers {}", config.workers)
}
