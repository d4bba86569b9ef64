//! `pool`: a fixed set of `workers` threads (a rayon `ThreadPool`).
//!
//! Each connection becomes one task. A task holds its worker for the whole
//! life of the connection, because the connection loop blocks on reads: so
//! at most `workers` clients are served at once, and the rest wait in the
//! pool's queue, already accepted but not yet greeted. This is the honest
//! cost of putting blocking connections on rayon, a pool built for short CPU
//! work: it bounds threads and memory, and makes long connections queue.
//! `queue_limit` bounds that queue; past it a client is told the server is
//! busy instead of waiting without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use super::Driver;
use crate::server::connection::{refuse_busy, serve};
use crate::server::live::{Accepted, ServerState};
use crate::session::panic_text;

pub(crate) struct Pool {
    server: Arc<ServerState>,
    pool: rayon::ThreadPool,
    /// Tasks submitted and not yet finished: being served plus queued.
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
        Ok(Pool {
            server: server.clone(),
            pool,
            tasks: Arc::new(AtomicUsize::new(0)),
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
        let (server, tasks) = (self.server.clone(), self.tasks.clone());
        self.pool.spawn(move || {
            // Counted down even if serving panics, or the queue would look
            // ever fuller and turn every later client away as busy.
            let _done = Done(tasks);
            serve(&server, conn);
        });
    }
}

/// Counts a task as finished when dropped, however the task ends.
struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}
