//! The plan of a run: what every client sends and expects, and when the
//! run is measured and stops; made once from the flags, then shared
//! read-only by all generator threads.
//!
//! The generator knows the exact bytes of the greeting and of the reply to
//! each request ([`Exchange`]: the echo protocol's from `crate::echo`, its
//! one definition, unless `--greeting`, `--request` or `--expect` say
//! otherwise), so the clients compare each read with what must come next
//! and never parse or buffer replies.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::error::BenchError;
use super::exchange::Exchange;
use super::flags::{BenchArgs, Protocol, secs};

/// How often each event loop looks for expired deadlines and due
/// reconnects, and how often every thread publishes its counts. Scanning
/// every client on every wake-up would cost more than the I/O with
/// thousands of clients; a few milliseconds of timer slack is nothing next
/// to a timeout of seconds.
pub(super) const SCAN_INTERVAL: Duration = Duration::from_millis(5);

/// First and largest pause before a client reconnects after an error, so a
/// dead server is retried, counted, but not hammered in a spin.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(1);
pub(super) const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// Most connections a timeline keeps per client (`--churn` makes one per
/// message); later ones are not recorded.
pub(super) const TIMELINE_SPANS_PER_CLIENT: usize = 10_000;

/// Most connections a timeline keeps in all, shared among the clients, so
/// thousands of churning clients cannot fill the memory: each client keeps
/// at most this divided by the clients (and at least one).
pub(super) const TIMELINE_SPANS: usize = 1_000_000;

/// Most answered requests a timeline keeps in all, shared as the spans
/// are: enough for every request of a lesson's run, bounded for a long one.
pub(super) const TIMELINE_REQUESTS: usize = 1_000_000;

/// The validated, resolved form of [`BenchArgs`], shared read-only by the
/// generator threads.
pub(super) struct Plan {
    pub(super) addr: SocketAddr,
    pub(super) clients: usize,
    pub(super) protocol: Protocol,
    /// Every attempt on a new connection (`--churn`, or daytime).
    pub(super) churn: bool,
    pub(super) messages: Option<u64>,
    pub(super) timeout: Duration,
    /// What is sent and expected: greeting, requests, replies.
    pub(super) exchange: Exchange,
    /// `--rate`: requests per second in all, or `None` for a closed loop.
    pub(super) rate: Option<f64>,
    /// Connections each client records for the timeline; 0 when no
    /// timeline was asked for.
    pub(super) spans_per_client: usize,
    /// Answered requests each client records for the timeline.
    pub(super) requests_per_client: usize,
    /// The connection [`preflight`] made, until a client takes it.
    opened: std::sync::Mutex<Option<std::net::TcpStream>>,
    pub(super) warmup: Duration,
    /// The run's start: the warm-up begins, open-loop schedules count from
    /// here, and timelines are measured from here.
    pub(super) start: Instant,
    /// Attempts starting before this are warm-up.
    pub(super) measure_start: Instant,
    /// Every thread stops here, whatever is in flight.
    pub(super) end: Instant,
}

impl Plan {
    /// The plan for `args` (already checked) against `addr`, speaking
    /// `exchange`; the warm-up starts now.
    pub(super) fn new(
        args: &BenchArgs,
        addr: SocketAddr,
        exchange: Exchange,
    ) -> Result<Plan, BenchError> {
        let load = &args.load;
        let timeout = Duration::from_millis(load.timeout_ms);
        let warmup = secs(load.warmup, "--warmup")?;
        let start = Instant::now();
        let measure_start = start + warmup;
        let end = match load.messages {
            None => {
                let d = secs(load.duration.unwrap_or(5.0), "--duration")?;
                far_future(measure_start, d)
            }
            // Each attempt ends within two deadlines (connect + greeting,
            // request + reply) plus a backoff; so a client can always finish
            // its messages by then, and a server that hangs cannot hang us.
            // Under --rate the last message is not due before the schedule
            // has run its course, so that is added.
            Some(m) => {
                let per_attempt = timeout.saturating_mul(2).saturating_add(BACKOFF_MAX);
                let schedule = load.rate.map_or(Duration::ZERO, |rate| {
                    let secs = m as f64 * load.clients as f64 / rate;
                    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
                });
                let cap = per_attempt
                    .saturating_mul(u32::try_from(m).unwrap_or(u32::MAX))
                    .saturating_add(schedule)
                    .saturating_add(Duration::from_secs(1));
                far_future(measure_start, cap)
            }
        };
        let spans_per_client = if args.timeline {
            (TIMELINE_SPANS / load.clients.max(1)).clamp(1, TIMELINE_SPANS_PER_CLIENT)
        } else {
            0
        };
        let requests_per_client = if args.timeline {
            TIMELINE_REQUESTS / load.clients.max(1)
        } else {
            0
        };
        Ok(Plan {
            requests_per_client,
            addr,
            clients: load.clients,
            protocol: args.protocol,
            // A daytime server closes after each answer: every attempt is a
            // new connection whatever the flag says.
            churn: load.churn || args.protocol == Protocol::Daytime,
            messages: load.messages,
            timeout,
            exchange,
            rate: load.rate,
            spans_per_client,
            opened: std::sync::Mutex::new(None),
            warmup,
            start,
            measure_start,
            end,
        })
    }
}

/// Resolves `--addr` and makes the first client's connection, so that
/// "the server is not there" is one clear error before the run instead of
/// a report full of refusals. The connection is a client's, never an
/// extra one: the run hands it to the first client that connects
/// ([`Plan::take_opened`]). A probe that closed again would cost the
/// server a client it never asked for: the lesson's `server.py` sleeps a
/// second for it, and may die of the reset when it greets it.
pub(super) fn preflight(
    addr: &str,
    timeout: Duration,
) -> Result<(SocketAddr, std::net::TcpStream), BenchError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|source| BenchError::Resolve {
            addr: addr.to_string(),
            source,
        })?
        .collect();
    let mut last = None;
    for a in &addrs {
        match std::net::TcpStream::connect_timeout(a, timeout) {
            Ok(stream) => return Ok((*a, stream)),
            Err(e) => last = Some((*a, e)),
        }
    }
    match last {
        Some((addr, source)) => Err(BenchError::Connect { addr, source }),
        None => Err(BenchError::Resolve {
            addr: addr.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no address"),
        }),
    }
}

impl Plan {
    /// Gives the preflight's connection to the run: the first client to
    /// connect takes it instead of opening one.
    pub(super) fn hand_over(&self, stream: std::net::TcpStream) {
        *self.opened.lock().unwrap_or_else(|e| e.into_inner()) = Some(stream);
    }

    /// The preflight's connection, for the first client that connects.
    pub(super) fn take_opened(&self) -> Option<std::net::TcpStream> {
        self.opened.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Pause before the next attempt after `failures` errors in a row (at least
/// one): doubling from [`BACKOFF_MIN`] up to [`BACKOFF_MAX`].
pub(super) fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(10);
    BACKOFF_MIN.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

fn far_future(from: Instant, d: Duration) -> Instant {
    // Instant + a huge Duration panics on overflow; a year is "never" here.
    from.checked_add(d)
        .unwrap_or_else(|| from + Duration::from_secs(365 * 24 * 3600))
}

/// A plan for unit tests: the defaults against an address nothing is
/// asked of, edited by `edit`.
#[cfg(test)]
pub(super) fn test_plan(edit: impl FnOnce(&mut Plan)) -> Plan {
    let args = BenchArgs::new("127.0.0.1:1");
    let exchange = Exchange::new(&args.load, args.protocol).expect("default exchange");
    let addr = "127.0.0.1:1".parse().expect("address");
    let mut plan = Plan::new(&args, addr, exchange).expect("default plan");
    edit(&mut plan);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), BACKOFF_MIN);
        assert_eq!(backoff(2), BACKOFF_MIN * 2);
        assert_eq!(backoff(1000), BACKOFF_MAX);
    }
}
