//! Counters kept while the server runs, and the [`Summary`] printed at exit.
//!
//! The summary is how a learner sees what a run did (how many were served,
//! how many were cut at shutdown) and how a test checks that nothing was
//! lost, so every way a connection can end is counted somewhere.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::handler::DisconnectReason;

/// Live counters, shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Stats {
    started: Instant,
    pub accepted: AtomicU64,
    pub served: AtomicU64,
    pub messages: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub panics: AtomicU64,
    pub timeouts: AtomicU64,
    pub errors: AtomicU64,
    pub busy: AtomicU64,
    pub unstarted: AtomicU64,
    pub cut: AtomicU64,
    pub slow: AtomicU64,
    pub bad_proxy_headers: AtomicU64,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            started: Instant::now(),
            accepted: AtomicU64::new(0),
            served: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            unstarted: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            bad_proxy_headers: AtomicU64::new(0),
        }
    }

    /// Counts how a served connection ended.
    pub fn ended(&self, reason: &DisconnectReason) {
        let counter = match reason {
            DisconnectReason::Timeout => &self.timeouts,
            DisconnectReason::SlowConsumer => &self.slow,
            DisconnectReason::Panic(_) => &self.panics,
            DisconnectReason::Protocol(_)
            | DisconnectReason::Reset
            | DisconnectReason::Error(_) => &self.errors,
            _ => return,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub fn summary(&self) -> Summary {
        Summary {
            accepted: self.accepted.load(Relaxed),
            connections: self.served.load(Relaxed),
            messages: self.messages.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            uptime: self.started.elapsed(),
            panics: self.panics.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            errors: self.errors.load(Relaxed),
            busy: self.busy.load(Relaxed),
            unstarted: self.unstarted.load(Relaxed),
            cut: self.cut.load(Relaxed),
            slow_consumers: self.slow.load(Relaxed),
            bad_proxy_headers: self.bad_proxy_headers.load(Relaxed),
        }
    }
}

/// One connection's traffic, added to the server's [`Stats`] in batches
/// and when the connection ends. An atomic add per message on counters that
/// every connection shares would bounce their cache line between cores on
/// every message; batching keeps the summary exact for every connection
/// that ends (a connection cut at shutdown may miss its last batch). Kept
/// by the blocking connection loop and by each connection of an event
/// loop alike.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub messages: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    unflushed: u64,
}

impl Tally {
    const BATCH: u64 = 64;

    /// Counts `n` messages, passing a batch on to `stats` when full.
    pub fn add_messages(&mut self, n: u64, stats: &Stats) {
        self.messages += n;
        self.unflushed += n;
        if self.unflushed >= Self::BATCH {
            self.flush(stats);
        }
    }

    /// Adds everything counted so far to `stats`.
    pub fn flush(&mut self, stats: &Stats) {
        stats
            .messages
            .fetch_add(std::mem::take(&mut self.messages), Relaxed);
        stats
            .bytes_in
            .fetch_add(std::mem::take(&mut self.bytes_in), Relaxed);
        stats
            .bytes_out
            .fetch_add(std::mem::take(&mut self.bytes_out), Relaxed);
        self.unflushed = 0;
    }
}

/// What one server run did; returned by [`Server::run`](crate::Server::run)
/// and printed when the binary exits. It (de)serializes so that a process
/// serving the port next to others (`processes` > 1) can hand its summary
/// to the first process, which prints one for all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Connections accepted from the kernel's queue.
    pub accepted: u64,
    /// Connections whose handler ran (greeted and served).
    pub connections: u64,
    /// Messages decoded and handed to handlers.
    pub messages: u64,
    /// Bytes read from clients (a load balancer's PROXY protocol header
    /// is not the client's, and not counted).
    pub bytes_in: u64,
    /// Bytes written to clients (replies and [`Sender`](crate::Sender) messages
    /// written by the connection itself).
    pub bytes_out: u64,
    /// From bind to the end of shutdown.
    pub uptime: Duration,
    /// Connections closed because their handler panicked.
    pub panics: u64,
    /// Connections closed by `read_timeout_ms` or `write_timeout_ms`.
    pub timeouts: u64,
    /// Connections closed by a framing violation, a reset by the client, or
    /// another socket error.
    pub errors: u64,
    /// Pool mode: clients told the server was busy (`queue_limit`).
    pub busy: u64,
    /// Accepted, but closed by shutdown before a worker could serve them.
    pub unstarted: u64,
    /// Still running after `shutdown_timeout_ms`, so cut.
    pub cut: u64,
    /// Cut because their queue was full and they took next to nothing of
    /// it for `stall_timeout_ms`: clients that stopped reading
    /// ([`DisconnectReason::SlowConsumer`](crate::DisconnectReason::SlowConsumer)).
    pub slow_consumers: u64,
    /// With `proxy_protocol` on: connections closed unserved because they
    /// did not start with a PROXY protocol header this server accepts (a
    /// client bypassing the balancer, a balancer sending the wrong
    /// version, garbage). A health check's header counts as good.
    pub bad_proxy_headers: u64,
}

impl Summary {
    /// Adds `other`'s counts to these: the summary of two servers sharing
    /// one port (several processes) is what both did. The uptime is the
    /// longer of the two, since they ran side by side, not one after the
    /// other.
    pub fn add(&mut self, other: &Summary) {
        let Summary {
            accepted,
            connections,
            messages,
            bytes_in,
            bytes_out,
            uptime,
            panics,
            timeouts,
            errors,
            busy,
            unstarted,
            cut,
            slow_consumers,
            bad_proxy_headers,
        } = other;
        self.accepted += accepted;
        self.connections += connections;
        self.messages += messages;
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        self.uptime = self.uptime.max(*uptime);
        self.panics += panics;
        self.timeouts += timeouts;
        self.errors += errors;
        self.busy += busy;
        self.unstarted += unstarted;
        self.cut += cut;
        self.slow_consumers += slow_consumers;
        self.bad_proxy_headers += bad_proxy_headers;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Served {}, {} ({} bytes in, {} bytes out) in {:.1} s; \
             {} timeouts, {} errors, {} panics, {} refused busy, {} closed unserved, {} too slow, {} cut at shutdown",
            count(self.connections, "connection"),
            count(self.messages, "message"),
            self.bytes_in,
            self.bytes_out,
            self.uptime.as_secs_f64(),
            self.timeouts,
            self.errors,
            self.panics,
            self.busy,
            self.unstarted,
            self.slow_consumers,
            self.cut,
        )?;
        // Only with `proxy_protocol` on can it be non-zero: a learner's
        // summary without a balancer stays as it was.
        if self.bad_proxy_headers > 0 {
            write!(f, ", {} bad PROXY headers", self.bad_proxy_headers)?;
        }
        Ok(())
    }
}

/// `1 connection`, `2 connections`: the summary is read by learners.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_proxy_headers_are_shown_only_when_there_were_some() {
        let mut summary = Summary {
            connections: 1,
            ..Summary::default()
        };
        let plain = summary.to_string();
        assert!(!plain.contains("PROXY"), "{plain}");
        summary.bad_proxy_headers = 3;
        let shown = summary.to_string();
        assert!(shown.starts_with(&plain), "{shown}");
        assert!(shown.ends_with(", 3 bad PROXY headers"), "{shown}");
    }

    #[test]
    fn add_sums_counts_and_keeps_the_longer_uptime() {
        let mut a = Summary {
            connections: 2,
            messages: 5,
            bytes_in: 10,
            cut: 1,
            uptime: Duration::from_secs(3),
            ..Summary::default()
        };
        let b = Summary {
            connections: 3,
            messages: 7,
            bytes_in: 4,
            slow_consumers: 2,
            bad_proxy_headers: 1,
            uptime: Duration::from_secs(2),
            ..Summary::default()
        };
        a.add(&b);
        assert_eq!(
            (
                a.connections,
                a.messages,
                a.bytes_in,
                a.cut,
                a.slow_consumers
            ),
            (5, 12, 14, 1, 2)
        );
        assert_eq!(a.uptime, Duration::from_secs(3));
        assert_eq!(a.bad_proxy_headers, 1);
    }
}
