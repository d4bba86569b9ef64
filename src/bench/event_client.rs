//! The event-loop client: one thread drives many simulated clients.
//!
//! A benchmark is only worth something if the generator is not the
//! bottleneck, so this one does not spend a thread per client: a few
//! event-loop threads (mio, non-blocking sockets) each drive many clients,
//! and every client is a small state machine
//! (connect → read greeting → write request → read reply → …). That is the
//! same idea the framework teaches on the server side, used here to put
//! pressure on a server from thousands of sockets at once.
//!
//! Replies are checked by `check`, and every outcome is counted by
//! [`Tally::settle`], as in the blocking client. Under `--rate` a client
//! whose next request is not due yet waits in [`State::Due`], woken by a
//! timer ([`Worker::timers`]) at the due time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::account::Account;
use super::check::{LineCheck, ReadOutcome, ReplyCheck};
use super::exchange::MessageBuf;
use super::failure::Failure;
use super::flags::Protocol;
use super::plan::{Plan, SCAN_INTERVAL};
use super::progress::{Flushed, Progress};
use super::tally::{Outcome, Tally};

/// Where a client is in its attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting out a pause after an error; reconnects at `deadline`.
    Backoff,
    /// Under `--rate`: the next request is due at `deadline`. The loop
    /// sleeps in epoll, whose timer counts whole milliseconds (rounded
    /// up), so a request leaves up to 1 ms after its due time, and that
    /// shows in its latency, as in wrk2, whose event loop has the same
    /// timer. A thread with one persistent client sleeps to the due time
    /// instead (`blocking_client.rs`).
    Due,
    /// Non-blocking connect in progress.
    Connecting,
    /// Connected, reading the greeting.
    Greeting,
    /// Writing the request (more than one write if the socket buffer fills).
    Writing,
    /// Daytime: connected, reading the line until the server closes.
    Line,
    /// Request written, reading the reply.
    Reply,
    /// No more attempts (its `--messages` are done).
    Done,
}

/// One simulated client: at most one connection and one attempt at a time.
struct Client {
    state: State,
    stream: Option<TcpStream>,
    /// Bytes of the current request written.
    pos: usize,
    /// What has arrived of the expected greeting or reply.
    check: ReplyCheck,
    /// Daytime: what has been seen of the line so far.
    line: LineCheck,
    /// End of the current phase, or of the backoff.
    deadline: Instant,
    attempt_start: Instant,
    request_start: Instant,
    /// The current request did not fit in one write; then the reply may
    /// already be waiting when the write ends, so read right away.
    write_blocked: bool,
    /// Its open attempt, messages left, errors in a row, schedule, wait.
    account: Account,
    /// The current attempt's message number (`{n}`).
    n: u64,
    /// Its request and reply, when they differ per message.
    msg: MessageBuf,
}

/// What to do after one step of a client's state machine.
enum Step {
    /// The state changed and the new state can make progress now.
    Continue,
    /// Nothing more until the next event or deadline.
    Wait,
}

/// One event-loop thread and its clients; `Token(i)` is client `i`.
pub(super) struct Worker<'a> {
    plan: &'a Plan,
    progress: &'a Progress,
    poll: Poll,
    clients: Vec<Client>,
    /// Clients not yet `Done`.
    active: usize,
    /// Every read lands here and is compared with the expected bytes, so
    /// clients need no read buffers of their own.
    scratch: Vec<u8>,
    tally: Tally,
    flushed: Flushed,
    /// Under `--rate`: `(due time, client)` of clients in [`State::Due`],
    /// soonest first, so the loop sleeps until the next request is due
    /// rather than until the next scan. An entry whose client has moved on
    /// is skipped.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Clients whose reply just arrived on a kept connection: their next
    /// requests are written after the whole batch of events is read, right
    /// before the thread sleeps. Writing each at once kept the thread busy
    /// while the server threads it woke waited for a CPU, which on a small
    /// machine shared with the server cost much of the throughput (remote
    /// wake-ups; figures in `modes/README.md`); this way the thread sleeps after its writes, like a
    /// blocking client does, and the woken threads can run.
    deferred: Vec<usize>,
}

impl<'a> Worker<'a> {
    /// A thread's share of the clients: `n` of them, numbered from `first`,
    /// none connected yet.
    pub(super) fn new(
        plan: &'a Plan,
        progress: &'a Progress,
        first: usize,
        n: usize,
    ) -> io::Result<Self> {
        let now = Instant::now();
        let framing = plan.exchange.framing();
        let clients = (first..first + n)
            .map(|client| Client {
                state: State::Backoff,
                stream: None,
                pos: 0,
                check: ReplyCheck::new(None, framing),
                line: LineCheck::default(),
                deadline: now,
                attempt_start: now,
                request_start: now,
                write_blocked: false,
                account: Account::new(plan, client),
                n: 0,
                msg: MessageBuf::default(),
            })
            .collect();
        Ok(Worker {
            plan,
            progress,
            poll: Poll::new()?,
            clients,
            active: n,
            scratch: vec![0; 64 * 1024],
            tally: Tally::new(plan.measure_start, plan.exchange.greeting().is_some())?,
            flushed: Flushed::default(),
            timers: BinaryHeap::new(),
            deferred: Vec::new(),
        })
    }

    /// Drives the clients until they are done or the run ends; what is
    /// still in flight or due then is unanswered ([`Tally::retire`]).
    pub(super) fn run(mut self) -> io::Result<Tally> {
        let mut events = Events::with_capacity(1024);
        let now = Instant::now();
        for i in 0..self.clients.len() {
            self.start_attempt(i, now);
            self.drive(i, now);
        }
        let mut next_scan = now + SCAN_INTERVAL;
        loop {
            let now = Instant::now();
            if self.active == 0 || now >= self.plan.end {
                break;
            }
            if now >= next_scan {
                self.scan(now);
                self.flush_progress();
                next_scan = now + SCAN_INTERVAL;
            }
            self.fire_timers(now);
            let mut wake = next_scan.min(self.plan.end);
            if let Some(Reverse((due, _))) = self.timers.peek() {
                wake = wake.min(*due);
            }
            let wait = wake.saturating_duration_since(now);
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if events.is_empty() {
                continue;
            }
            // What arrives after the end had no outcome in the run (a
            // server may greet a waiting client as the others leave).
            let now = Instant::now();
            if now >= self.plan.end {
                break;
            }
            for ev in events.iter() {
                let i = ev.token().0;
                if i < self.clients.len() {
                    self.drive(i, now);
                }
            }
            // Replies first, then all the next requests, then sleep: see
            // `deferred`.
            let deferred = std::mem::take(&mut self.deferred);
            let now = Instant::now();
            for &i in &deferred {
                self.drive(i, now);
            }
            self.deferred = deferred;
            self.deferred.clear();
        }
        // Whatever is still in flight has no outcome: it is unanswered, and
        // so, under --rate, is every request due by now.
        let end = Instant::now().min(self.plan.end);
        for i in 0..self.clients.len() {
            self.tally
                .settle(&mut self.clients[i].account, Outcome::Abandoned { at: end });
            self.close(i, end);
            self.tally.retire(&mut self.clients[i].account, end);
        }
        self.flush_progress();
        Ok(self.tally)
    }

    /// Starts the attempts of the clients whose next request is due.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((due, i))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let c = &self.clients[i];
            if c.state == State::Due && c.deadline <= now {
                self.start_attempt(i, now);
                self.drive(i, now);
            }
        }
    }

    /// Pushes this thread's counters to the progress line.
    fn flush_progress(&mut self) {
        self.flushed.flush(&self.tally, self.progress);
    }

    /// Expires deadlines and restarts clients whose backoff is over.
    fn scan(&mut self, now: Instant) {
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if now < c.deadline {
                continue;
            }
            match c.state {
                State::Backoff | State::Due => {
                    self.start_attempt(i, now);
                    self.drive(i, now);
                }
                State::Connecting
                | State::Greeting
                | State::Writing
                | State::Reply
                | State::Line => {
                    self.fail(i, Failure::Timeout, now);
                }
                State::Done => {}
            }
        }
    }

    /// Begins the client's next attempt (or retires it when its messages
    /// are done): connects if it has no connection, else writes a request.
    /// Under `--rate`, a request not due yet waits in [`State::Due`].
    fn start_attempt(&mut self, i: usize, now: Instant) {
        let c = &mut self.clients[i];
        if c.account.done() {
            self.finish(i, now);
            return;
        }
        match c.account.begin(now, self.plan.measure_start) {
            Ok(n) => c.n = n,
            Err(due) => {
                c.state = State::Due;
                c.deadline = due;
                self.timers.push(Reverse((due, i)));
                return;
            }
        }
        c.attempt_start = now;
        if c.stream.is_some() {
            self.begin_request(i, now);
        } else {
            self.connect(i, now);
        }
    }

    fn connect(&mut self, i: usize, now: Instant) {
        self.tally.connecting(&mut self.clients[i].account, now);
        let connected = match self.plan.take_opened() {
            Some(s) => s.set_nonblocking(true).map(|()| TcpStream::from_std(s)),
            None => TcpStream::connect(self.plan.addr),
        };
        match connected {
            Ok(mut stream) => {
                if let Err(e) = self.poll.registry().register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    self.fail(i, Failure::of(&e), now);
                    return;
                }
                let c = &mut self.clients[i];
                c.stream = Some(stream);
                c.state = State::Connecting;
                c.deadline = now + self.plan.timeout;
            }
            Err(e) => self.fail(i, Failure::of(&e), now),
        }
    }

    fn begin_request(&mut self, i: usize, now: Instant) {
        let exchange = &self.plan.exchange;
        let c = &mut self.clients[i];
        c.state = State::Writing;
        c.pos = 0;
        c.write_blocked = false;
        c.request_start = now;
        c.deadline = now + self.plan.timeout;
        exchange.prepare(c.account.client(), c.n, &mut c.msg);
        c.check = ReplyCheck::new(exchange.reply(&c.msg), exchange.framing());
    }

    /// Advances client `i` as far as it can go without blocking.
    ///
    /// mio's events are edge-triggered, so a read state reads until the
    /// expected bytes are complete or the socket would block; stopping
    /// earlier could lose the wake-up for bytes already there.
    fn drive(&mut self, i: usize, now: Instant) {
        loop {
            let step = match self.clients[i].state {
                State::Connecting => self.step_connecting(i, now),
                State::Greeting => match self.read_expected(i, true) {
                    ReadOutcome::Complete => {
                        // The batch's clock may predate the connect made in
                        // it; one read per connection keeps waits true.
                        let at = Instant::now();
                        self.tally.served(&mut self.clients[i].account, at);
                        self.begin_request(i, now);
                        Step::Continue
                    }
                    ReadOutcome::Pending => Step::Wait,
                    ReadOutcome::Failed(f) => {
                        self.fail(i, f, now);
                        Step::Wait
                    }
                },
                State::Writing => self.step_writing(i, now),
                State::Line => match self.read_line(i) {
                    ReadOutcome::Complete => {
                        self.succeed(i, now);
                        Step::Wait
                    }
                    ReadOutcome::Pending => Step::Wait,
                    ReadOutcome::Failed(f) => {
                        self.fail(i, f, now);
                        Step::Wait
                    }
                },
                State::Reply => match self.read_expected(i, false) {
                    ReadOutcome::Complete => {
                        self.succeed(i, now);
                        // A new connection waits for its connect event; a
                        // kept one writes its next request after the batch.
                        if self.clients[i].state == State::Writing {
                            self.deferred.push(i);
                        }
                        Step::Wait
                    }
                    ReadOutcome::Pending => Step::Wait,
                    ReadOutcome::Failed(f) => {
                        self.fail(i, f, now);
                        Step::Wait
                    }
                },
                State::Backoff | State::Due | State::Done => Step::Wait,
            };
            if let Step::Wait = step {
                return;
            }
        }
    }

    /// A writable (or error) event on a connecting socket: mio's recipe is
    /// `take_error`, then `peer_addr` to tell "connected" from a spurious
    /// wake-up.
    fn step_connecting(&mut self, i: usize, now: Instant) -> Step {
        let Some(stream) = self.clients[i].stream.as_ref() else {
            return Step::Wait;
        };
        match stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => {
                self.fail(i, Failure::of(&e), now);
                return Step::Wait;
            }
        }
        match stream.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Wait,
            Err(e) => {
                self.fail(i, Failure::of(&e), now);
                return Step::Wait;
            }
        }
        // Requests go out in one write; no reason to let Nagle hold any.
        let _ = stream.set_nodelay(true);
        let local = if self.clients[i].account.records_spans() {
            stream.local_addr().ok()
        } else {
            None
        };
        let c = &mut self.clients[i];
        self.tally.connected(&mut c.account, local);
        match (self.plan.protocol, self.plan.exchange.greeting()) {
            (Protocol::Daytime, _) => {
                c.state = State::Line;
                c.line = LineCheck::default();
            }
            (Protocol::Echo, Some(_)) => {
                c.state = State::Greeting;
                c.check = ReplyCheck::Exact { pos: 0 };
            }
            // Nothing to wait for: the request goes out at once.
            (Protocol::Echo, None) => self.begin_request(i, now),
        }
        Step::Continue
    }

    fn step_writing(&mut self, i: usize, now: Instant) -> Step {
        let exchange = &self.plan.exchange;
        let c = &mut self.clients[i];
        let request = exchange.request(&c.msg);
        let Some(stream) = c.stream.as_mut() else {
            return Step::Wait;
        };
        loop {
            match stream.write(&request[c.pos..]) {
                Ok(0) => {
                    self.fail(i, Failure::Other, now);
                    return Step::Wait;
                }
                Ok(n) => {
                    c.pos += n;
                    if c.pos == request.len() {
                        c.state = State::Reply;
                        c.pos = 0;
                        // Normally the reply cannot be there yet and its
                        // arrival will wake us; after a blocked write it
                        // may already be waiting.
                        return if c.write_blocked {
                            Step::Continue
                        } else {
                            Step::Wait
                        };
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.write_blocked = true;
                    return Step::Wait;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(i, Failure::of(&e), now);
                    return Step::Wait;
                }
            }
        }
    }

    /// Reads towards the greeting (`greeting == true`) or the reply,
    /// comparing every byte as it comes; any difference, or a byte past the
    /// end, is a wrong reply. With `--expect any`, only the reply's end is
    /// looked for.
    fn read_expected(&mut self, i: usize, greeting: bool) -> ReadOutcome {
        let exchange = &self.plan.exchange;
        let c = &mut self.clients[i];
        let expected = if greeting {
            exchange.greeting()
        } else {
            exchange.reply(&c.msg)
        };
        let Some(stream) = c.stream.as_mut() else {
            return ReadOutcome::Failed(Failure::Other);
        };
        loop {
            match stream.read(&mut self.scratch) {
                Ok(0) => return ReadOutcome::Failed(Failure::ClosedEarly),
                Ok(n) => {
                    c.account.heard();
                    match c.check.push(expected, &self.scratch[..n]) {
                        ReadOutcome::Pending => {}
                        ReadOutcome::Complete => {
                            c.account.matched();
                            return ReadOutcome::Complete;
                        }
                        failed => return failed,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return ReadOutcome::Failed(Failure::of(&e)),
            }
        }
    }

    /// Daytime: reads until the server closes, checking each byte as it
    /// comes, so a wrong answer fails at its first wrong byte and an endless
    /// one at [`MAX_DAYTIME_LINE`](super::check::MAX_DAYTIME_LINE) instead
    /// of at the timeout.
    fn read_line(&mut self, i: usize) -> ReadOutcome {
        let c = &mut self.clients[i];
        let Some(stream) = c.stream.as_mut() else {
            return ReadOutcome::Failed(Failure::Other);
        };
        loop {
            match stream.read(&mut self.scratch) {
                Ok(0) => {
                    return match c.line.finish() {
                        Ok(()) => {
                            c.account.matched();
                            ReadOutcome::Complete
                        }
                        Err(f) => ReadOutcome::Failed(f),
                    };
                }
                Ok(n) => {
                    c.account.heard();
                    if let Err(f) = c.line.push(&self.scratch[..n]) {
                        return ReadOutcome::Failed(f);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return ReadOutcome::Failed(Failure::of(&e)),
            }
        }
    }

    /// The reply was right: record it and start the next attempt. The
    /// latency runs from the request's due time under `--rate`, else from
    /// its write (from the connect with `--churn`).
    fn succeed(&mut self, i: usize, now: Instant) {
        let churn = self.plan.churn;
        let c = &mut self.clients[i];
        let since = c.account.scheduled().unwrap_or(if churn {
            c.attempt_start
        } else {
            c.request_start
        });
        self.tally
            .settle(&mut c.account, Outcome::Answered { since, at: now });
        if churn {
            // The client closes first: its side keeps the TIME_WAIT, which
            // Linux reuses for new loopback connections (tcp_tw_reuse=2).
            self.close(i, now);
        }
        self.start_attempt(i, now);
    }

    /// The attempt failed: count it, drop the connection, and pause before
    /// the next attempt (exponential backoff, reset by a success).
    fn fail(&mut self, i: usize, failure: Failure, now: Instant) {
        let c = &mut self.clients[i];
        self.tally
            .settle(&mut c.account, Outcome::Failed { failure, at: now });
        let backoff = c.account.backoff();
        self.close(i, now);
        let c = &mut self.clients[i];
        if c.account.done() {
            self.finish(i, now);
        } else {
            c.state = State::Backoff;
            c.deadline = now + backoff;
        }
    }

    /// This client has sent all its messages (the outcome of its last one
    /// set the thread's `finished_at`).
    fn finish(&mut self, i: usize, now: Instant) {
        self.close(i, now);
        let c = &mut self.clients[i];
        if c.state != State::Done {
            c.state = State::Done;
            self.active -= 1;
        }
    }

    /// Drops the client's connection, if any, at `now`.
    fn close(&mut self, i: usize, now: Instant) {
        let c = &mut self.clients[i];
        if let Some(mut stream) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
        self.tally.disconnected(&mut c.account, now);
    }
}
