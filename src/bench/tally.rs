//! Counting: how an attempt ends and what each generator thread adds up.
//!
//! Both clients (the event loop and the blocking one) count through
//! [`Tally::settle`] and the other methods of [`Tally`], with the
//! [`Account`] of each simulated client, so the rules written in
//! [`BenchReport`](super::BenchReport)'s docs hold identically on both
//! paths: one outcome per attempt, measured only when it started (under
//! `--rate`, was due) after the warm-up, `--messages` spent by measured
//! outcomes, the backoff after errors in a row, each client's wait for
//! service, and at the run's end what was left waiting
//! ([`Tally::retire`]).

use std::io;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::account::{Account, Cause, Span};
use super::failure::Failure;

/// Largest latency or wait the histograms hold (one hour, in µs); larger
/// values are clamped. A timeout ends every attempt long before, but a wait
/// or an overdue `--rate` request can last as long as the run.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// Errors of a run, by kind, so a report tells a dead server (refused) from
/// a slow one (timeout) from a wrong one (wrong_reply). Each failed attempt
/// counts in exactly one kind, and `total` is their sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// The connection was refused (ECONNREFUSED): nothing listens, or the
    /// accept queue is full and the kernel answered with a reset.
    pub refused: u64,
    /// The connection was reset or broken (ECONNRESET, EPIPE,
    /// ECONNABORTED) while writing or reading.
    pub reset: u64,
    /// A phase (connect plus greeting, or request plus reply) missed its
    /// deadline of `--timeout-ms`.
    pub timeout: u64,
    /// Bytes arrived that differ from the expected greeting or reply, or
    /// more bytes than expected arrived. With `daytime`: the bytes before
    /// the close were not one non-empty printable line ending in `\n`, or
    /// were longer than the 512 bytes accepted for one.
    pub wrong_reply: u64,
    /// The server closed (EOF) before the full greeting or reply; with
    /// `daytime`, before sending a single byte.
    pub closed_early: u64,
    /// Anything else, e.g. out of local ports (EADDRNOTAVAIL) or files.
    pub other: u64,
    /// Sum of the kinds above.
    pub total: u64,
}

impl ErrorCounts {
    fn add(&mut self, failure: Failure) {
        let slot = match failure {
            Failure::Refused => &mut self.refused,
            Failure::Reset => &mut self.reset,
            Failure::Timeout => &mut self.timeout,
            Failure::WrongReply => &mut self.wrong_reply,
            Failure::ClosedEarly => &mut self.closed_early,
            Failure::Other => &mut self.other,
        };
        *slot += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &ErrorCounts) {
        self.refused += other.refused;
        self.reset += other.reset;
        self.timeout += other.timeout;
        self.wrong_reply += other.wrong_reply;
        self.closed_early += other.closed_early;
        self.other += other.other;
        self.total += other.total;
    }

    /// `(name, count)` for every kind, in schema order; used by the
    /// renderers so a new kind cannot be forgotten in one of them.
    pub fn kinds(&self) -> [(&'static str, u64); 6] {
        [
            ("refused", self.refused),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("wrong_reply", self.wrong_reply),
            ("closed_early", self.closed_early),
            ("other", self.other),
        ]
    }
}

/// The clients that got no verified reply in the measured run
/// (`clients - clients_answered`), each counted once, by the furthest it
/// got: what `bench` names as the likely cause when it fails the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeverAnswered {
    /// Never got a connection established (refused, reset, out of ports).
    pub not_connected: u64,
    /// Connected, and not a byte came back: no greeting (or, for an
    /// exchange without one, no reply). The usual cause is a server that
    /// serves fewer clients at once than there are, like serial mode.
    pub silent: u64,
    /// The server closed or reset the connection before answering.
    pub closed: u64,
    /// Bytes came that were not the expected greeting: often a `--framing`
    /// that does not match the server's.
    pub wrong_greeting: u64,
    /// Greeted, but no request got a reply.
    pub greeted_only: u64,
    /// Replies came that were not the expected reply (`--framing`,
    /// `--expect`).
    pub wrong_reply: u64,
}

impl NeverAnswered {
    fn add(&mut self, cause: Cause) {
        *match cause {
            Cause::NotConnected => &mut self.not_connected,
            Cause::Silent => &mut self.silent,
            Cause::Closed => &mut self.closed,
            Cause::WrongGreeting => &mut self.wrong_greeting,
            Cause::GreetedOnly => &mut self.greeted_only,
            Cause::WrongReply => &mut self.wrong_reply,
        } += 1;
    }

    fn merge(&mut self, other: &NeverAnswered) {
        for (mine, theirs) in self.counts_mut().into_iter().zip(other.counts()) {
            *mine += theirs;
        }
    }

    fn counts(&self) -> [u64; 6] {
        [
            self.not_connected,
            self.silent,
            self.closed,
            self.wrong_greeting,
            self.greeted_only,
            self.wrong_reply,
        ]
    }

    fn counts_mut(&mut self) -> [&mut u64; 6] {
        [
            &mut self.not_connected,
            &mut self.silent,
            &mut self.closed,
            &mut self.wrong_greeting,
            &mut self.greeted_only,
            &mut self.wrong_reply,
        ]
    }

    /// All of them: `clients - clients_answered`.
    pub fn total(&self) -> u64 {
        self.counts().iter().sum()
    }
}

/// How an attempt ended, as a client reports it to [`Tally::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The reply was verified at `at`; the latency runs from `since`
    /// (request write, or connect with `--churn`, or under `--rate` the
    /// time the request was due).
    Answered { since: Instant, at: Instant },
    /// The attempt failed at `at`.
    Failed { failure: Failure, at: Instant },
    /// The run ended at `at` first: no outcome, the attempt is unanswered.
    Abandoned { at: Instant },
}

/// What one generator thread measured; merged into the report.
pub(super) struct Tally {
    pub(super) ok: u64,
    pub(super) errors: ErrorCounts,
    /// Measured attempts begun and still open at the end.
    pub(super) abandoned: u64,
    /// Those, plus under `--rate` the measured requests due and not sent.
    pub(super) unanswered: u64,
    pub(super) connections: u64,
    /// Clients with at least one measured verified reply.
    pub(super) clients_answered: u64,
    /// Clients with no measured verified reply: `clients -
    /// clients_answered`.
    pub(super) clients_unanswered: u64,
    pub(super) never_answered: NeverAnswered,
    pub(super) latency: Histogram<u64>,
    /// Each wait for service, in µs.
    pub(super) wait: Histogram<u64>,
    /// Each retired client's connections, when a timeline was asked for.
    pub(super) timeline: Vec<(usize, Vec<Span>)>,
    /// When this thread's last client finished its `--messages`.
    pub(super) finished_at: Option<Instant>,
    /// Waits ending before this are warm-up.
    measure_start: Instant,
    /// The exchange starts with a greeting (for [`Account::cause`]).
    greeting: bool,
}

impl Tally {
    /// An empty tally for a run measured from `measure_start`, whose
    /// exchange starts with a greeting when `greeting`.
    pub(super) fn new(measure_start: Instant, greeting: bool) -> io::Result<Tally> {
        let histogram = || {
            Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
                .map_err(|e| io::Error::other(format!("histogram: {e}")))
        };
        Ok(Tally {
            ok: 0,
            errors: ErrorCounts::default(),
            abandoned: 0,
            unanswered: 0,
            connections: 0,
            clients_answered: 0,
            clients_unanswered: 0,
            never_answered: NeverAnswered::default(),
            latency: histogram()?,
            wait: histogram()?,
            timeline: Vec::new(),
            finished_at: None,
            measure_start,
            greeting,
        })
    }

    /// `account` starts a connect at `now`.
    pub(super) fn connecting(&mut self, account: &mut Account, now: Instant) {
        account.connecting(now);
    }

    /// A connection was established for `account`'s open attempt, from
    /// `local`.
    pub(super) fn connected(&mut self, account: &mut Account, local: Option<std::net::SocketAddr>) {
        account.connected(local);
        if account.measured() {
            self.connections += 1;
        }
    }

    /// `account`'s connection was served at `now` (its greeting came); the
    /// wait this ends is recorded unless it ended in the warm-up.
    pub(super) fn served(&mut self, account: &mut Account, now: Instant) {
        if let Some(since) = account.serve(now)
            && now >= self.measure_start
        {
            record(&mut self.wait, since, now);
        }
    }

    /// `account`'s connection closed at `now`.
    pub(super) fn disconnected(&mut self, account: &mut Account, now: Instant) {
        account.disconnected(now);
    }

    /// Closes `account`'s open attempt with `outcome`: the one place an
    /// attempt is counted. Only a measured attempt counts (its latency, its
    /// error kind, or `abandoned` and `unanswered`), and a measured answer
    /// or failure spends one of the `--messages`; any answer ends the
    /// errors in a row and any failure adds to them, warm-up or not. An
    /// answer on a connection not yet served serves it (an exchange
    /// without greeting is served by its first reply). Under `--rate` an
    /// abandoned attempt is a latency sample too, from its due time to the
    /// end.
    pub(super) fn settle(&mut self, account: &mut Account, outcome: Outcome) {
        let scheduled = account.scheduled();
        let measured = account.close_attempt();
        let at = match outcome {
            Outcome::Answered { since, at } => {
                self.served(account, at);
                account.answered_request(since, at);
                if account.answered(measured) {
                    self.clients_answered += 1;
                }
                if !measured {
                    return;
                }
                record(&mut self.latency, since, at);
                self.ok += 1;
                at
            }
            Outcome::Failed { failure, at } => {
                account.failed(failure);
                if !measured {
                    return;
                }
                self.errors.add(failure);
                at
            }
            Outcome::Abandoned { at } => {
                if measured {
                    account.abandoned();
                    self.abandoned += 1;
                    self.unanswered += 1;
                    if let Some(due) = scheduled {
                        record(&mut self.latency, due, at);
                    }
                }
                return;
            }
        };
        if account.spend() {
            self.finished_at = Some(at);
        }
    }

    /// The run ended at `end` for `account` (its open attempt already
    /// settled as abandoned): under `--rate` its measured requests that
    /// were due and never sent are unanswered latency samples, overdue by
    /// `end - due`; a wait still running is a sample to `end`; a client
    /// never served counts in `clients_unanswered`, one never answered in
    /// `never_answered` by cause; its connections go to the timeline.
    pub(super) fn retire(&mut self, account: &mut Account, end: Instant) {
        let (schedule, waiting) = account.leftovers();
        if let Some((schedule, left)) = schedule {
            let ramp = schedule.overdue(self.measure_start, end, left);
            for (us, n) in ramp.samples() {
                self.latency.saturating_record_n(us, n);
            }
            self.unanswered += ramp.count;
        }
        if let Some(since) = waiting {
            record(&mut self.wait, since, end);
        }
        // Every client is answered or not, exactly one: greeted and never
        // answered is unanswered too.
        if !account.was_answered() {
            self.clients_unanswered += 1;
            self.never_answered.add(account.cause(self.greeting));
        }
        let spans = account.take_spans(end);
        if !spans.is_empty() {
            self.timeline.push((account.client(), spans));
        }
    }

    pub(super) fn merge(&mut self, other: &mut Tally) {
        self.ok += other.ok;
        self.errors.merge(&other.errors);
        self.abandoned += other.abandoned;
        self.unanswered += other.unanswered;
        self.connections += other.connections;
        self.clients_answered += other.clients_answered;
        self.clients_unanswered += other.clients_unanswered;
        self.never_answered.merge(&other.never_answered);
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.wait.add(&other.wait);
        self.timeline.append(&mut other.timeline);
        self.finished_at = match (self.finished_at, other.finished_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Records the time from `since` to `at` in `h`, in µs (at least 1).
fn record(h: &mut Histogram<u64>, since: Instant, at: Instant) {
    let us = at.saturating_duration_since(since).as_micros();
    h.saturating_record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::plan::{backoff, test_plan};
    use std::time::Duration;

    #[test]
    fn only_measured_outcomes_count_and_spend_messages() {
        let plan = test_plan(|p| p.messages = Some(2));
        let t0 = Instant::now();
        let mut t = Tally::new(t0, true).unwrap();
        let mut a = Account::new(&plan, 0);
        let later = t0 + Duration::from_millis(3);

        // Warm-up: nothing counted, nothing spent, but errors in a row still
        // grow the backoff and an answer resets it.
        a.open(false);
        t.settle(
            &mut a,
            Outcome::Failed {
                failure: Failure::Reset,
                at: later,
            },
        );
        a.open(false);
        t.settle(
            &mut a,
            Outcome::Failed {
                failure: Failure::Reset,
                at: later,
            },
        );
        assert_eq!((a.failures(), a.backoff()), (2, backoff(2)));
        a.open(false);
        t.settle(
            &mut a,
            Outcome::Answered {
                since: t0,
                at: later,
            },
        );
        assert_eq!(a.failures(), 0);
        assert_eq!((t.ok, t.errors.total, t.clients_answered), (0, 0, 0));

        a.open(true);
        assert!(a.measured());
        t.settle(
            &mut a,
            Outcome::Failed {
                failure: Failure::Timeout,
                at: later,
            },
        );
        assert!(!a.measured(), "an outcome closes the attempt");
        assert_eq!((t.errors.timeout, t.errors.total), (1, 1));
        assert!(!a.done() && t.finished_at.is_none());
        a.open(true);
        t.settle(
            &mut a,
            Outcome::Answered {
                since: t0,
                at: later,
            },
        );
        assert_eq!((t.ok, t.clients_answered, t.latency.len()), (1, 1, 1));
        assert!(a.done(), "two measured outcomes spend two messages");
        assert_eq!(t.finished_at, Some(later));

        // Abandoned: counted when measured, spends nothing.
        let plan = test_plan(|_| {});
        let mut b = Account::new(&plan, 1);
        b.open(true);
        t.settle(&mut b, Outcome::Abandoned { at: later });
        b.open(false);
        t.settle(&mut b, Outcome::Abandoned { at: later });
        assert_eq!((t.abandoned, t.unanswered), (1, 1));
        assert!(!b.done());
        t.connected(&mut b, None);
        assert_eq!(t.connections, 0, "no open attempt, no measured connection");
        // A closed-loop abandoned attempt is no latency sample.
        assert_eq!(t.latency.len(), 1);
    }

    #[test]
    fn waits_are_counted_from_the_connect_to_service_or_the_end() {
        let plan = test_plan(|_| {});
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Tally::new(t0, true).unwrap();
        let mut served = Account::new(&plan, 0);
        t.connecting(&mut served, t0);
        t.connected(&mut served, None);
        t.served(&mut served, ms(2));
        let mut never = Account::new(&plan, 1);
        t.connecting(&mut never, t0);
        t.connected(&mut never, None);
        t.retire(&mut served, ms(1000));
        t.retire(&mut never, ms(1000));
        assert_eq!(t.wait.len(), 2);
        assert!((1900..=2100).contains(&t.wait.min()), "{}", t.wait.min());
        assert!(t.wait.max() >= 999_000, "{}", t.wait.max());
        // Greeted but never answered is unanswered too: every client is
        // exactly one of answered and unanswered.
        assert_eq!(t.clients_unanswered, 2);
        assert_eq!(t.clients_answered + t.clients_unanswered, 2);
        assert_eq!(t.never_answered.silent, 1);
        assert_eq!(t.never_answered.greeted_only, 1);
        assert_eq!(t.never_answered.total(), 2);

        // A wait that ends in the warm-up is not counted.
        let mut t = Tally::new(ms(500), true).unwrap();
        let mut a = Account::new(&plan, 0);
        t.connecting(&mut a, t0);
        t.served(&mut a, ms(1));
        assert_eq!(t.wait.len(), 0);
    }

    #[test]
    fn open_loop_counts_what_was_due_at_the_end() {
        // 10/s for one client: due at 0, 100, ..., 900 ms.
        let plan = test_plan(|p| p.rate = Some(10.0));
        let start = plan.start;
        let end = start + Duration::from_millis(1000);
        let mut t = Tally::new(start, true).unwrap();
        let mut a = Account::new(&plan, 0);
        // The first request went out and was never answered.
        assert_eq!(a.begin(start, start), Ok(0));
        t.settle(&mut a, Outcome::Abandoned { at: end });
        t.retire(&mut a, end);
        assert_eq!((t.abandoned, t.unanswered), (1, 10));
        assert_eq!(t.latency.len(), 10, "each unanswered request is a sample");
        assert!(t.latency.max() >= 999_000);
        assert!(t.latency.min() >= 99_000);
    }
}
