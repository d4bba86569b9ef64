//! A handler call of the event modes, and where it runs: on the loop
//! (`event`), or on a thread the loop lends it or a worker (`event-workers`,
//! `lend.rs`), the one thing the two modes do differently.

use std::sync::Arc;

use super::mailbox::Mailbox;
use super::wire::Out;
use crate::server::outgoing::producing;
use crate::session::{Session, Step};

/// One message's handler call, sent off the loop (event-workers mode) or
/// run on it (event mode): the session travels with it and comes back in
/// the [`Done`].
pub(crate) struct Job {
    pub session: Box<Session>,
    pub slot: usize,
    pub id: u64,
    /// Where the [`Done`] goes when the call runs on another thread.
    pub home: Arc<Mailbox>,
    /// The connection's outgoing side: what the call sends to a full queue
    /// pauses this connection (`outgoing/`).
    pub out: Arc<Out>,
}

impl Job {
    /// Hands the session's next complete message to its handler.
    pub fn handle(mut self) -> Done {
        let session = &mut self.session;
        let step = producing(self.out, || session.handle_next()).unwrap_or(Step::Continue);
        Done {
            session: Some(self.session),
            step,
            slot: self.slot,
            id: self.id,
        }
    }
}

/// Where an event loop's handler calls run: the one thing the two event
/// modes do differently.
pub(crate) trait Runner: Send + Sync {
    /// Runs `job`'s next message: here and now, returning the [`Done`]
    /// (event mode, on the loop's own thread), or on another thread,
    /// returning `None` and the [`Done`] later through the job's mailbox
    /// (event-workers mode).
    fn run(&self, job: Job) -> Option<Done>;

    /// Whether the loop chooses, call by call, where each runs
    /// (event-workers, `lend.rs`): [`Conn::advance`] then hands the call to
    /// its loop instead of to [`run`](Runner::run), and the loop lends its
    /// own thread to it ([`try_lend`](Runner::try_lend)) or queues it with
    /// [`run`](Runner::run). Asked once per loop, not per call.
    ///
    /// [`Conn::advance`]: super::conn::Conn::advance
    fn lends(&self) -> bool {
        false
    }

    /// Whether the loop may lend its thread to the next call now: yes
    /// while fewer calls run than the mode allows at once and none waits
    /// for a worker (so calls still start in order). A yes counts the call
    /// as running until [`lent_back`](Runner::lent_back) or
    /// [`taken_over`](Runner::taken_over).
    fn try_lend(&self) -> bool {
        false
    }

    /// A call the loop lent its thread to has returned in time, and the
    /// loop takes its [`Done`] back directly: it no longer runs.
    fn lent_back(&self) {}

    /// A call the loop lent its thread to held it too long: the loop went
    /// on on another thread, so this one gives the call back through the
    /// loop's mailbox, as a worker does; it no longer runs. Only called
    /// after [`try_lend`](Runner::try_lend) said yes, which a runner that
    /// does not lend never says.
    fn taken_over(&self, done: Done, home: Arc<Mailbox>) {
        let _ = (done, home);
    }
}

/// A handler call finished: the session back, and what it decided.
pub(crate) struct Done {
    /// `None` only if the call was lost to a bug outside the handler (its
    /// own panics are caught by the session): the connection is then closed.
    pub session: Option<Box<Session>>,
    pub step: Step,
    pub slot: usize,
    pub id: u64,
}
