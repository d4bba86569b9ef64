//! One connection on an event loop: its non-blocking socket, its session
//! (at home on the loop, or away with one message's handler call), the bytes
//! it has to write, and its deadlines.
//!
//! The blocking loop (`blocking/serve.rs`) reads, handles and writes in order
//! and may wait at each step; here no step may wait, so each connection
//! remembers where it stands and [`Conn::advance`] does everything that can
//! be done now, then says what it waits for. The order of work is the
//! blocking loop's: every complete message is handled before the next read
//! (so `raw` framing still sees one read as one message), replies are
//! written before more is read once they pile up (backpressure: a client
//! that does not read stops being read, as a blocking write would stop
//! it), and an ending connection first writes what it owes. A connection
//! whose handler's sends filled another client's queue is paused the same
//! way (`outgoing/`): not read, no message handled, until that queue
//! drains; its own writes go on meanwhile.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::mailbox::Mailbox;
use super::runner::{Done, Job, Runner};
use super::wire::Out;
use crate::config::Config;
use crate::handler::{ConnInfo, DisconnectReason};
use crate::server::lifecycle::{self, TimedOut};
use crate::server::live::ServerState;
use crate::server::outgoing::producing;
use crate::server::proxy_header::{Found, ProxyHeader, Verdict};
use crate::server::stats::{Stats, Tally};
use crate::session::{Session, Step};

/// Unwritten bytes past which a connection stops handling and reading
/// until its client has taken some: enough to keep a busy client's
/// pipeline full, small next to `max_pending_bytes`.
const HIGH_WATER: usize = 64 * 1024;

/// Reads one connection may make per turn of its loop before the others
/// get theirs: a client sending at full speed cannot starve its loop.
const READS_PER_TURN: usize = 16;

/// What a connection waits for after [`Conn::advance`].
pub(crate) enum Next {
    /// An event: bytes to read, room to write, a call back, a deadline.
    Wait,
    /// Nothing: it has more to do, after the loop's other connections.
    Again,
    /// Its end, for this reason (its session is home).
    End(DisconnectReason, TimedOut),
    /// A handler call to make, with the session (when the runner
    /// [lends](Runner::lends)): the loop lends it its thread or queues it
    /// for a worker, then moves the connection on.
    Call(Job),
}

/// Why and how a connection is ending.
#[derive(Debug)]
struct Ending {
    reason: DisconnectReason,
    timed_out: TimedOut,
    /// Write what is owed first (an orderly close), or end at once (a cut).
    flush: bool,
}

/// What [`Conn::advance`] needs from its loop.
pub(crate) struct Cx<'a> {
    pub server: &'a ServerState,
    pub runner: &'a dyn Runner,
    pub home: &'a Arc<Mailbox>,
    /// The loop's one read buffer, shared by all its connections.
    pub buf: &'a mut [u8],
    /// Shutdown began: read only what has arrived, then close.
    pub draining: bool,
    /// The runner [lends](Runner::lends): handler calls go back to the
    /// loop as [`Next::Call`].
    pub lends: bool,
    /// This connection's place on the loop.
    pub slot: usize,
}

/// Where a connection stands with its handler.
#[derive(Debug)]
enum Stage {
    /// Reading its PROXY protocol header (`proxy_protocol` on): no handler
    /// yet, since the header names the client the handler must see.
    Header(ProxyHeader),
    /// Its handler exists: served.
    Open,
    /// Its header came, but `lifecycle::open` declined it (shutdown came,
    /// or the factory panicked), and already counted and finished it.
    Declined,
}

/// One connection owned by an event loop.
pub(crate) struct Conn {
    pub info: ConnInfo,
    stage: Stage,
    pub accepted_at: Instant,
    pub stream: mio::net::TcpStream,
    pub out: Arc<Out>,
    /// `None` while one of its handler calls runs away from the loop (on a
    /// worker, or on a thread the loop lent, `lend.rs`). Boxed because
    /// it travels (to the handler call and back) once per message, and a
    /// pointer moves cheaper than the whole session.
    pub session: Option<Box<Session>>,
    /// A handler call was lost (a bug outside the handler): end without it.
    lost: bool,
    /// Readiness last reported and not yet used up (mio is edge-triggered:
    /// no new event comes until a call returns `WouldBlock`).
    pub readable: bool,
    pub writable: bool,
    /// The client closed its sending side.
    eof: bool,
    ending: Option<Ending>,
    /// The read deadline counts from here: the last message handled.
    last_message: Instant,
    /// Messages already added to the tally.
    counted: u64,
    pub tally: Tally,
    /// Its earliest entry in the loop's deadlines, if any.
    pub armed: Option<Instant>,
    /// Reads made this turn before a [`Next::Call`], for the rest of the
    /// turn once the call is back.
    reads: usize,
}

impl Conn {
    /// A connection whose handler's `on_connect` just ran with `step`.
    pub fn new(
        info: ConnInfo,
        accepted_at: Instant,
        stream: mio::net::TcpStream,
        out: Arc<Out>,
        session: Session,
        step: Step,
    ) -> Conn {
        let mut conn = Conn::blank(info, accepted_at, stream, out, Stage::Open);
        conn.install(session, step);
        conn
    }

    /// Takes on `session`, whose `on_connect` just ran with `step`: its
    /// greeting is queued, and an `on_connect` that closed is honoured.
    fn install(&mut self, session: Session, step: Step) {
        self.session = Some(Box::new(session));
        if let Step::Close(reason) = step {
            self.end_after_writing(reason);
        }
        self.take_reply();
    }

    /// A connection that must first send its PROXY protocol header; it is
    /// opened (counted, logged, greeted) once `header` has read it.
    pub fn awaiting_header(
        info: ConnInfo,
        accepted_at: Instant,
        stream: mio::net::TcpStream,
        out: Arc<Out>,
        header: ProxyHeader,
    ) -> Conn {
        Conn::blank(info, accepted_at, stream, out, Stage::Header(header))
    }

    /// A connection with no session yet.
    fn blank(
        info: ConnInfo,
        accepted_at: Instant,
        stream: mio::net::TcpStream,
        out: Arc<Out>,
        stage: Stage,
    ) -> Conn {
        Conn {
            info,
            stage,
            accepted_at,
            stream,
            out,
            session: None,
            lost: false,
            // Tried once whatever the poller says: costs a call, and works
            // the same on every platform mio supports.
            readable: true,
            writable: true,
            eof: false,
            ending: None,
            last_message: Instant::now(),
            counted: 0,
            tally: Tally::default(),
            armed: None,
            reads: 0,
        }
    }

    /// Whether its handler was made: `false` while it reads its PROXY
    /// protocol header, and if it never got one.
    pub fn opened(&self) -> bool {
        matches!(self.stage, Stage::Open)
    }

    /// Whether it is still reading its PROXY protocol header: ending now,
    /// it is closed by [`lifecycle::close_unopened`].
    pub fn awaiting(&self) -> bool {
        matches!(self.stage, Stage::Header(_))
    }

    fn end_after_writing(&mut self, reason: DisconnectReason) {
        if self.ending.is_none() {
            self.ending = Some(Ending {
                reason,
                timed_out: TimedOut::Reading,
                flush: true,
            });
        }
    }

    /// Ends the connection at once when it can (its session is home),
    /// without writing what is owed: a cut, an error, a deadline.
    pub fn end_now(&mut self, reason: DisconnectReason, timed_out: TimedOut) {
        if self.ending.as_ref().is_none_or(|e| e.flush) {
            self.ending = Some(Ending {
                reason,
                timed_out,
                flush: false,
            });
        }
    }

    /// Bytes not yet written: replies and messages from senders.
    fn pending(&self) -> usize {
        self.out.pending()
    }

    /// Shutdown began: look at the socket again even without an event, so
    /// what arrived just before is read and answered, then the connection
    /// closes.
    pub fn begin_drain(&mut self) {
        self.readable = true;
    }

    /// Does everything that can be done now without waiting: handler calls
    /// for the messages received, writes, reads; then says what is next.
    pub fn advance(&mut self, cx: &mut Cx<'_>) -> Next {
        if self.awaiting()
            && let Some(next) = self.read_header(cx)
        {
            return next;
        }
        // A call its loop made in between (a [`Next::Call`]) does not
        // restart the count, or a client sending at full speed, one message
        // a read, would keep its loop from ever polling again.
        let mut reads = std::mem::take(&mut self.reads);
        loop {
            if let Some(cut) = self.out.cut_reason() {
                self.end_now(cut, TimedOut::Writing);
            }
            if let Some(e) = self.ending.as_ref().filter(|e| !e.flush) {
                return if self.session.is_some() || self.lost {
                    Next::End(e.reason.clone(), e.timed_out)
                } else {
                    Next::Wait
                };
            }
            // Handler calls first: a read's messages are all handled (their
            // replies gathered) before anything is written or read again.
            if self.ending.is_none()
                && self.pending() < HIGH_WATER
                && !self.out.is_held()
                && self.session.as_mut().is_some_and(|s| s.has_input())
            {
                let job = Job {
                    session: self.session.take().expect("checked at home"),
                    slot: cx.slot,
                    id: self.info.id,
                    home: cx.home.clone(),
                    out: self.out.clone(),
                };
                if cx.lends {
                    self.reads = reads;
                    return Next::Call(job);
                }
                if let Some(done) = cx.runner.run(job) {
                    self.returned(done, &cx.server.stats);
                    continue;
                }
            }
            if let Err(e) = self.flush() {
                self.end_now(DisconnectReason::from_io(&e), TimedOut::Writing);
                continue;
            }
            if self.session.is_none() {
                // Away with its call; the writes above went on meanwhile.
                return Next::Wait;
            }
            if let Some(e) = &self.ending {
                return if self.pending() == 0 {
                    Next::End(e.reason.clone(), e.timed_out)
                } else {
                    Next::Wait
                };
            }
            if self.pending() >= HIGH_WATER || self.out.is_held() {
                // Its client must take its replies first, or (held) it
                // filled another client's queue: no reading until then.
                return Next::Wait;
            }
            if self.session.as_mut().is_some_and(|s| s.has_input()) {
                // Its replies held the next message back and have left
                // now: handle it before reading (no event would come).
                continue;
            }
            if self.eof || (!self.readable && cx.draining) {
                self.end_after_writing(if cx.draining {
                    DisconnectReason::Shutdown
                } else {
                    DisconnectReason::ClientClosed
                });
                continue;
            }
            if !self.readable {
                return Next::Wait;
            }
            if reads == READS_PER_TURN {
                return Next::Again;
            }
            reads += 1;
            self.read(cx);
        }
    }

    /// One read into the loop's buffer, pushed whole to the session.
    ///
    /// The connection reads until `WouldBlock`, even after a short read
    /// that probably emptied the socket. Skipping that read (as tokio does)
    /// saves a system call per message, and measured 20 to 25% fewer
    /// messages a second at 64 and 512 clients: after a reply is written
    /// the client's next request is often already there, and the read
    /// that finds it saves a trip through the poller.
    fn read(&mut self, cx: &mut Cx<'_>) {
        let config = &cx.server.config;
        let size = config.read_size();
        match (&self.stream).read(&mut cx.buf[..size]) {
            Ok(0) => self.eof = true,
            Ok(n) => {
                self.tally.bytes_in += n as u64;
                if let Some(session) = self.session.as_mut() {
                    session.push(&cx.buf[..n]);
                }
                log::trace!("Client #{}: read {n} bytes.", self.info.id);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => self.end_now(DisconnectReason::from_io(&e), TimedOut::Reading),
        }
    }

    /// Reads the PROXY protocol header as far as the socket has it, and
    /// opens the connection once it is complete: the event loops' I/O
    /// around the sans-IO reader (`proxy_header/`) the blocking loop
    /// shares. `None` once opened (serve on); else what is next.
    fn read_header(&mut self, cx: &mut Cx<'_>) -> Option<Next> {
        let config = &cx.server.config;
        let size = config.read_size();
        loop {
            if let Some(cut) = self.out.cut_reason() {
                // Still waiting at shutdown's deadline.
                self.end_now(cut, TimedOut::Reading);
            }
            if let Some(e) = &self.ending {
                return Some(Next::End(e.reason.clone(), e.timed_out));
            }
            let Stage::Header(header) = &mut self.stage else {
                return None;
            };
            if !self.readable {
                return Some(if cx.draining {
                    Next::End(DisconnectReason::Shutdown, TimedOut::Reading)
                } else {
                    Next::Wait
                });
            }
            let reason = match (&self.stream).read(&mut cx.buf[..size]) {
                Ok(0) if cx.draining => DisconnectReason::Shutdown,
                Ok(0) => header
                    .cut_short()
                    .map_or(DisconnectReason::ClientClosed, DisconnectReason::Protocol),
                Ok(n) => match header.feed(&cx.buf[..n]) {
                    Verdict::NeedMore => continue,
                    Verdict::Invalid(why) => DisconnectReason::Protocol(why),
                    Verdict::Done(found) => return self.open(cx, found, n),
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => DisconnectReason::from_io(&e),
            };
            return Some(Next::End(reason, TimedOut::Reading));
        }
    }

    /// Its PROXY header is complete (`found`, in a read of `n` bytes in the
    /// loop's buffer): opened as any connection is on arrival, now naming
    /// the header's client; the read's bytes after the header are the
    /// client's first data. `None` to serve on.
    fn open(&mut self, cx: &mut Cx<'_>, found: Found, n: usize) -> Option<Next> {
        found.apply(&mut self.info);
        let server = cx.server;
        let Some(handler) = lifecycle::open(server, self.info, self.accepted_at) else {
            self.stage = Stage::Declined;
            return Some(Next::End(DisconnectReason::Shutdown, TimedOut::Reading));
        };
        self.stage = Stage::Open;
        let config = &server.config;
        let mut session = Session::new(
            handler,
            self.info,
            config,
            self.out.clone(),
            server.calls.clone(),
        );
        let step = producing(self.out.clone(), || session.start());
        let early = &cx.buf[found.used..n];
        if !early.is_empty() {
            self.tally.bytes_in += early.len() as u64;
            session.push(early);
        }
        // The header counts as a message for the idle clock.
        self.last_message = Instant::now();
        self.install(session, step);
        None
    }

    /// A handler call came back: the session is home again, its messages
    /// are counted, its replies queued, its decision noted.
    pub fn returned(&mut self, done: Done, stats: &Stats) {
        let Some(session) = done.session else {
            self.lost = true;
            self.end_now(
                DisconnectReason::Panic("a handler call was lost".into()),
                TimedOut::Reading,
            );
            return;
        };
        let messages = session.messages();
        self.session = Some(session);
        self.tally.add_messages(messages - self.counted, stats);
        self.counted = messages;
        self.last_message = Instant::now();
        if let Step::Close(reason) = done.step {
            self.end_after_writing(reason);
        }
        self.take_reply();
    }

    /// Moves the session's replies to the outgoing queue, behind anything
    /// senders queued before (they were sent during the call, as in the
    /// blocking modes, where a send writes at once and replies after).
    fn take_reply(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if !session.output().is_empty() {
            self.out.queue_reply(session.output());
            session.clear_output();
        }
    }

    /// Writes what the socket takes now.
    fn flush(&mut self) -> io::Result<()> {
        if !self.writable || self.pending() == 0 {
            return Ok(());
        }
        let Conn {
            stream,
            out,
            tally,
            writable,
            ..
        } = self;
        let written = out.write_to(|b| match (&*stream).write(b) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *writable = false;
                Err(e)
            }
            other => other,
        })?;
        tally.bytes_out += written as u64;
        Ok(())
    }

    /// Whether the connection waits for its client to send (its PROXY
    /// header or a message): the read deadline runs only then (not while a
    /// handler call is out, nor while the client is not taking its
    /// replies: the write deadline runs then).
    fn waits_for_client(&self) -> bool {
        (self.session.is_some() || self.awaiting())
            && self.ending.is_none()
            && !self.eof
            && self.pending() < HIGH_WATER
            && !self.out.is_held()
    }

    /// The earliest of the connection's deadlines now, if any runs: the
    /// outgoing side's next look (`outgoing/`), and the read deadline
    /// while it waits for its client.
    pub fn deadline(&self, config: &Config) -> Option<Instant> {
        let write = self.out.next_look();
        let read = (config.read_timeout_ms > 0 && self.waits_for_client())
            .then(|| self.last_message + Duration::from_millis(config.read_timeout_ms));
        match (write, read) {
            (Some(w), Some(r)) => Some(w.min(r)),
            (w, r) => w.or(r),
        }
    }

    /// A deadline came: looks at the socket (writes what it takes now,
    /// which no event may have announced), then says which deadline has
    /// passed by `now`, if one has, and why it ends the connection. The
    /// outgoing side's cut is made here, so whoever waits on the
    /// connection goes on at once.
    pub fn expired(
        &mut self,
        now: Instant,
        config: &Config,
    ) -> Option<(DisconnectReason, TimedOut)> {
        self.writable = true;
        if let Err(e) = self.flush() {
            return Some((DisconnectReason::from_io(&e), TimedOut::Writing));
        }
        if let Some(reason) = self.out.cut_if_overdue() {
            return Some((reason, TimedOut::Writing));
        }
        let passed = |since: Instant, ms: u64| since + Duration::from_millis(ms) <= now;
        if config.read_timeout_ms > 0
            && self.waits_for_client()
            && passed(self.last_message, config.read_timeout_ms)
        {
            return Some((DisconnectReason::Timeout, TimedOut::Reading));
        }
        None
    }

    /// Messages handled so far.
    pub fn messages(&self) -> u64 {
        self.counted
    }
}
