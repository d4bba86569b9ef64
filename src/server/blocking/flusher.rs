//! The flusher: one thread per blocking server that writes the bytes
//! connections queued because their sockets were full, as the sockets
//! drain, and cuts the clients that stop taking them.
//!
//! In the blocking modes every connection has a thread of its own, but
//! that thread is blocked reading its socket, or busy in a handler; it
//! cannot also wait for the socket to take the bytes others sent it (a
//! chat line). So a send that does not fit queues the rest (`outgoing/`)
//! and hands the connection to this thread, which keeps a mio `Poll` and
//! watches the socket for WRITABLE, only while something waits for it: a
//! server whose clients read what they are sent never wakes it. Started by
//! the blocking modes only; the event loops write their own sockets.
//!
//! It also keeps each queue's deadlines: a client that takes no byte of
//! its queue for `write_timeout_ms` (or, with the queue full and a sender
//! slowed by it, for `stall_timeout_ms`) is cut. The socket has the last
//! word: the kernel reports a socket writable only once a third of its
//! buffer is free, so at the deadline one more send is tried, and any byte
//! it takes counts as progress.
//!
//! A socket is watched without taking it over: its own thread goes on
//! reading it. On Unix through its raw descriptor (mio's `SourceFd`); on
//! Windows, where mio watches only sockets it owns, through a second
//! handle of it (`socket.rs`). Registration is edge-triggered, so each
//! readiness event is drained until the socket would block or the queue
//! is empty; on Windows the watch is then armed again by hand
//! ([`Flush::rearm`]).
//!
//! Measured on loopback: with the kernel's own (autotuned) buffers, 40 MB
//! pushed faster than the client read went through in five drains, as
//! fast as a blocking `write_all`. With a send buffer shrunk by hand to
//! 4 KB, writable events came once per delayed ACK (about 40 ms), where a
//! blocking writer was woken sooner; the server never shrinks buffers.
//!
//! This file knows connections only through [`Flush`], so it sits below
//! the socket type that uses it (`socket.rs`) and imports nothing of it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use mio::{Events, Poll, Registry, Token, Waker};

/// What the flusher needs of a connection with bytes waiting.
pub(crate) trait Flush: Send + Sync {
    /// Starts watching the socket for WRITABLE under `token`.
    fn register(&self, registry: &Registry, token: Token) -> io::Result<()>;
    /// After a flush that left bytes waiting (the socket would block):
    /// makes sure its next WRITABLE is reported.
    fn rearm(&self, registry: &Registry, token: Token) -> io::Result<()>;
    /// Stops watching the socket (still open: `self` holds it).
    fn deregister(&self, registry: &Registry);
    /// Writes what the socket takes now, without blocking.
    fn flush(&self) -> Flushed;
    /// When to look at the socket next without an event (a deadline, or
    /// a periodic look while its queue is full); `None` once nothing waits.
    fn next_look(&self) -> Option<Instant>;
    /// After a look: cuts the connection if its deadline has passed;
    /// returns whether it did.
    fn cut_if_overdue(&self) -> bool;
}

/// What one [`Flush::flush`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// The queue is empty: stop watching the socket.
    Empty,
    /// Bytes still wait.
    More,
    /// The connection is closed or cut: forget it.
    Gone,
}

/// The shared half: what sockets hold to hand themselves to the flusher.
pub(crate) struct FlushQueue {
    waker: Waker,
    /// Connections that started queueing since the flusher last looked.
    new: Mutex<Vec<(u64, Arc<dyn Flush>)>>,
    stop: AtomicBool,
}

impl FlushQueue {
    fn new_list(&self) -> MutexGuard<'_, Vec<(u64, Arc<dyn Flush>)>> {
        self.new.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the flusher to drain connection `id` now and whenever its
    /// socket can take more, until its queue is empty. Asking again while
    /// it is watched only makes it drain now (`outgoing/` does that when
    /// it closes a connection, so the flusher forgets it at once).
    pub fn watch(&self, id: u64, conn: Arc<dyn Flush>) {
        let mut new = self.new_list();
        if self.stop.load(SeqCst) {
            // The server has stopped: its connections are closed, and one
            // kept here would never be let go.
            return;
        }
        new.push((id, conn));
        // One wake per batch: a list that was not empty is already due.
        if new.len() == 1
            && let Err(e) = self.waker.wake()
        {
            log::error!("cannot wake the flusher: {e}");
        }
    }
}

/// The flusher thread, owned by the server; stopped when dropped.
pub(crate) struct Flusher {
    queue: Arc<FlushQueue>,
    thread: Option<JoinHandle<()>>,
}

/// The waker's token; connection ids (from 1) are the others.
const WAKE: Token = Token(usize::MAX);

impl Flusher {
    /// Starts the thread.
    pub fn start() -> io::Result<Flusher> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKE)?;
        let queue = Arc::new(FlushQueue {
            waker,
            new: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let shared = queue.clone();
        let thread = thread::Builder::new()
            .name("flusher".into())
            .spawn(move || run(poll, &shared))?;
        Ok(Flusher {
            queue,
            thread: Some(thread),
        })
    }

    /// What sockets use to hand themselves over.
    pub fn queue(&self) -> &Arc<FlushQueue> {
        &self.queue
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        {
            // Under the list's lock: no `watch` adds to it after this.
            let _list = self.queue.new_list();
            self.queue.stop.store(true, SeqCst);
        }
        let _ = self.queue.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Sockets hold the queue and the list holds sockets: emptying it
        // breaks that cycle.
        self.queue.new_list().clear();
    }
}

/// The thread's loop: wait for writable sockets, new connections to watch,
/// or the nearest deadline; drain; cut the stalled; until stopped.
fn run(mut poll: Poll, queue: &FlushQueue) {
    let mut events = Events::with_capacity(256);
    let mut watched: HashMap<u64, Arc<dyn Flush>> = HashMap::new();
    loop {
        // A scan per wake: only connections with bytes waiting are here,
        // few in a server whose clients read. Their deadlines move as
        // their clients take bytes and as their queues fill, so they are
        // asked, not kept.
        let now = Instant::now();
        let timeout = watched
            .values()
            .filter_map(|w| w.next_look())
            .map(|at| at.saturating_duration_since(now))
            .min();
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            log::error!("flusher stopped: cannot poll: {e}");
            return;
        }
        if queue.stop.load(SeqCst) {
            return;
        }
        let mut due: Vec<u64> = events
            .iter()
            .filter(|e| e.token() != WAKE)
            .map(|e| e.token().0 as u64)
            .collect();
        let new = std::mem::take(&mut *queue.new_list());
        for (id, conn) in new {
            if let Entry::Vacant(slot) = watched.entry(id) {
                if let Err(e) = conn.register(poll.registry(), Token(id as usize)) {
                    // Its queue would never drain: its deadline cuts it.
                    log::error!("Cannot watch connection {id} for writing: {e}");
                    slot.insert(conn);
                    continue;
                }
                slot.insert(conn);
            }
            due.push(id);
        }
        for id in due {
            let Some(conn) = watched.get(&id) else {
                continue;
            };
            match conn.flush() {
                Flushed::Empty | Flushed::Gone => forget(&poll, &mut watched, id),
                Flushed::More => rearm(&poll, conn.as_ref(), id),
            }
        }
        let now = Instant::now();
        let due: Vec<u64> = watched
            .iter()
            .filter(|(_, w)| w.next_look().is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(conn) = watched.get(&id) else {
                continue;
            };
            // A look: what the socket takes now is progress the client
            // made without an event saying so; then the deadline, if it
            // has passed, cuts.
            let flushed = conn.flush();
            if conn.cut_if_overdue() || matches!(flushed, Flushed::Empty | Flushed::Gone) {
                forget(&poll, &mut watched, id);
            } else {
                rearm(&poll, conn.as_ref(), id);
            }
        }
    }
}

/// Stops watching connection `id`.
fn forget(poll: &Poll, watched: &mut HashMap<u64, Arc<dyn Flush>>, id: u64) {
    if let Some(conn) = watched.remove(&id) {
        conn.deregister(poll.registry());
    }
}

/// Bytes of connection `id` still wait: its next WRITABLE must come.
fn rearm(poll: &Poll, conn: &dyn Flush, id: u64) {
    if let Err(e) = conn.rearm(poll.registry(), Token(id as usize)) {
        // Its queue would drain only at each look: its deadline cuts it
        // if the client stops taking bytes.
        log::error!("Cannot watch connection {id} for writing again: {e}");
    }
}
