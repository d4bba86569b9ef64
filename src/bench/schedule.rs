//! The open loop (`--rate`): when each request of a client is due.
//!
//! A closed-loop client sends its next request when the last reply
//! arrives, so a server that stalls also stalls the load, and the requests
//! that would have been sent meanwhile are never sent nor measured: the
//! stall hides from the percentiles (coordinated omission). Under `--rate`
//! every request has a due time fixed in advance, client `i`'s `k`-th at
//! `start + i / rate + k * clients / rate`, so the clients together send
//! `rate` requests per second, evenly spaced; a request that cannot go out
//! on time (the reply ahead of it is late) goes as soon as it can but keeps
//! its due time, and its latency is measured from that time, as wrk2 does.
//! Requests still due when the run ends count too, with their latency so
//! far ([`Schedule::overdue`]).

use std::time::{Duration, Instant};

/// At most this many distinct values are recorded for one client's
/// overdue requests; beyond it neighbours share a value (see
/// [`Ramp::samples`]), so a huge `--rate` against a dead server cannot
/// make the end of a run take seconds.
const MAX_RAMP_POINTS: u64 = 100_000;

/// One client's open-loop schedule: its due times and the next request.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schedule {
    /// When its first request is due.
    first: Instant,
    /// Seconds between two of its requests: `clients / rate`.
    interval: f64,
    /// The number of its next request (its `{n}`).
    next: u64,
}

impl Schedule {
    /// Client `client`'s schedule in a run that starts at `start`, with
    /// `rate` requests per second spread over `clients` clients.
    pub(super) fn new(start: Instant, rate: f64, clients: usize, client: usize) -> Schedule {
        Schedule {
            first: later(start, client as f64 / rate),
            interval: clients as f64 / rate,
            next: 0,
        }
    }

    /// When request `k` is due.
    fn at(&self, k: u64) -> Instant {
        later(self.first, k as f64 * self.interval)
    }

    /// When the next request is due.
    pub(super) fn due(&self) -> Instant {
        self.at(self.next)
    }

    /// The next request's number and due time; the one after becomes next.
    pub(super) fn take(&mut self) -> (u64, Instant) {
        let k = self.next;
        self.next += 1;
        (k, self.at(k))
    }

    /// The requests not yet taken that are due before `end` and not before
    /// `from` (the warm-up's end), at most `limit` of them: at the end of a
    /// run, the ones that were due and never sent.
    pub(super) fn overdue(&self, from: Instant, end: Instant, limit: u64) -> Ramp {
        // Request k is due at first + k * interval: those due before `end`
        // are k < (end - first) / interval; those not before `from` are
        // k >= (from - first) / interval.
        let index = |t: Instant| {
            let secs = t.saturating_duration_since(self.first).as_secs_f64();
            (secs / self.interval).ceil() as u64
        };
        let lo = self.next.max(index(from));
        let hi = index(end).max(lo);
        let count = (hi - lo).min(limit);
        let micros = |t: Instant| t.saturating_duration_since(self.first).as_secs_f64() * 1e6;
        Ramp {
            count,
            first_us: micros(end) - lo as f64 * self.interval * 1e6,
            step_us: self.interval * 1e6,
        }
    }
}

/// Requests due and never answered at the end of a run: `count` of them,
/// the earliest overdue by `first_us` microseconds, each next one by
/// `step_us` less.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ramp {
    pub(super) count: u64,
    pub(super) first_us: f64,
    pub(super) step_us: f64,
}

impl Ramp {
    /// `(latency in µs, how many requests)` pairs covering the whole ramp:
    /// one per request, or past [`MAX_RAMP_POINTS`] one per group of
    /// neighbours, at the group's middle (an error of at most half a group,
    /// `(first_us / MAX_RAMP_POINTS) / 2`, far below what a bench that long
    /// can tell apart).
    pub(super) fn samples(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let group = self.count.div_ceil(MAX_RAMP_POINTS).max(1);
        let groups = self.count.div_ceil(group);
        (0..groups).map(move |g| {
            let lo = g * group;
            let n = group.min(self.count - lo);
            let middle = lo as f64 + (n - 1) as f64 / 2.0;
            let us = (self.first_us - middle * self.step_us).max(1.0);
            (us as u64, n)
        })
    }
}

/// `t` plus `secs`, or a year on if that does not fit: "never" for a run.
fn later(t: Instant, secs: f64) -> Instant {
    Duration::try_from_secs_f64(secs)
        .ok()
        .and_then(|d| t.checked_add(d))
        .unwrap_or_else(|| t + Duration::from_secs(365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_share_the_rate_evenly() {
        let start = Instant::now();
        // 100/s over 2 clients: each sends every 20 ms, 10 ms apart.
        let mut a = Schedule::new(start, 100.0, 2, 0);
        let mut b = Schedule::new(start, 100.0, 2, 1);
        let ms = |t: Instant| (t - start).as_secs_f64() * 1e3;
        let (k, t) = a.take();
        assert_eq!((k, ms(t).round()), (0, 0.0));
        assert_eq!(ms(b.take().1).round(), 10.0);
        assert_eq!(ms(a.take().1).round(), 20.0);
        let (k, t) = b.take();
        assert_eq!((k, ms(t).round()), (1, 30.0));
        assert_eq!(ms(a.due()).round(), 40.0);
    }

    #[test]
    fn overdue_requests_are_those_due_before_the_end() {
        let start = Instant::now();
        let s = Schedule::new(start, 10.0, 1, 0); // every 100 ms
        let end = start + Duration::from_millis(1000);
        // Due at 0, 100, ..., 900 ms: ten, overdue by 1000 down to 100 ms.
        let r = s.overdue(start, end, u64::MAX);
        assert_eq!(r.count, 10);
        let v: Vec<(u64, u64)> = r.samples().collect();
        assert_eq!(v.first(), Some(&(1_000_000, 1)));
        assert_eq!(v.last(), Some(&(100_000, 1)));
        // Not before the warm-up's end (450 ms): 500..900, five.
        let from = start + Duration::from_millis(450);
        assert_eq!(s.overdue(from, end, u64::MAX).count, 5);
        // At most `limit` (the messages left).
        assert_eq!(s.overdue(start, end, 3).count, 3);
        // Requests already taken are not overdue.
        let mut t = s;
        t.take();
        t.take();
        assert_eq!(t.overdue(start, end, u64::MAX).count, 8);
        // Nothing due yet.
        assert_eq!(s.overdue(start, start, u64::MAX).count, 0);
    }

    #[test]
    fn a_long_ramp_is_recorded_in_groups_that_keep_every_request() {
        let r = Ramp {
            count: 1_000_001,
            first_us: 10_000_000.0,
            step_us: 10.0,
        };
        let v: Vec<(u64, u64)> = r.samples().collect();
        assert!(v.len() as u64 <= MAX_RAMP_POINTS);
        assert_eq!(v.iter().map(|(_, n)| n).sum::<u64>(), 1_000_001);
        assert!(v[0].0 <= 10_000_000 && v[0].0 > 9_999_000, "{:?}", v[0]);
    }
}
