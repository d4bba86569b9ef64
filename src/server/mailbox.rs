//! An event loop's mailbox: everything other threads hand to a loop, and
//! how they wake it.
//!
//! An event loop (`event_loop.rs`) owns its connections' sockets and never
//! blocks on one, so no other thread may touch them. Other threads reach
//! the loop only through its [`Mailbox`]: the accept loop posts new
//! connections ([`Arrival`]), a [`Sender`](crate::Sender) on any thread
//! queues bytes on a connection's [`Outgoing`] and leaves a note, a worker
//! returns a finished handler call ([`Done`]), shutdown asks the loop to
//! drain or to quit. Nothing here sleeps or polls: each post wakes the loop
//! through its mio [`Waker`], and only when the inbox was empty, because the
//! loop takes the whole inbox at once and one wake-up serves every post
//! made meanwhile.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use mio::{Registry, Token, Waker};

use super::live::LiveConn;
use crate::handler::{ConnInfo, DisconnectReason};
use crate::sender::Outbox;
use crate::session::{Session, Step};

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
    pub out: Arc<Outgoing>,
    pub accepted_at: Instant,
}

/// One message's handler call, sent off the loop (event-workers mode) or
/// run on it (event mode): the session travels with it and comes back in
/// the [`Done`].
pub(crate) struct Job {
    pub session: Box<Session>,
    pub slot: usize,
    pub id: u64,
    /// Where the [`Done`] goes when the call runs on another thread.
    pub home: Arc<Mailbox>,
}

impl Job {
    /// Hands the session's next complete message to its handler.
    pub fn handle(mut self) -> Done {
        let step = self.session.handle_next().unwrap_or(Step::Continue);
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
    fn note(&self, slot: usize, id: u64) {
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

/// Why a connection must end now, decided off its loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cut {
    /// A send found more than `max_pending_bytes` waiting for the client.
    TooSlow,
    /// [`Sender::close`](crate::Sender::close): kicked, e.g. from a room.
    Closed,
    /// Still open `shutdown_timeout_ms` after shutdown began.
    Shutdown,
}

impl Cut {
    /// The reason the connection's handler and the summary are given.
    pub fn reason(self) -> DisconnectReason {
        match self {
            Cut::TooSlow => DisconnectReason::SlowConsumer,
            Cut::Closed => DisconnectReason::Closed,
            Cut::Shutdown => DisconnectReason::Shutdown,
        }
    }
}

/// A connection's outgoing side in the event modes: the [`Outbox`] its
/// [`Sender`](crate::Sender)s write to and the handle shutdown reaches it
/// by. A send never touches the socket (only the loop does): it appends
/// one whole framed message to the queue, so messages never interleave,
/// and leaves a note for the loop, which writes as the client takes
/// bytes. It never blocks the caller: past `max_pending_bytes` waiting,
/// the client is cut as too slow and the send fails.
pub(crate) struct Outgoing {
    id: u64,
    home: Arc<Mailbox>,
    max_pending: usize,
    /// Bytes not yet written: the loop's buffer in hand plus the queue.
    /// Kept outside the lock so the loop can count writes without it.
    pending: AtomicUsize,
    /// Mirrors of `state.cut.is_some()` and `!state.queued.is_empty()`,
    /// written under the lock and read without it, so the loop's checks on
    /// every message cost no lock when (as nearly always) nothing was
    /// sent or cut. Reading a stale `false` is harmless: whatever set it
    /// also left a note, which brings the loop back to look under the lock.
    is_cut: AtomicBool,
    has_queued: AtomicBool,
    state: Mutex<OutState>,
}

#[derive(Default)]
struct OutState {
    /// The connection's place on its loop, once the loop has taken it on;
    /// `None` before, and after it ended.
    slot: Option<usize>,
    /// Messages sent and not yet taken by the loop, framed, in order.
    queued: Vec<u8>,
    /// A note is on its way to the loop: further sends need not leave one.
    noted: bool,
    /// Set once the connection must end, or has ended.
    cut: Option<Cut>,
}

impl Outgoing {
    /// The outgoing side of connection `id` on the loop behind `home`.
    pub fn new(id: u64, home: Arc<Mailbox>, max_pending: usize) -> Outgoing {
        Outgoing {
            id,
            home,
            max_pending,
            pending: AtomicUsize::new(0),
            is_cut: AtomicBool::new(false),
            has_queued: AtomicBool::new(false),
            state: Mutex::new(OutState::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, OutState> {
        // Every change is whole under the lock: a panic cannot tear it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the loop, unless a note is already on its way or the
    /// connection is not (or no longer) on a loop.
    fn note(&self, state: &mut OutState) {
        if let Some(slot) = state.slot
            && !std::mem::replace(&mut state.noted, true)
        {
            self.home.note(slot, self.id);
        }
    }

    fn cut_now(&self, state: &mut OutState, cut: Cut) {
        if state.cut.is_none() {
            state.cut = Some(cut);
            self.is_cut.store(true, Relaxed);
            // Nobody will write them now: give the memory back at once.
            state.queued = Vec::new();
            self.has_queued.store(false, Relaxed);
            // Always a note of its own: one already on its way may have
            // been taken before the cut, and a client that reads nothing
            // gives the loop no other reason to look.
            if let Some(slot) = state.slot {
                state.noted = true;
                self.home.note(slot, self.id);
            }
        }
    }

    /// The loop has taken the connection on, in `slot`.
    pub fn attach(&self, slot: usize) {
        self.state().slot = Some(slot);
    }

    /// The connection ended: later sends fail, the queue is dropped.
    pub fn detach(&self) {
        let mut state = self.state();
        state.slot = None;
        state.cut.get_or_insert(Cut::Closed);
        self.is_cut.store(true, Relaxed);
        state.queued = Vec::new();
        self.has_queued.store(false, Relaxed);
    }

    /// Why the connection must end, if it must.
    pub fn cut(&self) -> Option<Cut> {
        if !self.is_cut.load(Relaxed) {
            return None;
        }
        self.state().cut
    }

    /// Bytes waiting to be written, in the loop's hands and queued.
    pub fn pending(&self) -> usize {
        self.pending.load(Relaxed)
    }

    /// The loop wrote `n` bytes.
    pub fn wrote(&self, n: usize) {
        self.pending.fetch_sub(n, Relaxed);
    }

    /// The loop put `n` bytes of replies straight into its own buffer.
    pub fn added(&self, n: usize) {
        self.pending.fetch_add(n, Relaxed);
    }

    /// Whether nothing sent waits in the queue; then a reply may go
    /// straight to the loop's buffer without overtaking a message.
    pub fn nothing_queued(&self) -> bool {
        !self.has_queued.load(Relaxed) || self.state().queued.is_empty()
    }

    /// Queues a reply behind the messages already sent (the loop's side of
    /// [`Outbox::write_framed`], whose limit it does not check: the loop
    /// checks the total once it has written what the socket takes).
    pub fn queue_reply(&self, bytes: &[u8]) {
        let mut state = self.state();
        if state.cut.is_none() {
            state.queued.extend_from_slice(bytes);
            self.has_queued.store(true, Relaxed);
            self.pending.fetch_add(bytes.len(), Relaxed);
        }
    }

    /// The loop's side: swaps the queue with `buf` (empty), so the loop
    /// writes the queued messages while senders fill the other buffer.
    pub fn take_queued(&self, buf: &mut Vec<u8>) {
        if !self.has_queued.load(Relaxed) {
            return;
        }
        let mut state = self.state();
        state.noted = false;
        std::mem::swap(&mut state.queued, buf);
        self.has_queued.store(false, Relaxed);
    }
}

impl Outbox for Outgoing {
    fn write_framed(&self, bytes: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        if let Some(cut) = state.cut {
            return Err(match cut {
                Cut::TooSlow => too_slow(self.max_pending),
                _ => io::ErrorKind::NotConnected.into(),
            });
        }
        if self.pending() + bytes.len() > self.max_pending {
            self.cut_now(&mut state, Cut::TooSlow);
            return Err(too_slow(self.max_pending));
        }
        state.queued.extend_from_slice(bytes);
        self.has_queued.store(true, Relaxed);
        self.pending.fetch_add(bytes.len(), Relaxed);
        self.note(&mut state);
        Ok(())
    }

    fn close(&self) {
        self.cut_now(&mut self.state(), Cut::Closed);
    }
}

impl LiveConn for Outgoing {
    /// Wakes the loop, which drains every connection it owns.
    fn stop_reading(&self) {
        self.home.drain();
    }

    /// Cut at shutdown, or finished (then the loop has detached it already
    /// and this changes nothing).
    fn close(&self) {
        self.cut_now(&mut self.state(), Cut::Shutdown);
    }
}

/// The error a send gets once its client is cut as too slow.
fn too_slow(max: usize) -> io::Error {
    io::Error::other(format!(
        "client too slow: more than max_pending_bytes = {max} waiting to be sent to it"
    ))
}
