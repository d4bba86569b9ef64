//! A handler call of the event modes, and where it runs: on the loop
//! (`event`) or on a worker (`event-workers`), the one thing the two modes
//! do differently.

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
    /// pauses this connection (`outgoing.rs`).
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
