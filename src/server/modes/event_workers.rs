//! `event-workers`: event loops for the sockets, and handler calls that
//! never hold a loop up.
//!
//! The loops (`event/event_loop.rs`) read, frame and write, as in `event` mode,
//! so an idle client still costs no thread. At most `workers` handler
//! calls run at once, each with its connection's session, and a
//! connection has one call out at a time, so its messages are handled in
//! order. A call runs on its loop's own thread when it may (fewer than
//! `workers` run, none waits): the loop lends its thread to the call, and
//! if the call holds it longer than a millisecond or two, the loop goes on
//! on a new thread (`event/lend.rs`), so the call holds a thread, never
//! the loop. Otherwise the call waits in a queue for one of `workers`
//! threads, and comes back through the loop's mailbox with the reply for
//! the loop to write. A slow handler holds a thread for one message, not a
//! loop: every client is greeted at once (`on_connect` runs on the loop)
//! and served as calls end.
//!
//! Why lend the loop's thread: a call sent to a worker costs two hand-offs
//! (a sleeping worker woken, then the loop woken for the reply), and those
//! wake-ups cost more than a short call itself; every call on a worker
//! made this mode serve a fraction of `event` mode's messages a second
//! (figures in `modes/README.md`). Lent, a short call costs what it costs
//! in `event` mode.
//!
//! Named for the two things it is made of and takes settings for: event
//! loops (`loops`) and workers (`workers`). "event-pool" would read as a
//! pool of event loops, which `event` mode with several loops already is.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::Driver;
use super::work_queue::WorkQueue;
use crate::server::event::{Done, Job, Loops, Mailbox, Runner, end_orphan};
use crate::server::live::{Accepted, ServerState};
use crate::server::outgoing::never_wait_on_this_thread;
use crate::session::{Step, panic_text};

pub(crate) struct EventWorkers {
    loops: Loops,
    /// Calls waiting for a worker; closed when the mode is dropped.
    calls: Arc<WorkQueue<Job>>,
    /// The workers' threads; they outlive this handle only until their
    /// loops end.
    _pool: rayon::ThreadPool,
}

impl EventWorkers {
    pub fn new(server: &Arc<ServerState>) -> std::io::Result<EventWorkers> {
        let config = &server.config;
        let pool = super::worker_pool(config, never_wait_on_this_thread)?;
        let calls = Arc::new(WorkQueue::new(config.workers));
        let waiting = calls.clone();
        // One long job per worker that takes calls from the queue, as
        // `pool` mode takes connections (`work_queue.rs` says why).
        pool.spawn_broadcast(move |_| work(&waiting));
        let runner = OnWorkers {
            calls: calls.clone(),
            workers: config.workers,
        };
        Ok(EventWorkers {
            loops: Loops::start(server, Arc::new(runner))?,
            calls,
            _pool: pool,
        })
    }
}

impl Drop for EventWorkers {
    /// The workers end once the calls still queued are run (their loops
    /// are gone: each call's session ends on its worker).
    fn drop(&mut self) {
        self.calls.close();
    }
}

impl Driver for EventWorkers {
    fn dispatch(&mut self, conn: Accepted) {
        self.loops.dispatch(conn);
    }
}

/// One worker's life: run the oldest waiting call once it may, and again,
/// until the queue closes with the server.
fn work(calls: &WorkQueue<Job>) {
    let mut ended = false;
    while let Some(job) = calls.take(ended) {
        ended = true;
        let mut back = GiveBack::new(job.slot, job.id, job.home.clone());
        // Handler panics are caught inside the call; this is the last line
        // for a bug elsewhere: `back`, dropped unsent, still returns the
        // call, and the worker goes on.
        match catch_unwind(AssertUnwindSafe(|| job.handle())) {
            Ok(done) => back.send(done),
            Err(p) => log::error!(
                "A worker's call panicked outside any handler: {}; the worker goes on.",
                panic_text(p.as_ref())
            ),
        }
    }
}

/// Lets the loop lend its thread to a call while fewer than `workers` run
/// and none waits, and queues the others for a worker; a queued call's
/// [`Done`] goes back to the connection's loop through the loop's mailbox.
struct OnWorkers {
    calls: Arc<WorkQueue<Job>>,
    workers: usize,
}

impl Runner for OnWorkers {
    fn run(&self, job: Job) -> Option<Done> {
        let info = job.session.info();
        if let Some(ahead) = self.calls.push(job) {
            log::debug!(
                "Client #{} ({}): its message waits for a worker: all {} busy, {} messages ahead.",
                info.id,
                info.peer,
                self.workers,
                ahead
            );
        }
        None
    }

    fn lends(&self) -> bool {
        true
    }

    fn try_lend(&self) -> bool {
        self.calls.try_lend()
    }

    fn lent_back(&self) {
        self.calls.release();
    }

    fn taken_over(&self, done: Done, home: Arc<Mailbox>) {
        GiveBack::new(done.slot, done.id, home).send(done);
        self.calls.release();
    }
}

/// Returns a call to its loop however its thread's task ends: a task that
/// unwinds (a bug: handler panics are caught inside the call) still tells
/// the loop, which closes the connection instead of waiting for ever.
struct GiveBack {
    slot: usize,
    id: u64,
    home: Arc<Mailbox>,
    done: bool,
}

impl GiveBack {
    fn new(slot: usize, id: u64, home: Arc<Mailbox>) -> GiveBack {
        GiveBack {
            slot,
            id,
            home,
            done: false,
        }
    }

    fn send(&mut self, done: Done) {
        self.done = true;
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
                step: Step::Continue,
                slot: self.slot,
                id: self.id,
            });
        }
    }
}

/// How this mode describes itself in the start-up line: its name and the
/// settings that shape it.
pub(super) fn describe(config: &crate::config::Config) -> String {
    format!(
        "mode event-workers, loops {}, workers {}",
        config.loops, config.workers
    )
}
