//! [`Outgoing`]: one connection's outgoing side, the same in every mode:
//! the bytes waiting for its client, who may add to them, who is slowed
//! while they pile up, and when the client is cut.
//!
//! # The promise
//!
//! Nothing is lost for a client who keeps reading; the memory a connection
//! holds stays bounded; a client who stops reading is cut quickly. TCP
//! keeps the same promise between two hosts: a receiver that reads slowly
//! shrinks its window, and the *sender's* writes wait. So here too, when
//! sending would take a client's queue past `max_pending_bytes`, it is the
//! **producer** that is slowed, never the bytes that are dropped:
//!
//! - a thread that may wait (a connection's thread in the blocking modes, a
//!   thread of the program's own) waits inside [`Sender::send`] while the
//!   client takes bytes, and goes on once the queue is down to the low-water
//!   mark (half the limit), as a blocking write waits for the socket;
//! - a handler call on an event loop or an event-workers worker must never
//!   wait (the loop that would drain the queue may be its own), so its send
//!   is queued and its *connection* is paused: it is not read, and its next
//!   message is not handled, until every queue it filled is down to the
//!   low-water mark. One call can overshoot the limit by what it sends; a
//!   queue at twice the limit refuses even that ([`SendError::Full`]).
//!
//! A chat room shows why: one member says 20,000 lines at full speed. Each
//! listener who reads gets every line, at the pace of the slowest reader
//! the speaker waits for; the speaker is slowed to that pace, as TCP would
//! slow her. A listener who reads nothing at all cannot slow anyone for
//! long: once its queue is full and it has taken next to nothing (less
//! than 64 KiB) for `stall_timeout_ms`, it is cut ([`DisconnectReason::SlowConsumer`]), its
//! memory is given back, and whoever waited on it goes on at once.
//!
//! ```text
//!                      sends fit: queue + message <= max_pending_bytes
//!                    +-----------+
//!     client reads   |  flowing  | <------------------------------------+
//!     as fast as     +-----------+                                      |
//!     it is sent           |  a send would pass max_pending_bytes:       |
//!                          |  its producer waits (blocking modes)        | the client takes
//!                          v  or is paused (event modes)                 | bytes: queue down
//!                    +-----------+                                      | to max / 2, every
//!                    |   full    | -------------------------------------+ producer goes on
//!                    +-----------+
//!                          |  the client takes less than 64 KiB in
//!                          v  stall_timeout_ms (counted from the later of
//!                    +-----------+  the queue filling and its last 64 KiB)
//!                    |    cut    |  SlowConsumer: queue dropped, producers
//!                    +-----------+  go on at once, later sends fail
//! ```
//!
//! A queue that is not full but that its client takes nothing of for
//! `write_timeout_ms` is cut as a [`Timeout`](DisconnectReason::Timeout),
//! as a blocking write would be.
//!
//! A connection's own replies (`ctx.reply`) go through the same queue,
//! behind what was sent to it before, without the limit: the connection
//! is not read again until they have left (blocking modes), or while more
//! than 64 KiB of them wait (event modes): a client that does not read its
//! replies is not read either, so replies never pile up beyond one read's
//! worth.
//!
//! [`Sender::send`]: crate::Sender::send
//! [`SendError::Full`]: crate::SendError::Full
//!
//! # Who writes
//!
//! This folder does no I/O of its own: the socket is behind a [`Wire`], one
//! for each way of serving. In the blocking modes any thread may write the
//! socket straight away with a send that never waits, and the flusher
//! thread drains what it did not take (`blocking/`); in the event modes
//! only the connection's loop touches its socket, so a send queues and
//! leaves the loop a note (`event/`).
//!
//! This folder: the outgoing side itself (here), the bytes in order
//! (`byte_queue.rs`), the limits and the marks derived from them
//! (`limits.rs`), and who is sending, so that a handler call on an event
//! loop pauses its connection rather than its thread (`producer.rs`).

mod byte_queue;
mod limits;
mod producer;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::live::LiveConn;
use crate::handler::DisconnectReason;
use crate::sender::{Outbox, SendError};
use byte_queue::ByteQueue;
pub(crate) use limits::Limits;
use producer::may_wait;
pub(crate) use producer::{Pausable, never_wait_on_this_thread, producing};

/// A connection's socket as its outgoing side sees it; one implementation
/// per way of serving (`blocking/socket.rs`, `event/wire.rs`).
pub(crate) trait Wire: Send + Sync + Sized + 'static {
    /// Writes what the socket takes now, without waiting, if the calling
    /// thread may touch the socket; `None` if only its owner may (an event
    /// loop), and then the bytes are queued for it.
    fn send_now(&self, bytes: &[u8]) -> Option<io::Result<usize>>;
    /// Whoever drains this connection must look at it: bytes began to wait,
    /// the queue filled, it was cut, or (event modes) the connection, paused
    /// as a producer, may go on.
    fn wake(&self, out: &Arc<Outgoing<Self>>);
    /// Shutdown began: the connection stops taking new input.
    fn stop_reading(&self, out: &Outgoing<Self>);
    /// The connection was cut: whatever serves it must notice now (a
    /// blocked read returns).
    fn cut(&self);
}

/// One connection's outgoing side; see the module docs.
pub(crate) struct Outgoing<W: Wire> {
    id: u64,
    limits: Limits,
    wire: W,
    me: Weak<Outgoing<W>>,
    state: Mutex<State>,
    /// Signalled when bytes leave or the connection is cut, for threads
    /// waiting for room or for their reply to leave.
    moved: Condvar,
    /// Mirrors of `state.queue.len()` and `state.cut.is_some()`, written
    /// under the lock and read without it (an event loop checks them for
    /// every message).
    pending: AtomicUsize,
    is_cut: AtomicBool,
    /// As a producer on an event loop: how many queues this connection
    /// filled and waits to see drain before it is read again.
    held: AtomicUsize,
}

struct State {
    queue: ByteQueue,
    /// Why no more bytes go out, once they don't.
    cut: Option<DisconnectReason>,
    /// Threads waiting for room, or for their reply to leave.
    waiting: usize,
    /// Connections paused because their sends filled this queue (event
    /// modes), told to go on when it drains to the low-water mark.
    paused: Vec<Arc<dyn Pausable>>,
    /// When bytes began to wait, or last left: the write deadline counts
    /// from here. Started lazily, by the drainer's first look at bytes
    /// waiting (`None` until then, and whenever nothing waits), so that the
    /// common case, a message the socket takes at once, reads no clock.
    since: Option<Instant>,
    /// When a producer last found the queue full; `None` while it has room.
    full_since: Option<Instant>,
    /// When the client last took a [stride](Limits::stride) of bytes, and
    /// how much it has taken since: the stall deadline counts from the
    /// later of this and `full_since`.
    strode: Instant,
    taken_since_stride: usize,
    /// When the drainer last tried to write: while the queue is full, it
    /// looks again an eighth of `stall_timeout` later.
    looked: Instant,
}

impl<W: Wire> Outgoing<W> {
    /// The outgoing side of connection `id`, writing through `wire`.
    pub fn new(id: u64, limits: Limits, wire: W) -> Arc<Outgoing<W>> {
        Arc::new_cyclic(|me| Outgoing {
            id,
            limits,
            wire,
            me: me.clone(),
            state: Mutex::new(State {
                queue: ByteQueue::new(),
                cut: None,
                waiting: 0,
                paused: Vec::new(),
                since: None,
                full_since: None,
                strode: Instant::now(),
                taken_since_stride: 0,
                looked: Instant::now(),
            }),
            moved: Condvar::new(),
            pending: AtomicUsize::new(0),
            is_cut: AtomicBool::new(false),
            held: AtomicUsize::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change under the lock is whole before anything can panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The socket behind it.
    pub fn wire(&self) -> &W {
        &self.wire
    }

    fn wake(&self) {
        if let Some(me) = self.me.upgrade() {
            self.wire.wake(&me);
        }
    }

    /// Bytes waiting.
    #[inline]
    pub fn pending(&self) -> usize {
        self.pending.load(Relaxed)
    }

    /// Why the connection was cut, if it was.
    #[inline]
    pub fn cut_reason(&self) -> Option<DisconnectReason> {
        if !self.is_cut.load(Relaxed) {
            return None;
        }
        self.state().cut.clone()
    }

    /// Whether this connection, as a producer, waits for queues it filled
    /// to drain (event modes): it must not be read or handled meanwhile.
    #[inline]
    pub fn is_held(&self) -> bool {
        self.held.load(Relaxed) > 0
    }

    /// Sends one framed message from anyone (a [`Sender`](crate::Sender)):
    /// see the module docs for who waits. `wait: false` is `try_send`:
    /// refused with [`SendError::Full`] rather than slow anyone.
    pub fn send(&self, bytes: &[u8], wait: bool) -> Result<(), SendError> {
        let mut st = self.state();
        if let Some(reason) = &st.cut {
            return Err(SendError::Closed(reason.clone()));
        }
        let len = st.queue.len();
        if len == 0 || len.saturating_add(bytes.len()) <= self.limits.max_pending {
            return self.append(&mut st, bytes);
        }
        if !wait {
            return Err(SendError::Full);
        }
        if !may_wait() {
            if len.saturating_add(bytes.len()) > self.limits.hard_cap() {
                return Err(SendError::Full);
            }
            if let Some(producer) = producer::current() {
                let known = st
                    .paused
                    .iter()
                    .any(|p| std::ptr::addr_eq(Arc::as_ptr(p), Arc::as_ptr(&producer)));
                if !known {
                    producer.hold();
                    st.paused.push(producer);
                }
            }
            self.fill(&mut st);
            return self.append(&mut st, bytes);
        }
        st.waiting += 1;
        self.fill(&mut st);
        let low = self.limits.low_water();
        while st.cut.is_none() && st.queue.len() > low {
            st = self.wait_for_progress(st);
        }
        st.waiting -= 1;
        if let Some(reason) = &st.cut {
            return Err(SendError::Closed(reason.clone()));
        }
        self.append(&mut st, bytes)
    }

    /// Waits until bytes leave or the connection is cut. The drainer wakes
    /// waiters on both; the timeout only guards against a wake-up lost to
    /// a bug.
    fn wait_for_progress<'a>(&self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.moved
            .wait_timeout(st, Duration::from_secs(1))
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// A producer found the queue full: the stall clock starts, and the
    /// drainer is told, so it watches the new (shorter) deadline.
    fn fill(&self, st: &mut State) {
        if st.full_since.is_none() {
            st.full_since = Some(Instant::now());
            st.taken_since_stride = 0;
            self.wake();
        }
    }

    /// Puts `bytes` behind what waits: straight to the socket if nothing
    /// waits and this thread may write it, the rest queued.
    fn append(&self, st: &mut State, bytes: &[u8]) -> Result<(), SendError> {
        let mut rest = bytes;
        if st.queue.is_empty() {
            while !rest.is_empty() {
                match self.wire.send_now(rest) {
                    None => break,
                    Some(Ok(n)) => {
                        st.queue.note_written(n);
                        rest = &rest[n..];
                    }
                    Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Some(Err(e)) => {
                        let reason = DisconnectReason::from_io(&e);
                        self.cut_locked(st, reason.clone());
                        return Err(SendError::Closed(reason));
                    }
                }
            }
            if rest.is_empty() {
                return Ok(());
            }
        }
        let was_empty = st.queue.is_empty();
        st.queue.push(rest);
        self.pending.store(st.queue.len(), Relaxed);
        if was_empty {
            self.wake();
        }
        Ok(())
    }

    /// Queues the connection's own reply behind what waits, without the
    /// limit (see the module docs), writing what the socket takes now if
    /// this thread may. Returns the mark to hand
    /// [`wait_sent`](Self::wait_sent), or why the connection was cut.
    pub fn reply(&self, bytes: &[u8]) -> Result<u64, DisconnectReason> {
        let mut st = self.state();
        if let Some(reason) = &st.cut {
            return Err(reason.clone());
        }
        match self.append(&mut st, bytes) {
            Ok(()) => Ok(st.queue.end()),
            Err(_) => Err(st.cut.clone().unwrap_or(DisconnectReason::Closed)),
        }
    }

    /// An event loop's reply: queued behind what waits, without the limit
    /// and without a wake-up (the loop writes it next). Dropped if the
    /// connection was cut.
    pub fn queue_reply(&self, bytes: &[u8]) {
        let mut st = self.state();
        if st.cut.is_none() {
            st.queue.push(bytes);
            self.pending.store(st.queue.len(), Relaxed);
        }
    }

    /// Bytes the client has taken so far: every byte written to the
    /// socket, by whoever wrote it.
    pub fn taken(&self) -> u64 {
        self.state().queue.taken()
    }

    /// The mark everything queued until now reaches.
    pub fn end_mark(&self) -> u64 {
        self.state().queue.end()
    }

    /// Waits until the bytes up to `mark` have left, or the connection is
    /// cut (the reason comes back). The drainer enforces the deadlines, so
    /// this never waits beyond `write_timeout_ms` without progress.
    pub fn wait_sent(&self, mark: u64) -> Result<(), DisconnectReason> {
        let mut st = self.state();
        st.waiting += 1;
        let result = loop {
            if let Some(reason) = &st.cut {
                break Err(reason.clone());
            }
            if st.queue.taken() >= mark {
                break Ok(());
            }
            st = self.wait_for_progress(st);
        };
        st.waiting -= 1;
        result
    }

    /// The drainer's side: writes the queue's front with `write` (one call
    /// to the socket's send) until it is empty or the socket would block.
    /// Bytes leaving restart the deadlines, wake waiting threads and, down
    /// at the low-water mark, let every producer go on. A write error cuts
    /// the connection and comes back.
    pub fn write_to(&self, write: impl FnMut(&[u8]) -> io::Result<usize>) -> io::Result<usize> {
        let mut st = self.state();
        if st.cut.is_some() || st.queue.is_empty() {
            return Ok(0);
        }
        let n = match st.queue.write_with(write) {
            Ok(n) => n,
            Err(e) => {
                self.cut_locked(&mut st, DisconnectReason::from_io(&e));
                return Err(e);
            }
        };
        // The clocks: read only when bytes still wait, so a queue the
        // socket empties at once (nearly always) costs none.
        if st.queue.is_empty() {
            st.since = None;
        } else if n > 0 || st.since.is_none() {
            let now = Instant::now();
            st.since = Some(now);
            if st.full_since.is_some() {
                st.looked = now;
                st.taken_since_stride += n;
                if st.taken_since_stride >= self.limits.stride() {
                    (st.strode, st.taken_since_stride) = (now, 0);
                }
            }
        } else if st.full_since.is_some() {
            st.looked = Instant::now();
        }
        if n > 0 {
            self.pending.store(st.queue.len(), Relaxed);
            if st.waiting > 0 {
                self.moved.notify_all();
            }
            if st.queue.len() <= self.limits.low_water() {
                self.unfill(&mut st);
            }
        }
        Ok(n)
    }

    /// The queue has room again: the stall clock stops, paused producers go
    /// on.
    fn unfill(&self, st: &mut State) {
        if st.full_since.is_none() && st.paused.is_empty() {
            return;
        }
        st.full_since = None;
        for producer in st.paused.drain(..) {
            producer.release();
        }
    }

    /// When the connection must be cut if its client takes no byte before,
    /// and as what: `None` while nothing waits.
    fn deadline(&self, st: &mut State) -> Option<(Instant, DisconnectReason)> {
        if st.cut.is_some() || st.queue.is_empty() {
            return None;
        }
        let since = *st.since.get_or_insert_with(Instant::now);
        let write = since + self.limits.write_timeout;
        match st.full_since {
            Some(full) => {
                let stall = st.strode.max(full) + self.limits.stall_timeout;
                Some(if stall <= write {
                    (stall, DisconnectReason::SlowConsumer)
                } else {
                    (write, DisconnectReason::Timeout)
                })
            }
            None => Some((write, DisconnectReason::Timeout)),
        }
    }

    /// When whoever drains the queue must next look at the socket without
    /// being told to: at the deadline, and, while the queue is full, every
    /// eighth of `stall_timeout_ms`. A socket is reported writable only
    /// once half of what its kernel holds has left, so a client reading
    /// slowly (or a kernel that grows its buffer late) frees room that no
    /// event announces; the drainer writes what fits at each look, and the
    /// client's progress is counted before its deadline comes.
    pub fn next_look(&self) -> Option<Instant> {
        let mut st = self.state();
        let (at, _) = self.deadline(&mut st)?;
        Some(match st.full_since {
            Some(full) => at.min(st.looked.max(full) + self.limits.stall_timeout / 8),
            None => at,
        })
    }

    /// After a look (a write of what fits): cuts the connection if its
    /// deadline has passed, and says why.
    pub fn cut_if_overdue(&self) -> Option<DisconnectReason> {
        let mut st = self.state();
        let (at, reason) = self.deadline(&mut st)?;
        if at > Instant::now() {
            return None;
        }
        self.cut_locked(&mut st, reason.clone());
        Some(reason)
    }

    /// Cuts the connection for `reason` unless it already was (the first
    /// reason stays): the queue is dropped and its memory given back,
    /// every waiting or paused producer goes on, later sends fail, and
    /// whatever serves the connection is told. Returns whether this call
    /// cut it.
    pub fn cut(&self, reason: DisconnectReason) -> bool {
        let mut st = self.state();
        if st.cut.is_some() {
            return false;
        }
        self.cut_locked(&mut st, reason);
        true
    }

    fn cut_locked(&self, st: &mut State, reason: DisconnectReason) {
        if st.cut.is_some() {
            return;
        }
        st.cut = Some(reason);
        self.is_cut.store(true, Relaxed);
        st.queue.clear();
        self.pending.store(0, Relaxed);
        self.unfill(st);
        self.moved.notify_all();
        self.wire.cut();
        self.wake();
    }
}

impl<W: Wire> Outbox for Outgoing<W> {
    fn send(&self, bytes: &[u8], wait: bool) -> Result<(), SendError> {
        Outgoing::send(self, bytes, wait)
    }

    fn pending(&self) -> usize {
        Outgoing::pending(self)
    }

    fn close(&self) {
        self.cut(DisconnectReason::Closed);
    }
}

impl<W: Wire> LiveConn for Outgoing<W> {
    fn stop_reading(&self) {
        self.wire.stop_reading(self);
    }

    /// Finished, or cut at shutdown's deadline: whoever serves it already
    /// knows why it finished, so the reason only matters for the latter.
    fn close(&self) {
        self.cut(DisconnectReason::Shutdown);
    }
}

impl<W: Wire> Pausable for Outgoing<W> {
    fn hold(&self) {
        self.held.fetch_add(1, SeqCst);
    }

    fn release(&self) {
        if self.held.fetch_sub(1, SeqCst) == 1 {
            self.wake();
        }
    }
}
