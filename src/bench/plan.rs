//! The plan of a run: what every client sends and expects, and when the
//! run is measured and stops; made once from the flags, then shared
//! read-only by all generator threads.
//!
//! The generator knows the exact bytes of the greeting and of the reply to
//! its payload (from `crate::echo`, the protocol's one definition), so the
//! clients compare each read with what must come next and never parse or
//! buffer replies.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::error::BenchError;
use super::flags::{BenchArgs, Protocol, secs};
use crate::Framing;
use crate::echo::{GREETING, answer};

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
    /// Exact bytes of the request, the greeting and the reply, framed.
    pub(super) request: Vec<u8>,
    pub(super) greeting: Vec<u8>,
    pub(super) reply: Vec<u8>,
    pub(super) warmup: Duration,
    /// Attempts starting before this are warm-up.
    pub(super) measure_start: Instant,
    /// Every thread stops here, whatever is in flight.
    pub(super) end: Instant,
}

impl Plan {
    /// The plan for `args` (already checked) against `addr`; the warm-up
    /// starts now.
    pub(super) fn new(args: &BenchArgs, addr: SocketAddr) -> Result<Plan, BenchError> {
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
            Some(m) => {
                let per_attempt = timeout.saturating_mul(2).saturating_add(BACKOFF_MAX);
                let cap = per_attempt
                    .saturating_mul(u32::try_from(m).unwrap_or(u32::MAX))
                    .saturating_add(Duration::from_secs(1));
                far_future(measure_start, cap)
            }
        };
        let p = payload(load.size);
        let mut expected_reply = Vec::new();
        answer(&p, &mut expected_reply);
        Ok(Plan {
            addr,
            clients: load.clients,
            protocol: args.protocol,
            // A daytime server closes after each answer: every attempt is a
            // new connection whatever the flag says.
            churn: load.churn || args.protocol == Protocol::Daytime,
            messages: load.messages,
            timeout,
            request: framed(load.framing, &p),
            greeting: framed(load.framing, GREETING),
            reply: framed(load.framing, &expected_reply),
            warmup,
            measure_start,
            end,
        })
    }
}

/// Resolves `--addr` and makes one blocking connection, so that "the
/// server is not there" is one clear error before the run instead of a
/// report full of refusals.
pub(super) fn preflight(addr: &str, timeout: Duration) -> Result<SocketAddr, BenchError> {
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
            Ok(_) => return Ok(*a),
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

/// Pause before the next attempt after `failures` errors in a row (at least
/// one): doubling from [`BACKOFF_MIN`] up to [`BACKOFF_MAX`].
pub(super) fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(10);
    BACKOFF_MIN.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

/// The printable payload: `abcd…z` repeated. It starts with `a`, so it is
/// never `exit`, and contains no `\n` or `\r`.
fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

fn framed(framing: Framing, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 4);
    framing.encode(message, &mut out);
    out
}

fn far_future(from: Instant, d: Duration) -> Instant {
    // Instant + a huge Duration panics on overflow; a year is "never" here.
    from.checked_add(d)
        .unwrap_or_else(|| from + Duration::from_secs(365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echo::EXIT;

    #[test]
    fn payload_is_printable_and_never_exit() {
        for size in [1, 4, 26, 100, 1024] {
            let p = payload(size);
            assert_eq!(p.len(), size);
            assert!(p.iter().all(|b| b.is_ascii_lowercase()));
            assert_ne!(p, EXIT);
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), BACKOFF_MIN);
        assert_eq!(backoff(2), BACKOFF_MIN * 2);
        assert_eq!(backoff(1000), BACKOFF_MAX);
    }
}
