//! An event loop's mailbox: everything other threads hand to a loop, and
//! how they wake it.
//!
//! An event loop (`event_loop.rs`) owns its connections' sockets and never
//! blocks on one, so no other thread may touch them. Other threads reach
//! the loop only through its [`Mailbox`]: the accept loop posts new
//! connections ([`Arrival`]), a [`Sender`](crate::Sender) on any thread
//! queues bytes on a connection's outgoing side and leaves a note
//! (`wire.rs`), a worker returns a finished handler call
//! ([`Done`](super::runner::Done)), shutdown asks the loop to drain or to
//! quit. Nothing here sleeps or polls: each post wakes the loop
//! through its mio [`Waker`], and only when the inbox was empty, because the
//! loop takes the whole inbox at once and one wake-up serves every post
//! made meanwhile.

use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use mio::{Registry, Token, Waker};

use super::runner::Done;
use super::wire::Out;
use crate::handler::ConnInfo;

/// The token of a loop's waker; connections use `slot + 1`.
pub(crate) const WAKER: Token = Token(0);

/// One event loop's inbox and the waker that makes the loop read it.
pub(crate) struct Mailbox {
    waker: Waker,
    inbox: Mutex<Inbox>,
    /// Connections on this loop, counted from the moment they are posted:
    /// the accept loop sends each new client to the least loaded loop.
    pub load: AtomicUsize,
}

/// What has been posted to a loop since it last looked.
#[derive(Default)]
pub(crate) struct Inbox {
    /// New connections to take on.
    pub arrivals: Vec<Arrival>,
    /// Connections with something to do: bytes queued, or a cut (slot, id).
    pub notes: Vec<(usize, u64)>,
    /// Handler calls back from workers.
    pub done: Vec<Done>,
    /// Shutdown began: a reason to wake, so a loop asleep with idle
    /// clients closes them at once; the loop reads the server's shutdown
    /// flag itself, so a loop woken for anything else drains too.
    pub drain: bool,
    /// The server is gone: close everything and stop.
    pub quit: bool,
    /// The loop has stopped; nothing more is delivered.
    closed: bool,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.arrivals.is_empty()
            && self.notes.is_empty()
            && self.done.is_empty()
            && !self.drain
            && !self.quit
    }
}

/// A connection accepted and handed to a loop.
pub(crate) struct Arrival {
    pub info: ConnInfo,
    pub stream: mio::net::TcpStream,
    pub out: Arc<Out>,
    pub accepted_at: Instant,
}

impl Mailbox {
    /// A mailbox whose waker is registered with the loop's poller.
    pub fn new(registry: &Registry) -> io::Result<Mailbox> {
        Ok(Mailbox {
            waker: Waker::new(registry, WAKER)?,
            inbox: Mutex::new(Inbox::default()),
            load: AtomicUsize::new(0),
        })
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // Every change is a push or a flag: a panic cannot leave it torn.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `post` on the inbox and wakes the loop if it was empty; `false`
    /// (nothing posted) once the loop has stopped.
    fn post(&self, post: impl FnOnce(&mut Inbox)) -> bool {
        let mut inbox = self.inbox();
        if inbox.closed {
            return false;
        }
        let was_empty = inbox.is_empty();
        post(&mut inbox);
        drop(inbox);
        if was_empty && let Err(e) = self.waker.wake() {
            log::error!("cannot wake an event loop: {e}");
        }
        true
    }

    /// Hands a new connection to the loop; gives it back if the loop has
    /// stopped.
    pub fn arrive(&self, arrival: Arrival) -> Result<(), Arrival> {
        let mut arrival = Some(arrival);
        if self.post(|i| i.arrivals.extend(arrival.take())) {
            Ok(())
        } else {
            Err(arrival.take().expect("not posted"))
        }
    }

    /// Returns a finished handler call to the loop; if the loop has
    /// stopped, hands it back (the worker then ends the session itself).
    pub fn give_back(&self, done: Done) -> Option<Done> {
        let mut done = Some(done);
        self.post(|i| i.done.extend(done.take()));
        done
    }

    /// Tells the loop connection `id` in `slot` has something to do.
    pub fn note(&self, slot: usize, id: u64) {
        self.post(|i| i.notes.push((slot, id)));
    }

    /// Shutdown began.
    pub fn drain(&self) {
        self.post(|i| i.drain = true);
    }

    /// The server is gone: the loop closes what is left and stops.
    pub fn quit(&self) {
        self.post(|i| i.quit = true);
    }

    /// The loop's side: takes everything posted so far.
    pub fn take(&self) -> Inbox {
        std::mem::take(&mut *self.inbox())
    }

    /// The loop's side, as it stops: refuses later posts and takes what
    /// was posted before.
    pub fn close(&self) -> Inbox {
        let mut inbox = self.inbox();
        let left = std::mem::take(&mut *inbox);
        inbox.closed = true;
        left
    }
}
