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
//! The queue is our own, not rayon's: each worker runs one long rayon job
//! (`spawn_broadcast`) that takes connections from it in turn. Spawned as
//! one rayon task each, every connection that ended left its worker idle,
//! and an idle rayon worker searches every other worker's deque for work
//! (a few dozen rounds, each pinning crossbeam's epoch once per victim)
//! before it sleeps: with 512 workers under churn that search was 60% of
//! the server's CPU (`perf`: crossbeam_epoch's `try_advance` alone 54%),
//! and pool served 7,000 connections/s where 2 workers served 10,300. A
//! worker asleep on the queue's condition variable costs nothing however
//! many there are, and each connection wakes one (figures in
//! `modes/README.md`).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};

use super::Driver;
use crate::server::blocking::{Blocking, Conn, refuse_busy, serve};
use crate::server::live::{Accepted, ServerState};
use crate::session::panic_text;

pub(crate) struct Pool {
    server: Arc<ServerState>,
    blocking: Blocking,
    /// Connections waiting for a worker; closed when the pool is dropped.
    queue: Arc<Queue>,
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
        let queue = Arc::new(Queue::default());
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
        self.queue.push(conn);
    }
}

impl Drop for Pool {
    /// Ends every worker's loop once the connections still queued are
    /// taken (at shutdown they are closed unserved, and counted).
    fn drop(&mut self) {
        self.queue.close();
    }
}

/// Connections accepted and waiting for a worker, oldest first, and the
/// signal that one came. A condition variable, not a channel behind a
/// mutex: each connection wakes one sleeping worker directly, so a burst
/// of connections wakes as many workers at once; with a channel only the
/// worker holding the lock waits on it, and the next could take its turn
/// only once that one ran again, which under load handed 512 connections
/// to 512 workers one scheduling slot at a time.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<Conn>,
    closed: bool,
}

impl Queue {
    fn push(&self, conn: Conn) {
        self.lock().waiting.push_back(conn);
        self.ready.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The oldest waiting connection, waiting for one if need be; `None`
    /// once the queue is closed and empty.
    fn take(&self) -> Option<Conn> {
        let mut state = self
            .ready
            .wait_while(self.lock(), |s| s.waiting.is_empty() && !s.closed)
            .unwrap_or_else(|e| e.into_inner());
        state.waiting.pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic never happens while the lock is held (only pushes and
        // pops run under it), so the state is whole even if poisoned.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One worker's life: take the oldest waiting connection, serve it to its
/// end, and again, until the queue closes with the server.
fn work(server: &ServerState, queue: &Queue, tasks: &AtomicUsize) {
    while let Some(conn) = queue.take() {
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
