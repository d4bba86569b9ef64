//! One event loop: its thread's state, and the turn that moves its
//! connections on.
//!
//! Each loop is one thread with a mio poller, owning its share of the
//! connections on non-blocking sockets: it sleeps until a socket, its
//! mailbox or a deadline needs it, then moves each connection on as far as
//! it can without waiting (`conn.rs`). A thousand idle clients cost
//! a loop a thousand small records and nothing else: no thread, no stack.
//! The loops are started and handed connections by `loops.rs`.
//!
//! A loop never waits in a send (`outgoing/`): a handler call whose
//! sends fill a queue pauses its own connection instead, which this loop
//! then neither reads nor hands another message until the queue drains.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::conn::{Conn, Cx, Next};
use super::deadlines::Deadlines;
use super::lend::{Turned, Turns};
use super::mailbox::{Arrival, Inbox, Mailbox, WAKER};
use super::runner::{Done, Job, Runner};
use super::wire::Out;
use crate::handler::{ConnInfo, DisconnectReason};
use crate::server::lifecycle::{self, TimedOut};
use crate::server::live::ServerState;
use crate::server::outgoing::producing;
use crate::server::proxy_header::ProxyHeader;
use crate::session::{Session, Step};

/// The running loops of one server, as its mode's driver holds them.
/// One loop's state: its thread's own (`event`), or in a [`LoopCell`] for
/// whichever thread drives it (`event-workers`).
pub(super) struct EventLoop {
    server: Arc<ServerState>,
    home: Arc<Mailbox>,
    runner: Arc<dyn Runner>,
    poll: Poll,
    events: Events,
    /// Connections by slot (token `slot + 1`); `free` lists empty slots.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    deadlines: Deadlines,
    /// The one read buffer of the loop.
    buf: Vec<u8>,
    /// Slots to move on in this turn, and in the next (fairness). A
    /// queue, so a connection whose call just came back goes first.
    ready: VecDeque<usize>,
    again: Vec<usize>,
    /// Handler calls to make, for the thread driving the loop to take
    /// ([`Next::Call`]: only when the runner lends).
    calls: VecDeque<(usize, Job)>,
    /// The ready slots of this turn are being moved on; its deadlines are
    /// next. Kept here, not on the stack, so a turn stopped at a call
    /// resumes where it was.
    mid_turn: bool,
    /// The runner [lends](Runner::lends): calls come back as [`Next::Call`].
    lends: bool,
    draining: bool,
}

impl EventLoop {
    pub(super) fn new(
        server: Arc<ServerState>,
        home: Arc<Mailbox>,
        runner: Arc<dyn Runner>,
        poll: Poll,
    ) -> EventLoop {
        let config = &server.config;
        let buf = vec![0; config.read_size()];
        let lends = runner.lends();
        EventLoop {
            server,
            home,
            runner,
            poll,
            events: Events::with_capacity(1024),
            conns: Vec::new(),
            free: Vec::new(),
            deadlines: Deadlines::default(),
            buf,
            ready: VecDeque::new(),
            again: Vec::new(),
            calls: VecDeque::new(),
            mid_turn: false,
            lends,
            draining: false,
        }
    }

    /// The loop of `event` mode: wait for something to do, do it, until
    /// told to quit. Its calls run inside [`Conn::advance`], so no turn
    /// stops at one.
    pub(super) fn run(mut self) {
        while let Turned::Call(slot, job) = self.turn() {
            match self.runner.run(job) {
                Some(done) => self.returned(done, true),
                None => self.ready.push_front(slot),
            }
        }
    }

    /// Moves the loop on until a handler call is to be made by whoever
    /// drives it (only when the runner lends), or it quits. A turn waits
    /// for something to do, moves on every connection that has something,
    /// then ends those past a deadline; called again after a call, it
    /// resumes where it stopped.
    fn turn(&mut self) -> Turned {
        loop {
            if let Some((slot, job)) = self.calls.pop_front() {
                return Turned::Call(slot, job);
            }
            if let Some(slot) = self.ready.pop_front() {
                self.advance(slot);
                continue;
            }
            if std::mem::take(&mut self.mid_turn) {
                self.expire_deadlines();
                continue;
            }
            let timeout = if self.again.is_empty() {
                self.deadlines
                    .next()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poll.poll(&mut self.events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                log::error!("event loop poll failed: {e}; its connections are closed");
                self.quit();
                return Turned::Quit;
            }
            self.ready.extend(self.again.drain(..));
            let mut woken = false;
            for event in self.events.iter() {
                if event.token() == WAKER {
                    woken = true;
                    continue;
                }
                let slot = event.token().0 - 1;
                if let Some(Some(conn)) = self.conns.get_mut(slot) {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        conn.readable = true;
                    }
                    if event.is_writable() || event.is_write_closed() || event.is_error() {
                        conn.writable = true;
                    }
                    self.ready.push_back(slot);
                }
            }
            if woken && self.read_mail() {
                self.quit();
                return Turned::Quit;
            }
            if !self.draining && self.server.shutdown.is_triggered() {
                self.begin_drain();
            }
            self.mid_turn = true;
        }
    }

    /// Takes everything posted; returns `true` when told to quit.
    fn read_mail(&mut self) -> bool {
        let inbox = self.home.take();
        if inbox.quit {
            self.settle(inbox);
            return true;
        }
        for arrival in inbox.arrivals {
            self.arrive(arrival);
        }
        for done in inbox.done {
            self.returned(done, false);
        }
        for (slot, id) in inbox.notes {
            if self.conn(slot, id).is_some() {
                self.ready.push_back(slot);
            }
        }
        false
    }

    /// What was posted along with a quit, or after it: arrivals are closed
    /// unserved, calls back are taken home so their connections end.
    fn settle(&mut self, inbox: Inbox) {
        for arrival in inbox.arrivals {
            self.unstarted(arrival);
        }
        for done in inbox.done {
            self.returned(done, false);
        }
    }

    /// Connection `id` in `slot`, if it is still there.
    fn conn(&mut self, slot: usize, id: u64) -> Option<&mut Conn> {
        self.conns
            .get_mut(slot)
            .and_then(Option::as_mut)
            .filter(|c| c.info.id == id)
    }

    /// Takes on a new connection: counts and greets it (its `on_connect`
    /// runs here, on the loop, so every client is greeted at once however
    /// busy the workers are), then serves what it may have sent already.
    fn arrive(&mut self, arrival: Arrival) {
        let Arrival {
            info,
            mut stream,
            out,
            accepted_at,
        } = arrival;
        if let Some(header) = ProxyHeader::expected(self.server.config.proxy_protocol) {
            return self.arrive_behind_balancer(info, stream, out, accepted_at, header);
        }
        let Some(handler) = lifecycle::open(&self.server, info, accepted_at) else {
            self.home.load.fetch_sub(1, Relaxed);
            return;
        };
        let slot = match self.watch(&mut stream) {
            Ok(slot) => slot,
            Err(reason) => {
                lifecycle::close(
                    &self.server,
                    info,
                    &reason,
                    TimedOut::Reading,
                    accepted_at,
                    0,
                );
                return;
            }
        };
        out.wire().attach(slot);
        let config = &self.server.config;
        let mut session = Session::new(
            handler,
            info,
            config,
            out.clone(),
            self.server.calls.clone(),
        );
        let step = producing(out.clone(), || session.start());
        self.settle_in(
            slot,
            Conn::new(info, accepted_at, stream, out, session, step),
        );
    }

    /// Takes on a connection that must first send its PROXY protocol
    /// header (`proxy_protocol` on): watched at once, but counted, logged
    /// and greeted only once the header has named the client
    /// (`conn.rs`), as [`arrive`](EventLoop::arrive) does then.
    fn arrive_behind_balancer(
        &mut self,
        info: ConnInfo,
        mut stream: mio::net::TcpStream,
        out: Arc<Out>,
        accepted_at: Instant,
        header: ProxyHeader,
    ) {
        let slot = match self.watch(&mut stream) {
            Ok(slot) => slot,
            Err(reason) => {
                lifecycle::close_unopened(&self.server, info, &reason, accepted_at);
                return;
            }
        };
        out.wire().attach(slot);
        let conn = Conn::awaiting_header(info, accepted_at, stream, out, header);
        self.settle_in(slot, conn);
    }

    /// Registers a new connection's socket with the poller under a free
    /// slot and returns the slot. On failure the connection no longer
    /// counts towards the loop's load, and the reason is the caller's to
    /// close it with.
    fn watch(&mut self, stream: &mut mio::net::TcpStream) -> Result<usize, DisconnectReason> {
        let slot = self.free.pop().unwrap_or(self.conns.len());
        match self.poll.registry().register(
            stream,
            Token(slot + 1),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            Ok(()) => Ok(slot),
            Err(e) => {
                self.free.push(slot);
                self.home.load.fetch_sub(1, Relaxed);
                Err(DisconnectReason::Error(format!(
                    "cannot watch its socket: {e}"
                )))
            }
        }
    }

    /// Puts `conn` in the `slot` [`watch`](EventLoop::watch) gave it and
    /// serves what it may have to do already.
    fn settle_in(&mut self, slot: usize, conn: Conn) {
        if slot == self.conns.len() {
            self.conns.push(Some(conn));
        } else {
            self.conns[slot] = Some(conn);
        }
        self.advance(slot);
    }

    /// An arrival after shutdown, never served.
    fn unstarted(&mut self, arrival: Arrival) {
        self.home.load.fetch_sub(1, Relaxed);
        self.server.stats.unstarted.fetch_add(1, Relaxed);
        self.server.conns.finish(arrival.info.id);
    }

    /// A handler call came back: from a worker, through the mailbox, or
    /// (`first`) on the thread that drives the loop, and then the
    /// connection goes on at once, as inside `event` mode's own calls.
    fn returned(&mut self, done: Done, first: bool) {
        let (slot, id) = (done.slot, done.id);
        let stats = &self.server.stats;
        match self
            .conns
            .get_mut(slot)
            .and_then(Option::as_mut)
            .filter(|c| c.info.id == id)
        {
            Some(conn) => {
                conn.returned(done, stats);
                if first {
                    self.ready.push_front(slot);
                } else {
                    self.ready.push_back(slot);
                }
            }
            // Cannot happen: a connection stays while its call is out.
            None => end_orphan(done),
        }
    }

    /// Moves connection `slot` on, then files it by what it waits for.
    fn advance(&mut self, slot: usize) {
        let EventLoop {
            server,
            home,
            runner,
            conns,
            buf,
            draining,
            lends,
            ..
        } = self;
        let Some(Some(conn)) = conns.get_mut(slot) else {
            return;
        };
        let mut cx = Cx {
            server,
            runner: &**runner,
            home,
            buf,
            draining: *draining,
            lends: *lends,
            slot,
        };
        match conn.advance(&mut cx) {
            Next::Wait => self.arm(slot),
            Next::Again => {
                self.again.push(slot);
                self.arm(slot);
            }
            Next::End(reason, timed_out) => self.end(slot, reason, timed_out),
            Next::Call(job) => self.calls.push_back((slot, job)),
        }
    }

    /// Puts connection `slot`'s deadline in the heap if it is earlier than
    /// the one there.
    fn arm(&mut self, slot: usize) {
        let Some(Some(conn)) = self.conns.get_mut(slot) else {
            return;
        };
        if let Some(at) = conn.deadline(&self.server.config)
            && conn.armed.is_none_or(|armed| at < armed)
        {
            conn.armed = Some(at);
            self.deadlines.arm(at, slot, conn.info.id);
        }
    }

    /// Ends the connections whose deadline has passed; re-arms those whose
    /// deadline moved later meanwhile.
    fn expire_deadlines(&mut self) {
        let now = Instant::now();
        while let Some((at, slot, id)) = self.deadlines.pop_due(now) {
            let config = &self.server.config;
            let Some(conn) = self
                .conns
                .get_mut(slot)
                .and_then(Option::as_mut)
                .filter(|c| c.info.id == id && c.armed == Some(at))
            else {
                continue;
            };
            conn.armed = None;
            match conn.expired(now, config) {
                Some((reason, timed_out)) => {
                    conn.end_now(reason, timed_out);
                    self.advance(slot);
                }
                // A look may have written, and so freed a paused producer
                // or a reply: move it on too.
                None => self.advance(slot),
            }
        }
        let conns = &self.conns;
        self.deadlines
            .sweep(conns.len() - self.free.len(), |at, slot, id| {
                conns
                    .get(slot)
                    .and_then(Option::as_ref)
                    .is_some_and(|c| c.info.id == id && c.armed == Some(at))
            });
    }

    /// Shutdown began: every connection reads what has arrived, answers
    /// it, and closes; idle ones close at once.
    fn begin_drain(&mut self) {
        self.draining = true;
        for (slot, conn) in self.conns.iter_mut().enumerate() {
            if let Some(conn) = conn {
                conn.begin_drain();
                self.ready.push_back(slot);
            }
        }
    }

    /// Closes connection `slot`, whose session is home (or lost): its
    /// handler's `on_disconnect`, then the counting and the log line every
    /// mode writes.
    fn end(&mut self, slot: usize, reason: DisconnectReason, timed_out: TimedOut) {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        self.free.push(slot);
        self.home.load.fetch_sub(1, Relaxed);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        detach(&conn.out);
        let stats = &self.server.stats;
        conn.tally.flush(stats);
        if !conn.opened() {
            // No handler: it ended while reading its PROXY header (told
            // here), or `lifecycle::open` declined it (told there).
            let (info, accepted_at, awaiting) = (conn.info, conn.accepted_at, conn.awaiting());
            close_socket(conn);
            if awaiting {
                lifecycle::close_unopened(&self.server, info, &reason, accepted_at);
            }
            return;
        }
        if let Some(mut session) = conn.session.take() {
            session.end(&reason);
        }
        let messages = conn.messages();
        let Conn {
            info, accepted_at, ..
        } = conn;
        close_socket(conn);
        lifecycle::close(
            &self.server,
            info,
            &reason,
            timed_out,
            accepted_at,
            messages,
        );
    }

    /// Stops the loop: nothing more is posted to it; connections still
    /// open (cut at shutdown already, or a server dropped unrun) end as at
    /// shutdown. One whose handler call is out ends when the call returns,
    /// on the worker (see [`end_orphan`]).
    fn quit(&mut self) {
        let left = self.home.close();
        self.settle(left);
        // Calls not yet made (a turn never quits with any, but a session
        // must not be dropped unended): their sessions go home and end
        // with their connections below.
        for (_, job) in std::mem::take(&mut self.calls) {
            let done = Done {
                session: Some(job.session),
                step: Step::Continue,
                slot: job.slot,
                id: job.id,
            };
            self.returned(done, false);
        }
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else {
                continue;
            };
            if conn.session.is_none() && conn.opened() {
                // Its session is on a worker: close the socket and count
                // it now; the session ends when the call returns.
                detach(&conn.out);
                let Some(conn) = self.conns[slot].take() else {
                    continue;
                };
                let (info, accepted_at, messages) = (conn.info, conn.accepted_at, conn.messages());
                close_socket(conn);
                lifecycle::close(
                    &self.server,
                    info,
                    &DisconnectReason::Shutdown,
                    TimedOut::Reading,
                    accepted_at,
                    messages,
                );
            } else {
                self.end(slot, DisconnectReason::Shutdown, TimedOut::Reading);
            }
        }
    }
}

/// A connection leaves its loop: no more notes for it, and its outgoing
/// side is closed (later sends fail, its queue is dropped).
fn detach(out: &Out) {
    out.wire().detach();
    out.cut(DisconnectReason::Closed);
}

/// Closes a connection's socket, before the table forgets the connection
/// (so the summary never counts a client still open). A shutdown first,
/// as the blocking modes close: the client gets its last bytes and an end
/// of stream (a FIN), where a bare close with input left unread would
/// reset the connection and could lose the reply (daytime's clients, who
/// send a line and are answered by a close, would see a reset).
fn close_socket(conn: Conn) {
    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
}

/// A handler call back for a connection its loop no longer has (the loop
/// stopped while the call was out): the worker ends the session itself,
/// so its handler still gets `on_disconnect`.
pub(crate) fn end_orphan(done: Done) {
    if let Some(mut session) = done.session {
        session.end(&DisconnectReason::Shutdown);
    }
}

/// A loop as `lend.rs` drives it for `event-workers`.
impl Turns for EventLoop {
    fn turn(&mut self) -> Turned {
        EventLoop::turn(self)
    }

    fn returned(&mut self, done: Done) {
        EventLoop::returned(self, done, true);
    }

    fn go_on(&mut self, slot: usize) {
        self.ready.push_front(slot);
    }
}
