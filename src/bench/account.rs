//! One simulated client's standing, kept the same way by both clients (the
//! event loop and the blocking one): its open attempt, what is left of its
//! `--messages`, its errors in a row, its open-loop schedule, its wait for
//! service, what it saw of the server (to say why it was never answered)
//! and, for timelines, its connections.
//!
//! The tally (`tally.rs`, below in the flow) reads and moves it at each
//! event; the rules of counting are written there.

use std::time::{Duration, Instant};

use super::failure::Failure;
use super::plan::{Plan, backoff};
use super::schedule::Schedule;

/// One connection as a timeline shows it; made into a
/// [`ConnectionSpan`](super::ConnectionSpan) at the end of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) connect: Instant,
    pub(super) served: Option<Instant>,
    pub(super) end: Option<Instant>,
    /// The client's own address on it, to find it in a server's
    /// [`CallLog`](crate::call_log::CallLog).
    pub(super) local: Option<std::net::SocketAddr>,
    /// Each answered request on it: from its send (or due time) to its
    /// verified reply.
    pub(super) requests: Vec<(Instant, Instant)>,
}

/// Why a client got no verified reply in the measured run: the furthest it
/// got. One variant per field of [`NeverAnswered`](super::NeverAnswered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    /// No connection was ever established.
    NotConnected,
    /// Connected, and not a byte came back before service.
    Silent,
    /// The server closed (or reset) before answering.
    Closed,
    /// Bytes came that were not the greeting.
    WrongGreeting,
    /// Served (greeted), then no reply at all.
    GreetedOnly,
    /// Replies came that were not the expected one.
    WrongReply,
}

/// What a client saw of the server, over all its connections.
#[derive(Debug, Clone, Copy, Default)]
struct Evidence {
    connected: bool,
    /// Bytes that made no right greeting (or, without one, no right first
    /// reply) arrived on a connection before it was served: wrong or cut
    /// short.
    heard_before: bool,
    /// Bytes that made no right reply arrived on a served connection.
    heard_after: bool,
    closed_before: bool,
    closed_after: bool,
}

/// One simulated client's standing in the count.
#[derive(Debug, Clone)]
pub(super) struct Account {
    /// Its number, from 0: its `{client}` and its timeline row.
    client: usize,
    /// `Some(measured)` from the start of an attempt to its outcome;
    /// `measured` when it started (or under `--rate`, was due) after the
    /// warm-up.
    open: Option<bool>,
    /// Under `--rate`, when the open attempt was due.
    scheduled: Option<Instant>,
    /// Measured attempts left with `--messages`.
    remaining: u64,
    /// Errors in a row, for the backoff.
    failures: u32,
    /// A measured attempt succeeded (see
    /// [`BenchReport::clients_answered`](super::BenchReport::clients_answered)).
    answered: bool,
    /// A measured attempt was still open when the run ended.
    abandoned: bool,
    /// Under `--rate`, when each request is due.
    schedule: Option<Schedule>,
    /// Closed loop: attempts begun, the next `{n}`.
    begun: u64,
    /// When its current wait for service began (the connect after which it
    /// has not been served yet), or `None` while it is served.
    wait_since: Option<Instant>,
    /// The current connection has been served (its greeting, or without
    /// one its first reply, came).
    conn_served: bool,
    /// Some connection of it was served, at any time in the run.
    served: bool,
    /// Bytes arrived on the current connection since its last complete,
    /// right message: wrong, or a message cut short so far.
    partial: bool,
    evidence: Evidence,
    /// Its connections, for the timeline, at most `span_cap`.
    spans: Vec<Span>,
    span_cap: usize,
    /// Requests its spans may still record.
    requests_left: usize,
    /// The last span is its current connection.
    span_open: bool,
}

impl Account {
    /// Client number `client` of `plan`, before its first attempt.
    pub(super) fn new(plan: &Plan, client: usize) -> Account {
        Account {
            client,
            open: None,
            scheduled: None,
            remaining: plan.messages.unwrap_or(u64::MAX),
            failures: 0,
            answered: false,
            abandoned: false,
            schedule: plan
                .rate
                .map(|rate| Schedule::new(plan.start, rate, plan.clients, client)),
            begun: 0,
            wait_since: None,
            conn_served: false,
            served: false,
            partial: false,
            evidence: Evidence::default(),
            spans: Vec::new(),
            span_cap: plan.spans_per_client,
            requests_left: plan.requests_per_client,
            span_open: false,
        }
    }

    /// Its number, from 0.
    pub(super) fn client(&self) -> usize {
        self.client
    }

    /// Starts its next attempt at `now` if one is due, and returns the
    /// attempt's message number (`{n}`); under `--rate`, `Err` with the
    /// time the next one is due when that is later. The attempt is
    /// measured when it starts, or under `--rate` is due, after
    /// `measure_start`.
    pub(super) fn begin(&mut self, now: Instant, measure_start: Instant) -> Result<u64, Instant> {
        let (n, since) = match &mut self.schedule {
            Some(s) if s.due() > now => return Err(s.due()),
            Some(s) => {
                let (n, due) = s.take();
                (n, Some(due))
            }
            None => {
                self.begun += 1;
                (self.begun - 1, None)
            }
        };
        self.scheduled = since;
        self.open = Some(since.unwrap_or(now) >= measure_start);
        Ok(n)
    }

    /// Under `--rate`, when the open attempt was due: its latency runs
    /// from there.
    pub(super) fn scheduled(&self) -> Option<Instant> {
        self.scheduled
    }

    /// An attempt is open and will be counted.
    pub(super) fn measured(&self) -> bool {
        self.open == Some(true)
    }

    /// All `--messages` have an outcome: no more attempts.
    pub(super) fn done(&self) -> bool {
        self.remaining == 0
    }

    /// The pause before the next attempt, after the errors in a row.
    pub(super) fn backoff(&self) -> Duration {
        backoff(self.failures)
    }

    /// Bytes arrived from the server.
    pub(super) fn heard(&mut self) {
        self.partial = true;
    }

    /// The bytes heard made a complete, right message (a greeting or a
    /// reply, even one that came too late to count): nothing wrong was
    /// heard.
    pub(super) fn matched(&mut self) {
        self.partial = false;
    }

    /// The evidence, with what the current connection heard so far.
    fn evidence(&self) -> Evidence {
        let mut e = self.evidence;
        if self.partial {
            if self.conn_served {
                e.heard_after = true;
            } else {
                e.heard_before = true;
            }
        }
        e
    }

    /// A connect starts at `now`: a wait for service starts unless one is
    /// already running (a retry does not reset the client's wait).
    pub(super) fn connecting(&mut self, now: Instant) {
        self.wait_since.get_or_insert(now);
        self.evidence = self.evidence();
        self.partial = false;
        self.conn_served = false;
        self.span_open = self.spans.len() < self.span_cap;
        if self.span_open {
            self.spans.push(Span {
                connect: now,
                served: None,
                end: None,
                local: None,
                requests: Vec::new(),
            });
        }
    }

    /// The connection is established, from `local` (known when a timeline
    /// is recorded).
    pub(super) fn connected(&mut self, local: Option<std::net::SocketAddr>) {
        self.evidence.connected = true;
        if self.span_open
            && let Some(span) = self.spans.last_mut()
        {
            span.local = local;
        }
    }

    /// Whether its connections are recorded for a timeline: then the
    /// client passes its address to [`connected`](Self::connected).
    pub(super) fn records_spans(&self) -> bool {
        self.span_cap > 0
    }

    /// A request on the current connection was answered: outstanding from
    /// `since` to `at`.
    pub(super) fn answered_request(&mut self, since: Instant, at: Instant) {
        if self.span_open
            && self.requests_left > 0
            && let Some(span) = self.spans.last_mut()
        {
            self.requests_left -= 1;
            span.requests.push((since, at));
        }
    }

    /// The connection was served at `now`; returns when the wait it ends
    /// began, the first time for this connection.
    pub(super) fn serve(&mut self, now: Instant) -> Option<Instant> {
        if self.conn_served {
            return None;
        }
        self.partial = false;
        self.conn_served = true;
        self.served = true;
        if self.span_open
            && let Some(span) = self.spans.last_mut()
        {
            span.served = Some(now);
        }
        self.wait_since.take()
    }

    /// The connection closed at `now`.
    pub(super) fn disconnected(&mut self, now: Instant) {
        if std::mem::take(&mut self.span_open)
            && let Some(span) = self.spans.last_mut()
        {
            span.end = Some(now);
        }
    }

    /// Closes the open attempt; returns whether it was measured.
    pub(super) fn close_attempt(&mut self) -> bool {
        self.open.take() == Some(true)
    }

    /// The attempt just closed was answered; returns whether this is the
    /// client's first measured answer.
    pub(super) fn answered(&mut self, measured: bool) -> bool {
        self.failures = 0;
        measured && !std::mem::replace(&mut self.answered, true)
    }

    /// The attempt just closed failed with `failure`.
    pub(super) fn failed(&mut self, failure: Failure) {
        self.failures = self.failures.saturating_add(1);
        if matches!(failure, Failure::ClosedEarly | Failure::Reset) {
            if self.conn_served {
                self.evidence.closed_after = true;
            } else {
                self.evidence.closed_before = true;
            }
        }
    }

    /// The measured attempt just closed had no outcome: the run ended.
    pub(super) fn abandoned(&mut self) {
        self.abandoned = true;
    }

    /// A measured outcome spends one of the `--messages`; returns whether
    /// they are all spent.
    pub(super) fn spend(&mut self) -> bool {
        self.remaining = self.remaining.saturating_sub(1);
        self.done()
    }

    /// What the run's end leaves: the open-loop schedule with how many
    /// more measured requests it may still count (its messages left, less
    /// the one in flight), and the wait still running.
    pub(super) fn leftovers(&self) -> (Option<(Schedule, u64)>, Option<Instant>) {
        let left = self.remaining.saturating_sub(u64::from(self.abandoned));
        (self.schedule.map(|s| (s, left)), self.wait_since)
    }

    /// Whether it got a measured verified reply.
    pub(super) fn was_answered(&self) -> bool {
        self.answered
    }

    /// Why it got no verified reply, from what it saw; `greeting` says
    /// whether the exchange starts with one.
    pub(super) fn cause(&self, greeting: bool) -> Cause {
        let e = self.evidence();
        if !e.connected {
            Cause::NotConnected
        } else if !self.served {
            if e.heard_before {
                if greeting {
                    Cause::WrongGreeting
                } else {
                    Cause::WrongReply
                }
            } else if e.closed_before {
                Cause::Closed
            } else {
                Cause::Silent
            }
        } else if e.heard_after {
            Cause::WrongReply
        } else if e.closed_after {
            Cause::Closed
        } else {
            Cause::GreetedOnly
        }
    }

    /// Opens an attempt, measured or not, whatever the time (tests).
    #[cfg(test)]
    pub(super) fn open(&mut self, measured: bool) {
        self.open = Some(measured);
    }

    /// Errors in a row (tests).
    #[cfg(test)]
    pub(super) fn failures(&self) -> u32 {
        self.failures
    }

    /// Its connections for the timeline, the last one ended at `end` if
    /// still open.
    pub(super) fn take_spans(&mut self, end: Instant) -> Vec<Span> {
        self.disconnected(end);
        std::mem::take(&mut self.spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plan::test_plan;

    #[test]
    fn causes_follow_what_the_client_saw() {
        let plan = test_plan(|_| {});
        let now = Instant::now();
        let fresh = || Account::new(&plan, 0);
        assert_eq!(fresh().cause(true), Cause::NotConnected);
        let mut a = fresh();
        a.connecting(now);
        a.connected(None);
        assert_eq!(a.cause(true), Cause::Silent);
        let mut b = a.clone();
        b.heard();
        assert_eq!(b.cause(true), Cause::WrongGreeting);
        assert_eq!(b.cause(false), Cause::WrongReply);
        // Bytes that made a right greeting, even a late one, are no fault.
        b.matched();
        assert_eq!(b.cause(true), Cause::Silent);
        // What a closed connection heard stays heard.
        b.heard();
        b.connecting(now);
        assert_eq!(b.cause(true), Cause::WrongGreeting);
        let mut c = a.clone();
        c.failed(Failure::ClosedEarly);
        assert_eq!(c.cause(true), Cause::Closed);
        assert_eq!(a.serve(now), Some(now), "the wait started at the connect");
        assert_eq!(a.serve(now), None, "a connection is served once");
        assert_eq!(a.cause(true), Cause::GreetedOnly);
        a.heard();
        assert_eq!(a.cause(true), Cause::WrongReply);
    }

    #[test]
    fn a_wait_runs_across_retries_until_service() {
        let plan = test_plan(|_| {});
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(5);
        let mut a = Account::new(&plan, 0);
        a.connecting(t0);
        a.failed(Failure::Refused);
        a.disconnected(t1);
        a.connecting(t1);
        assert_eq!(a.serve(t1), Some(t0));
        a.disconnected(t1);
        a.connecting(t1);
        assert_eq!(a.leftovers().1, Some(t1), "a new connection waits anew");
    }

    #[test]
    fn spans_are_capped() {
        let plan = test_plan(|p| p.spans_per_client = 2);
        let now = Instant::now();
        let mut a = Account::new(&plan, 0);
        for _ in 0..5 {
            a.connecting(now);
            a.serve(now);
            a.disconnected(now);
        }
        a.connecting(now);
        let spans = a.take_spans(now);
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.served.is_some() && s.end.is_some()));
    }

    #[test]
    fn open_loop_attempts_wait_for_their_time() {
        let plan = test_plan(|p| p.rate = Some(10.0));
        let mut a = Account::new(&plan, 0);
        let first = plan.start;
        assert_eq!(a.begin(first, first), Ok(0));
        assert_eq!(a.scheduled(), Some(first));
        let next = a.begin(first, first).unwrap_err();
        assert_eq!(next - first, Duration::from_millis(100));
        // Late: the attempt keeps its due time.
        let late = first + Duration::from_secs(1);
        assert_eq!(a.begin(late, first), Ok(1));
        assert_eq!(a.scheduled(), Some(next));
        // Closed loop: numbers count up, no due time.
        let plan = test_plan(|_| {});
        let mut b = Account::new(&plan, 3);
        assert_eq!(
            (b.begin(first, first), b.begin(first, first)),
            (Ok(0), Ok(1))
        );
        assert_eq!((b.scheduled(), b.client()), (None, 3));
    }
}
