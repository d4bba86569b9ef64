//! `event-workers`: event loops for the sockets, worker threads for the
//! handler calls.
//!
//! The loops (`event/loops.rs`) read, frame and write, as in `event` mode,
//! so an idle client still costs no thread. Each complete message's
//! handler call goes to a rayon pool of `workers` threads, with the
//! connection's session, and comes back with the reply for the loop to
//! write. A connection has one call out at a time, so its messages are
//! handled in order. A slow handler now holds a worker for one message,
//! not a loop: every client is greeted at once (`on_connect` runs on the
//! loop) and served as workers free up.
//!
//! Named for the two things it is made of and takes settings for: event
//! loops (`loops`) and workers (`workers`). "event-pool" would read as a
//! pool of event loops, which `event` mode with several loops already is.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use super::Driver;
use crate::server::event::{Done, Job, Loops, Mailbox, Runner, end_orphan};
use crate::server::live::{Accepted, ServerState};
use crate::server::outgoing::never_wait_on_this_thread;

pub(crate) struct EventWorkers {
    loops: Loops,
}

impl EventWorkers {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<EventWorkers> {
        let config = &server.config;
        let pool = super::worker_pool(config, never_wait_on_this_thread)?;
        let runner = OnWorkers {
            pool,
            workers: config.workers,
            busy: Arc::new(AtomicUsize::new(0)),
        };
        Ok(EventWorkers {
            loops: Loops::start(server, Arc::new(runner))?,
        })
    }
}

impl Driver for EventWorkers {
    fn dispatch(&mut self, conn: Accepted) {
        self.loops.dispatch(conn);
    }
}

/// Sends each handler call to the pool; its [`Done`] goes back to the
/// connection's loop through the loop's mailbox.
struct OnWorkers {
    pool: rayon::ThreadPool,
    workers: usize,
    /// Calls handed to the pool and not yet back: running or queued.
    busy: Arc<AtomicUsize>,
}

impl Runner for OnWorkers {
    fn run(&self, job: Job) -> Option<Done> {
        let ahead = self.busy.fetch_add(1, SeqCst);
        if ahead >= self.workers {
            let info = job.session.info();
            log::debug!(
                "Client #{} ({}): its message waits for a worker: all {} busy, {} messages ahead.",
                info.id,
                info.peer,
                self.workers,
                ahead + 1 - self.workers
            );
        }
        let busy = self.busy.clone();
        self.pool.spawn(move || {
            let mut back = GiveBack {
                slot: job.slot,
                id: job.id,
                home: job.home.clone(),
                busy,
                done: false,
            };
            let done = job.handle();
            back.send(done);
        });
        None
    }
}

/// Returns a call to its loop however the task ends: a task that unwinds
/// (a bug: handler panics are caught inside the call) still tells the
/// loop, which closes the connection instead of waiting for ever.
struct GiveBack {
    slot: usize,
    id: u64,
    home: Arc<Mailbox>,
    busy: Arc<AtomicUsize>,
    done: bool,
}

impl GiveBack {
    fn send(&mut self, done: Done) {
        self.done = true;
        self.busy.fetch_sub(1, SeqCst);
        if let Some(done) = self.home.give_back(done) {
            end_orphan(done);
        }
    }
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        if !self.done {
            self.send(Done {
                session: None,
                step: crate::session::Step::Continue,
                slot: self.slot,
                id: self.id,
            });
        }
    }
}
