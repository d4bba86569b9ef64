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
//! The queue is a channel of our own, not rayon's: each worker runs one
//! long rayon job (`spawn_broadcast`) that takes connections from it in
//! turn. Spawned as one rayon task each, every connection that ended left
//! its worker idle, and an idle rayon worker searches every other worker's
//! deque for work (a few dozen rounds, each pinning crossbeam's epoch
//! once per victim) before it sleeps: with 512 workers under churn that
//! search was 60% of the server's CPU (`perf`: crossbeam_epoch's
//! `try_advance` alone 54%), and pool served 7,000 connections/s where 2
//! workers served 10,300. A worker blocked on the channel costs nothing
//! while it waits, however many there are (figures in `modes/README.md`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::Driver;
use crate::server::connection::{refuse_busy, serve};
use crate::server::live::{Accepted, ServerState};
use crate::session::panic_text;

pub(crate) struct Pool {
    server: Arc<ServerState>,
    /// Connections waiting for a worker, oldest first. Dropping it (with
    /// the server) ends every worker's loop once the queue is empty.
    queue: Sender<Accepted>,
    /// The workers' threads; they outlive this handle only until their
    /// loops end.
    _pool: rayon::ThreadPool,
    /// Connections handed over and not yet finished: served plus queued.
    tasks: Arc<AtomicUsize>,
}

impl Pool {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<Pool> {
        let config = &server.config;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.workers)
            .stack_size(config.thread_stack_kb * 1024)
            .thread_name(|i| format!("worker-{i}"))
            // Handler panics are caught per connection; this is the last
            // line for a bug elsewhere: rayon's default aborts the process.
            .panic_handler(|p| {
                log::error!(
                    "A pool task panicked: {}; the pool goes on.",
                    panic_text(p.as_ref())
                );
            })
            .build()
            .map_err(std::io::Error::other)?;
        let (queue, waiting) = channel();
        let waiting = Mutex::new(waiting);
        let tasks = Arc::new(AtomicUsize::new(0));
        let (shared, done) = (server.clone(), tasks.clone());
        pool.spawn_broadcast(move |_| work(&shared, &waiting, &done));
        Ok(Pool {
            server: server.clone(),
            queue,
            _pool: pool,
            tasks,
        })
    }
}

impl Driver for Pool {
    fn dispatch(&mut self, conn: Accepted) {
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
        if let Err(returned) = self.queue.send(conn) {
            // Every worker is gone (each loop ends only when this sender
            // is dropped, so this is a bug): close the client, do not hang.
            log::error!("No pool worker left; connection closed.");
            self.tasks.fetch_sub(1, SeqCst);
            self.server.conns.finish(returned.0.info.id);
        }
    }
}

/// One worker's life: take the oldest waiting connection, serve it to its
/// end, and again, until the queue closes with the server. The lock is
/// held only while waiting, so idle workers queue on it and exactly one of
/// them is woken per connection.
fn work(server: &ServerState, waiting: &Mutex<Receiver<Accepted>>, tasks: &AtomicUsize) {
    loop {
        let next = waiting.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(conn) = next else {
            return;
        };
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
