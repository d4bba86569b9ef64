//! The blocking client: one persistent echo client alone on its thread.
//!
//! A thread left with a single persistent echo client (the default up to 64
//! clients, one thread each) has no use for an event loop: waiting on one
//! socket through epoll costs a syscall and a wake-up per message. Such a
//! thread runs its client here, on blocking sockets, with the same checks
//! (`check`), deadlines and counting ([`Tally::settle`]) as the event loop.
//! Under `--rate` it sleeps until its next request is due.

use std::io::{self, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use super::account::Account;
use super::check::{ReadOutcome, ReplyCheck};
use super::exchange::MessageBuf;
use super::failure::Failure;
use super::plan::{Plan, SCAN_INTERVAL};
use super::progress::{Flushed, Progress};
use super::tally::{Outcome, Tally};

/// How far above the wanted bound a socket timeout already set may be and
/// still be left alone. Resetting `SO_RCVTIMEO` before every read would cost
/// the very syscall [`Dedicated`] exists to save; this is the timer slack the
/// event loop has too ([`SCAN_INTERVAL`]).
const TIMEOUT_SLACK: Duration = SCAN_INTERVAL;

/// Why an attempt of [`Dedicated`] has no verified reply.
enum Unanswered {
    /// An outcome: counted in `errors`.
    Failed(Failure),
    /// The run ended first: counted in `unanswered` (and `abandoned`).
    Abandoned,
}

/// One persistent echo client on a thread of its own, with blocking
/// sockets: the event loop's job done without the event loop.
///
/// With one connection per thread, epoll buys nothing: there is only one
/// socket to wait for, and waiting for it through `epoll_wait` costs a
/// syscall and a wake-up per message on top of the `send` and `recv` a
/// blocking read and write need, and on a small machine that third syscall
/// kept an event loop per client measurably below the plain blocking
/// client's rate (figures in `modes/README.md`). Here a message is one `write` and one `read`
/// (more only when a reply comes in pieces), and time limits are socket
/// timeouts (`SO_RCVTIMEO`, `SO_SNDTIMEO`) bounded by both the phase deadline
/// (`--timeout-ms`) and the end of the run, set again only when the value in
/// place would overshoot by more than [`TIMEOUT_SLACK`].
///
/// Accounting is the event loop's, rule for rule, through the same
/// [`Tally`]: an attempt starts at the connect (no connection) or the
/// request write (under `--rate`, not before it is due), is measured when
/// it starts (is due) after the warm-up, ends in one verified reply or one
/// error of the same kinds ([`Failure`], [`ReplyCheck`]); an error drops
/// the connection and waits out the same [`Account::backoff`] before
/// reconnecting; an attempt without an outcome when the run ends is
/// unanswered ([`Tally::retire`]); progress is flushed every
/// [`SCAN_INTERVAL`].
pub(super) struct Dedicated<'a> {
    plan: &'a Plan,
    progress: &'a Progress,
    stream: Option<std::net::TcpStream>,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` as last set on `stream`.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Reads land here, as in the event loop: a read as large as any reply
    /// so that bytes past the expected end are seen and counted wrong.
    scratch: Vec<u8>,
    tally: Tally,
    flushed: Flushed,
    /// Its open attempt, messages left, errors in a row, schedule, wait.
    account: Account,
    /// Its request and reply, when they differ per message.
    msg: MessageBuf,
}

impl<'a> Dedicated<'a> {
    /// Client number `client` of the run, on a thread of its own, not
    /// connected yet.
    pub(super) fn new(plan: &'a Plan, progress: &'a Progress, client: usize) -> io::Result<Self> {
        Ok(Dedicated {
            plan,
            progress,
            stream: None,
            read_timeout: None,
            write_timeout: None,
            scratch: vec![0; 64 * 1024],
            tally: Tally::new(plan.measure_start, plan.exchange.greeting().is_some())?,
            flushed: Flushed::default(),
            account: Account::new(plan, client),
            msg: MessageBuf::default(),
        })
    }

    /// Sends until its messages are done or the run ends; an attempt in
    /// flight then, and under `--rate` every request due by then, is
    /// unanswered.
    pub(super) fn run(mut self) -> io::Result<Tally> {
        let plan = self.plan;
        let mut now = Instant::now();
        let mut next_flush = now + SCAN_INTERVAL;
        while now < plan.end {
            if now >= next_flush {
                self.flushed.flush(&self.tally, self.progress);
                next_flush = now + SCAN_INTERVAL;
            }
            if self.account.done() {
                break;
            }
            let n = match self.account.begin(now, plan.measure_start) {
                Ok(n) => n,
                Err(due) => {
                    thread::sleep(due.min(plan.end).saturating_duration_since(now));
                    now = Instant::now();
                    continue;
                }
            };
            let outcome = match self.attempt(now, n) {
                Ok((since, at)) => Outcome::Answered { since, at },
                Err(Unanswered::Failed(failure)) => Outcome::Failed {
                    failure,
                    at: Instant::now(),
                },
                Err(Unanswered::Abandoned) => Outcome::Abandoned { at: plan.end },
            };
            // The run stops at `end`: what is seen after it had no outcome
            // in the run, as in the event loop, which stops looking then.
            let outcome = match outcome {
                Outcome::Answered { at, .. } | Outcome::Failed { at, .. } if at >= plan.end => {
                    Outcome::Abandoned { at: plan.end }
                }
                outcome => outcome,
            };
            self.tally.settle(&mut self.account, outcome);
            match outcome {
                Outcome::Answered { at, .. } => now = at,
                Outcome::Failed { at, .. } => {
                    self.drop_stream(at);
                    if self.account.done() {
                        break;
                    }
                    let pause = self
                        .account
                        .backoff()
                        .min(plan.end.saturating_duration_since(at));
                    thread::sleep(pause);
                    now = Instant::now();
                }
                Outcome::Abandoned { .. } => break,
            }
        }
        let end = Instant::now().min(plan.end);
        self.drop_stream(end);
        self.tally.retire(&mut self.account, end);
        self.flushed.flush(&self.tally, self.progress);
        Ok(self.tally)
    }

    /// Closes the connection, if any, at `now`.
    fn drop_stream(&mut self, now: Instant) {
        self.stream = None;
        self.tally.disconnected(&mut self.account, now);
    }

    /// One attempt, message `n`, starting at `start`: connect and read the
    /// greeting if there is no connection, then write the request and read
    /// the reply. Returns when its latency starts (under `--rate` the due
    /// time, else the request's write) and when the reply was complete.
    fn attempt(&mut self, start: Instant, n: u64) -> Result<(Instant, Instant), Unanswered> {
        let plan = self.plan;
        let mut request_start = start;
        if self.stream.is_none() {
            let deadline = start + plan.timeout;
            self.tally.connecting(&mut self.account, start);
            self.connect(start, deadline)?;
            if plan.exchange.greeting().is_some() {
                request_start = self.read_expected(true, deadline)?;
                // A greeting after the end (a server that took this client
                // when the run's others left) did not serve it in the run.
                if request_start >= plan.end {
                    return Err(Unanswered::Abandoned);
                }
                self.tally.served(&mut self.account, request_start);
            }
        }
        plan.exchange
            .prepare(self.account.client(), n, &mut self.msg);
        let deadline = request_start + plan.timeout;
        self.write_request(request_start, deadline)?;
        let done = self.read_expected(false, deadline)?;
        let since = self.account.scheduled().unwrap_or(request_start);
        Ok((since, done))
    }

    fn connect(&mut self, now: Instant, deadline: Instant) -> Result<(), Unanswered> {
        let limit = self.limit(now, deadline)?;
        let connected = match self.plan.take_opened() {
            Some(s) => Ok(s),
            None => std::net::TcpStream::connect_timeout(&self.plan.addr, limit),
        };
        match connected {
            Ok(stream) => {
                // As in the event loop: requests go out in one write.
                let _ = stream.set_nodelay(true);
                let local = self
                    .account
                    .records_spans()
                    .then(|| stream.local_addr().ok())
                    .flatten();
                self.tally.connected(&mut self.account, local);
                self.stream = Some(stream);
                self.read_timeout = None;
                self.write_timeout = None;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(self
                .overdue(Instant::now(), deadline)
                .unwrap_or(Unanswered::Failed(Failure::Timeout))),
            Err(e) => Err(Unanswered::Failed(Failure::of(&e))),
        }
    }

    /// Writes the whole request; `start` is the time now, saving a clock
    /// read on the common path of one write.
    fn write_request(&mut self, start: Instant, deadline: Instant) -> Result<(), Unanswered> {
        let request = self.plan.exchange.request(&self.msg);
        let mut pos = 0;
        let mut exact = false;
        let mut first = Some(start);
        while pos < request.len() {
            let now = first.take().unwrap_or_else(Instant::now);
            let limit = self.limit(now, deadline)?;
            let Some(stream) = self.stream.as_mut() else {
                return Err(Unanswered::Failed(Failure::Other));
            };
            bound(&mut self.write_timeout, limit, exact, |t| {
                stream.set_write_timeout(t)
            })?;
            match stream.write(&request[pos..]) {
                Ok(0) => return Err(Unanswered::Failed(Failure::Other)),
                Ok(n) => pos += n,
                Err(e) if is_timeout(&e) => exact = self.retry(deadline)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Unanswered::Failed(Failure::of(&e))),
            }
        }
        Ok(())
    }

    /// Reads until the greeting (`greeting == true`) or the expected reply
    /// has arrived exactly (with `--expect any`, until one whole message
    /// has); returns when it did.
    fn read_expected(&mut self, greeting: bool, deadline: Instant) -> Result<Instant, Unanswered> {
        let exchange = &self.plan.exchange;
        let mut check = if greeting {
            ReplyCheck::Exact { pos: 0 }
        } else {
            ReplyCheck::new(exchange.reply(&self.msg), exchange.framing())
        };
        let mut exact = false;
        loop {
            let limit = self.limit(Instant::now(), deadline)?;
            let Some(stream) = self.stream.as_mut() else {
                return Err(Unanswered::Failed(Failure::Other));
            };
            bound(&mut self.read_timeout, limit, exact, |t| {
                stream.set_read_timeout(t)
            })?;
            match stream.read(&mut self.scratch) {
                Ok(0) => return Err(Unanswered::Failed(Failure::ClosedEarly)),
                Ok(n) => {
                    self.account.heard();
                    let expected = if greeting {
                        exchange.greeting()
                    } else {
                        exchange.reply(&self.msg)
                    };
                    match check.push(expected, &self.scratch[..n]) {
                        ReadOutcome::Complete => {
                            self.account.matched();
                            return Ok(Instant::now());
                        }
                        ReadOutcome::Pending => {}
                        ReadOutcome::Failed(f) => return Err(Unanswered::Failed(f)),
                    }
                }
                Err(e) if is_timeout(&e) => exact = self.retry(deadline)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Unanswered::Failed(Failure::of(&e))),
            }
        }
    }

    /// How long the next blocking call may take: until the phase deadline
    /// or the end of the run, whichever comes first; `Err` if it has come.
    fn limit(&self, now: Instant, deadline: Instant) -> Result<Duration, Unanswered> {
        if let Some(over) = self.overdue(now, deadline) {
            return Err(over);
        }
        Ok(deadline.min(self.plan.end).saturating_duration_since(now))
    }

    /// A socket timeout fired: the end of the run or the phase deadline
    /// came (the end wins, as in the event loop, which stops before
    /// looking at deadlines), or else a timeout left from an earlier,
    /// shorter bound fired early, and the call is retried with an exact one.
    fn retry(&self, deadline: Instant) -> Result<bool, Unanswered> {
        match self.overdue(Instant::now(), deadline) {
            Some(over) => Err(over),
            None => Ok(true),
        }
    }

    fn overdue(&self, now: Instant, deadline: Instant) -> Option<Unanswered> {
        if now >= self.plan.end {
            Some(Unanswered::Abandoned)
        } else if now >= deadline {
            Some(Unanswered::Failed(Failure::Timeout))
        } else {
            None
        }
    }
}

/// Sets a socket timeout (`set`, for the value in `current`) so that the
/// next call returns within `limit`, give or take [`TIMEOUT_SLACK`]; skips
/// the syscall when the value in place already does, unless `exact`.
/// A value far below `limit` is raised too, so that it rarely fires early.
fn bound(
    current: &mut Option<Duration>,
    limit: Duration,
    exact: bool,
    set: impl FnOnce(Option<Duration>) -> io::Result<()>,
) -> Result<(), Unanswered> {
    let fits = matches!(*current, Some(c) if c <= limit + TIMEOUT_SLACK && c >= limit / 2);
    if exact || !fits {
        // A zero timeout means "none" to the kernel; std refuses it.
        let limit = limit.max(Duration::from_micros(1));
        set(Some(limit)).map_err(|e| Unanswered::Failed(Failure::of(&e)))?;
        *current = Some(limit);
    }
    Ok(())
}

/// A blocking call ended by `SO_RCVTIMEO`/`SO_SNDTIMEO`: Unix says
/// `EAGAIN` (WouldBlock), Windows `WSAETIMEDOUT`.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_are_set_only_when_they_would_overshoot() {
        let ms = Duration::from_millis;
        let bound_with = |current: Option<Duration>, limit: Duration, exact: bool| {
            let mut current = current;
            let mut set = None;
            assert!(
                bound(&mut current, limit, exact, |t| {
                    set = t;
                    Ok(())
                })
                .is_ok()
            );
            if set.is_some() {
                assert_eq!(current, set, "the value set is remembered");
            }
            set
        };
        // Nothing set yet, or a value that would overshoot: set.
        assert_eq!(bound_with(None, ms(2000), false), Some(ms(2000)));
        assert_eq!(bound_with(Some(ms(2000)), ms(1000), false), Some(ms(1000)));
        // Close enough above (timer slack) or a bit below: left alone.
        assert_eq!(bound_with(Some(ms(2000)), ms(1999), false), None);
        assert_eq!(bound_with(Some(ms(1900)), ms(2000), false), None);
        // Far below, so it would fire early and often: raised.
        assert_eq!(bound_with(Some(ms(10)), ms(5000), false), Some(ms(5000)));
        // After an early firing the bound is made exact.
        assert_eq!(bound_with(Some(ms(1900)), ms(2000), true), Some(ms(2000)));
        // Zero would mean "no timeout" to the kernel.
        assert_eq!(
            bound_with(None, Duration::ZERO, false),
            Some(Duration::from_micros(1))
        );
    }
}
