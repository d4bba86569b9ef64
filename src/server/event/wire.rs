//! [`LoopWire`]: a connection's socket in the event modes, as its outgoing
//! side (`outgoing/`) reaches it.
//!
//! Only the connection's loop touches its socket, so a send from any
//! other thread (or from a worker's handler call) never writes: it queues
//! the bytes and leaves the loop a note through its mailbox, and the loop
//! writes as the client takes bytes. Notes go only on a change the loop
//! must see (bytes began to wait, the queue filled, a cut, a paused
//! producer may go on): a burst of sends to one client costs one wake-up.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use super::mailbox::Mailbox;
use crate::server::outgoing::{Outgoing, Wire};

/// An event-mode connection's outgoing side.
pub(crate) type Out = Outgoing<LoopWire>;

/// The slot of a connection not (or no longer) on its loop.
const NOWHERE: usize = usize::MAX;

/// How the outgoing side of one connection reaches its loop.
pub(crate) struct LoopWire {
    home: Arc<Mailbox>,
    /// The connection's place on its loop, once the loop has taken it on.
    slot: AtomicUsize,
}

impl LoopWire {
    /// The wire of a connection handed to the loop behind `home`.
    pub fn new(home: Arc<Mailbox>) -> LoopWire {
        LoopWire {
            home,
            slot: AtomicUsize::new(NOWHERE),
        }
    }

    /// The loop has taken the connection on, in `slot`.
    pub fn attach(&self, slot: usize) {
        self.slot.store(slot, SeqCst);
    }

    /// The connection has left its loop: no more notes.
    pub fn detach(&self) {
        self.slot.store(NOWHERE, SeqCst);
    }
}

impl Wire for LoopWire {
    /// Never from here: only the loop writes, in its own turn.
    fn send_now(&self, _: &[u8]) -> Option<io::Result<usize>> {
        None
    }

    fn wake(&self, out: &Arc<Out>) {
        let slot = self.slot.load(SeqCst);
        if slot != NOWHERE {
            self.home.note(slot, out.id());
        }
    }

    /// Wakes the loop, which drains every connection it owns.
    fn stop_reading(&self, _: &Out) {
        self.home.drain();
    }

    /// Nothing to stop: the note [`wake`](Wire::wake) leaves brings the
    /// loop, which ends the connection.
    fn cut(&self) {}
}
