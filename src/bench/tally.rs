//! Counting: how an attempt ends and what each generator thread adds up.
//!
//! Both clients (the event loop and the blocking one) count through
//! [`Tally::settle`] and the [`Account`] of each simulated client, so the
//! rules written in [`BenchReport`](super::BenchReport)'s docs hold
//! identically on both paths: one outcome per attempt, measured only when
//! it started after the warm-up, `--messages` spent by measured outcomes,
//! and the backoff after errors in a row.

use std::io;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::plan::backoff;

/// Largest latency the histogram holds (one hour, in µs); larger values are
/// clamped. A timeout ends every attempt long before.
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

/// How one attempt failed; one variant per [`ErrorCounts`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    Refused,
    Reset,
    Timeout,
    WrongReply,
    ClosedEarly,
    Other,
}

impl Failure {
    /// The kind of an I/O error.
    pub(super) fn of(e: &io::Error) -> Failure {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Failure::Reset,
            K::TimedOut => Failure::Timeout,
            K::UnexpectedEof => Failure::ClosedEarly,
            _ => Failure::Other,
        }
    }
}

/// How an attempt ended, as a client reports it to [`Tally::settle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The reply was verified at `at`; the latency runs from `since`
    /// (request write, or connect with `--churn`).
    Answered { since: Instant, at: Instant },
    /// The attempt failed at `at`.
    Failed { failure: Failure, at: Instant },
    /// The run ended first: no outcome.
    Abandoned,
}

/// One simulated client's standing in the count: its open attempt, what is
/// left of its `--messages`, and its errors in a row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Account {
    /// `Some(measured)` from the start of an attempt to its outcome;
    /// `measured` when it started after the warm-up.
    open: Option<bool>,
    /// Measured attempts left with `--messages`.
    remaining: u64,
    /// Errors in a row, for the backoff.
    failures: u32,
    /// A measured attempt succeeded (see
    /// [`BenchReport::clients_answered`](super::BenchReport::clients_answered)).
    answered: bool,
}

impl Account {
    /// A client with `messages` to send, or no limit.
    pub(super) fn new(messages: Option<u64>) -> Account {
        Account {
            open: None,
            remaining: messages.unwrap_or(u64::MAX),
            failures: 0,
            answered: false,
        }
    }

    /// An attempt starts; `measured` when it is after the warm-up.
    pub(super) fn open(&mut self, measured: bool) {
        self.open = Some(measured);
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
}

/// What one generator thread measured; merged into the report.
pub(super) struct Tally {
    pub(super) ok: u64,
    pub(super) errors: ErrorCounts,
    pub(super) abandoned: u64,
    pub(super) connections: u64,
    /// Clients with at least one measured verified reply.
    pub(super) clients_answered: u64,
    pub(super) latency: Histogram<u64>,
    /// When this thread's last client finished its `--messages`.
    pub(super) finished_at: Option<Instant>,
}

impl Tally {
    pub(super) fn new() -> io::Result<Tally> {
        let latency = Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
            .map_err(|e| io::Error::other(format!("histogram: {e}")))?;
        Ok(Tally {
            ok: 0,
            errors: ErrorCounts::default(),
            abandoned: 0,
            connections: 0,
            clients_answered: 0,
            latency,
            finished_at: None,
        })
    }

    /// A connection was established for `account`'s open attempt.
    pub(super) fn connected(&mut self, account: &Account) {
        if account.measured() {
            self.connections += 1;
        }
    }

    /// Closes `account`'s open attempt with `outcome`: the one place an
    /// attempt is counted. Only a measured attempt counts (its latency, its
    /// error kind, or `abandoned`), and a measured answer or failure spends
    /// one of the `--messages`; any answer ends the errors in a row and any
    /// failure adds to them, warm-up or not.
    pub(super) fn settle(&mut self, account: &mut Account, outcome: Outcome) {
        let measured = account.open.take() == Some(true);
        let at = match outcome {
            Outcome::Answered { since, at } => {
                account.failures = 0;
                if !measured {
                    return;
                }
                let us = at.saturating_duration_since(since).as_micros();
                self.latency
                    .saturating_record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
                self.ok += 1;
                if !std::mem::replace(&mut account.answered, true) {
                    self.clients_answered += 1;
                }
                at
            }
            Outcome::Failed { failure, at } => {
                account.failures = account.failures.saturating_add(1);
                if !measured {
                    return;
                }
                self.errors.add(failure);
                at
            }
            Outcome::Abandoned => {
                if measured {
                    self.abandoned += 1;
                }
                return;
            }
        };
        account.remaining = account.remaining.saturating_sub(1);
        if account.done() {
            self.finished_at = Some(at);
        }
    }

    pub(super) fn merge(&mut self, other: &Tally) {
        self.ok += other.ok;
        self.errors.merge(&other.errors);
        self.abandoned += other.abandoned;
        self.connections += other.connections;
        self.clients_answered += other.clients_answered;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.finished_at = match (self.finished_at, other.finished_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_follow_io_errors() {
        use io::ErrorKind as K;
        let f = |k: K| Failure::of(&io::Error::from(k));
        assert_eq!(f(K::ConnectionRefused), Failure::Refused);
        assert_eq!(f(K::ConnectionReset), Failure::Reset);
        assert_eq!(f(K::BrokenPipe), Failure::Reset);
        assert_eq!(f(K::TimedOut), Failure::Timeout);
        assert_eq!(f(K::AddrNotAvailable), Failure::Other);
    }

    #[test]
    fn only_measured_outcomes_count_and_spend_messages() {
        let mut t = Tally::new().unwrap();
        let mut a = Account::new(Some(2));
        let t0 = Instant::now();
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
        assert_eq!((a.failures, a.backoff()), (2, backoff(2)));
        a.open(false);
        t.settle(
            &mut a,
            Outcome::Answered {
                since: t0,
                at: later,
            },
        );
        assert_eq!(a.failures, 0);
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
        let mut b = Account::new(None);
        b.open(true);
        t.settle(&mut b, Outcome::Abandoned);
        b.open(false);
        t.settle(&mut b, Outcome::Abandoned);
        assert_eq!(t.abandoned, 1);
        assert!(!b.done());
        t.connected(&b);
        assert_eq!(t.connections, 0, "no open attempt, no measured connection");
    }
}
