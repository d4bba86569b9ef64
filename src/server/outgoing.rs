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
//! This file does no I/O of its own: the socket is behind a [`Wire`], one
//! for each way of serving. In the blocking modes any thread may write the
//! socket straight away with a send that never waits, and the flusher
//! thread drains what it did not take (`blocking/`); in the event modes
//! only the connection's loop touches its socket, so a send queues and
//! leaves the loop a note (`event/`).

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::byte_queue::ByteQueue;
use super::live::LiveConn;
use crate::config::Config;
use crate::handler::DisconnectReason;
use crate::sender::{Outbox, SendError};

/// The limits every connection of one server shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `max_pending_bytes`: past this, a send slows its producer.
    pub max_pending: usize,
    /// `write_timeout_ms`: a queue nobody takes a byte of for this long is
    /// cut as a timeout.
    pub write_timeout: Duration,
    /// `stall_timeout_ms`: a full queue nobody takes a byte of for this
    /// long is cut as too slow.
    pub stall_timeout: Duration,
}

impl Limits {
    /// The limits `config` sets.
    pub fn of(config: &Config) -> Limits {
        Limits {
            max_pending: config.max_pending_bytes,
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            stall_timeout: Duration::from_millis(config.stall_timeout_ms),
        }
    }

    /// Where waiting producers go on: half the limit, so a producer that
    /// goes on has room for many messages, not one (Netty's water marks).
    fn low_water(&self) -> usize {
        self.max_pending / 2
    }

    /// What a queue may reach from sends that cannot wait (event modes).
    fn hard_cap(&self) -> usize {
        self.max_pending.saturating_mul(2)
    }

    /// Bytes a client with a full queue must take within `stall_timeout`
    /// to count as reading: 64 KiB (a sixteenth of the limit if that is
    /// less), 32 KB/s with the defaults. Any byte would not do: a client
    /// that never reads still has a kernel that takes a few KB now and then
    /// (seen: 2 KB at the 2 s mark, as its receive queue was compacted),
    /// and each would restart the clock.
    fn stride(&self) -> usize {
        (self.max_pending / 16).clamp(1, 64 * 1024)
    }
}

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
            let current = PRODUCER.take();
            PRODUCER.set(current.clone());
            if let Some(producer) = current {
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

/// A connection that can be paused as a producer (event modes): held once
/// per queue it filled, let go as each drains.
pub(crate) trait Pausable: Send + Sync {
    fn hold(&self);
    fn release(&self);
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

thread_local! {
    /// Set on event loop and event-workers threads: a send there must
    /// never wait (see the module docs).
    static NEVER_WAIT: Cell<bool> = const { Cell::new(false) };
    /// The connection whose handler call runs on this thread now, paused
    /// when its sends fill a queue.
    static PRODUCER: Cell<Option<Arc<dyn Pausable>>> = const { Cell::new(None) };
}

/// Marks the calling thread as one that must never wait in a send: an
/// event loop, or a worker of the event-workers mode.
pub(crate) fn never_wait_on_this_thread() {
    NEVER_WAIT.set(true);
}

fn may_wait() -> bool {
    !NEVER_WAIT.get()
}

/// Runs a handler call of `producer`'s connection: what it sends to a full
/// queue pauses that connection rather than this thread.
pub(crate) fn producing<T>(producer: Arc<dyn Pausable>, call: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<dyn Pausable>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            PRODUCER.set(self.0.take());
        }
    }
    let _restore = Restore(PRODUCER.replace(Some(producer)));
    call()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;
    use std::thread;

    /// A socket under the test's control: takes `room` bytes, then would
    /// block; counts wake-ups and cuts.
    #[derive(Default)]
    struct TestWire {
        room: StdMutex<usize>,
        got: StdMutex<Vec<u8>>,
        wakes: AtomicUsize,
        cuts: AtomicUsize,
        direct: bool,
    }

    impl TestWire {
        fn take(&self, bytes: &[u8]) -> io::Result<usize> {
            let mut room = self.room.lock().unwrap();
            if *room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = bytes.len().min(*room);
            *room -= n;
            self.got.lock().unwrap().extend_from_slice(&bytes[..n]);
            Ok(n)
        }
    }

    impl Wire for TestWire {
        fn send_now(&self, bytes: &[u8]) -> Option<io::Result<usize>> {
            self.direct.then(|| self.take(bytes))
        }
        fn wake(&self, _: &Arc<Outgoing<Self>>) {
            self.wakes.fetch_add(1, SeqCst);
        }
        fn stop_reading(&self, _: &Outgoing<Self>) {}
        fn cut(&self) {
            self.cuts.fetch_add(1, SeqCst);
        }
    }

    fn limits(max: usize) -> Limits {
        Limits {
            max_pending: max,
            write_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(2),
        }
    }

    /// The client reads `n` bytes.
    fn client_reads(out: &Outgoing<TestWire>, n: usize) -> usize {
        *out.wire().room.lock().unwrap() += n;
        out.write_to(|b| out.wire().take(b)).unwrap()
    }

    #[test]
    fn a_blocked_sender_waits_for_room_and_loses_nothing() {
        let out = Outgoing::new(1, limits(1000), TestWire::default());
        for _ in 0..10 {
            out.send(&[b'a'; 100], true).unwrap();
        }
        assert_eq!(out.pending(), 1000);
        assert_eq!(out.send(&[b'b'; 1], false), Err(SendError::Full));
        let sender = {
            let out = out.clone();
            thread::spawn(move || out.send(&[b'c'; 100], true))
        };
        // The sender waits while the queue stays above half the limit; its
        // wait starts the stall clock.
        let full = |out: &Outgoing<TestWire>| {
            out.deadline(&mut out.state())
                .is_some_and(|(_, r)| r == DisconnectReason::SlowConsumer)
        };
        let waited = (0..2000).any(|_| {
            thread::sleep(Duration::from_millis(5));
            full(&out)
        });
        assert!(waited, "the sender never waited");
        assert!(!sender.is_finished(), "a send past the limit did not wait");
        client_reads(&out, 400);
        thread::sleep(Duration::from_millis(100));
        assert!(!sender.is_finished(), "went on above the low-water mark");
        client_reads(&out, 100);
        sender.join().unwrap().unwrap();
        client_reads(&out, 10_000);
        let got = out.wire().got.lock().unwrap().clone();
        assert_eq!(got, [vec![b'a'; 1000], vec![b'c'; 100]].concat());
        assert!(out.next_look().is_none(), "nothing waits, no deadline runs");
    }

    #[test]
    fn a_cut_lets_a_waiting_sender_go_on_at_once_and_gives_memory_back() {
        let out = Outgoing::new(1, limits(1000), TestWire::default());
        out.send(&[b'a'; 1000], true).unwrap();
        let sender = {
            let out = out.clone();
            thread::spawn(move || out.send(&[b'c'; 100], true))
        };
        thread::sleep(Duration::from_millis(50));
        assert!(out.cut(DisconnectReason::SlowConsumer));
        assert_eq!(
            sender.join().unwrap(),
            Err(SendError::Closed(DisconnectReason::SlowConsumer))
        );
        assert_eq!(out.pending(), 0);
        assert_eq!(out.wire().cuts.load(SeqCst), 1);
        assert!(!out.cut(DisconnectReason::Closed), "the first reason stays");
        assert_eq!(out.cut_reason(), Some(DisconnectReason::SlowConsumer));
        assert!(out.reply(b"x").is_err());
    }

    #[test]
    fn on_an_event_thread_a_full_queue_pauses_the_producer_instead() {
        let producer = Outgoing::new(7, limits(1000), TestWire::default());
        let out = Outgoing::new(1, limits(1000), TestWire::default());
        thread::scope(|s| {
            s.spawn(|| {
                never_wait_on_this_thread();
                producing(producer.clone(), || {
                    out.send(&[b'a'; 900], true).unwrap();
                    assert!(!producer.is_held());
                    // Past the limit: queued, and the producer is paused.
                    out.send(&[b'b'; 900], true).unwrap();
                    out.send(&[b'c'; 100], true).unwrap();
                    assert!(producer.is_held());
                    // Twice the limit is as far as a send that cannot wait goes.
                    assert_eq!(out.send(&[b'd'; 200], true), Err(SendError::Full));
                });
            });
        });
        assert_eq!(out.pending(), 1900);
        let wakes = producer.wire().wakes.load(SeqCst);
        client_reads(&out, 1000);
        assert!(producer.is_held(), "above the low-water mark");
        client_reads(&out, 500);
        assert!(!producer.is_held(), "down to half the limit: go on");
        assert_eq!(producer.wire().wakes.load(SeqCst), wakes + 1, "told once");
    }

    #[test]
    fn replies_skip_the_limit_and_marks_tell_when_they_left() {
        let wire = TestWire {
            direct: true,
            room: StdMutex::new(10),
            ..TestWire::default()
        };
        let out = Outgoing::new(1, limits(1000), wire);
        let first = out.reply(&[b'r'; 5]).unwrap();
        assert_eq!(out.pending(), 0, "the socket took it at once");
        out.wait_sent(first).unwrap();
        let second = out.reply(&[b's'; 5000]).unwrap();
        assert_eq!(out.pending(), 4995, "a reply is not refused by the limit");
        let waiter = {
            let out = out.clone();
            thread::spawn(move || out.wait_sent(second))
        };
        client_reads(&out, 5000);
        waiter.join().unwrap().unwrap();
        out.send(b"t", true).unwrap();
        assert_eq!(out.wire().got.lock().unwrap().len(), 5006);
    }

    #[test]
    fn the_stall_clock_starts_when_the_queue_fills() {
        let out = Outgoing::new(1, limits(1000), TestWire::default());
        out.send(&[b'a'; 600], true).unwrap();
        let (t, reason) = out.deadline(&mut out.state()).unwrap();
        assert_eq!(reason, DisconnectReason::Timeout);
        assert!(t >= Instant::now() + Duration::from_secs(25));
        thread::scope(|s| {
            s.spawn(|| {
                never_wait_on_this_thread();
                out.send(&[b'b'; 600], true).unwrap();
            });
        });
        let (t, reason) = out.deadline(&mut out.state()).unwrap();
        assert_eq!(reason, DisconnectReason::SlowConsumer);
        assert!(t <= Instant::now() + Duration::from_secs(2));
        // Looked at eight times a stall timeout while full.
        let look = out.next_look().unwrap();
        assert!(look <= Instant::now() + Duration::from_millis(250));
        assert!(look + Duration::from_millis(1000) < t, "{look:?} {t:?}");
        assert_eq!(out.cut_if_overdue(), None, "not yet");
    }
}
