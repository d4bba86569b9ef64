//! The result of a run, as data: what the renderers show and what scripts
//! read back from the JSON.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::flags::Protocol;
use super::tally::ErrorCounts;
use crate::Framing;

/// Version of the JSON schema of [`BenchReport`]. It changes only when a
/// field is removed or changes meaning, so scripts can check it.
pub const SCHEMA_VERSION: u32 = 1;

/// Latency of successful attempts, in microseconds, from an HDR histogram
/// merged over all generator threads (3 significant digits): percentiles,
/// because a mean hides the slow replies that decide between modes.
///
/// Without `--churn` it is the time from the start of the request write to
/// the last byte of the reply. With `--churn` it is the whole cycle, from
/// `connect` to the last byte of the reply, since set-up is what churn
/// measures; with `daytime`, from `connect` to the server's close. All zero
/// when there was no successful attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded latencies (equals `replies_ok`).
    pub samples: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl LatencySummary {
    /// The summary of a run's merged latency histogram.
    pub(super) fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            samples: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// The result of one bench run; its JSON (`--format json`) is the stable,
/// documented interface for scripts (see [`SCHEMA_VERSION`]).
///
/// Counting, precisely (the JSON keeps these names):
///
/// * An **attempt** is one message the generator tries to get answered. It
///   starts when a client begins work on it: on a client without a
///   connection that is the `connect` (a persistent client's first message,
///   and every message with `--churn`), otherwise the write of the request.
/// * An attempt ends in exactly one **outcome**: a verified reply
///   (`replies_ok`) or one error of one kind (`errors`).
/// * `sent` counts the attempts that started in the measured window (after
///   the warm-up) and reached an outcome, so `sent == replies_ok +
///   errors.total` holds exactly. Attempts still in flight when the run
///   stops are not outcomes; they are reported in `abandoned`, not in `sent`.
///
/// Everything is bounded by time: each phase has a deadline (`--timeout-ms`),
/// and the run as a whole stops at `warmup + duration`, or, with
/// `--messages`, at a hard cap derived from the timeout, so a hung server
/// cannot hang the generator.
///
/// Invariant: `sent == replies_ok + errors.total`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// [`SCHEMA_VERSION`] of this document.
    pub version: u32,
    /// The server address, as given.
    pub addr: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Threads the generator used (event loops, or one blocking client
    /// each when a thread has a single persistent echo client).
    pub threads: usize,
    /// Framing spoken.
    pub framing: Framing,
    /// Protocol spoken. Reports written before this field existed were all
    /// `echo`, which is what a missing field reads as.
    #[serde(default)]
    pub protocol: Protocol,
    /// Payload bytes per message; 0 with `daytime`, which sends none.
    pub size: usize,
    /// Whether every message used its own connection (always with
    /// `daytime`).
    pub churn: bool,
    /// Messages per client asked for, or `null` for a timed run.
    pub messages_per_client: Option<u64>,
    /// Warm-up seconds, not measured.
    pub warmup_secs: f64,
    /// Seconds measured: the requested duration, or with `--messages` the
    /// time until the last client finished (or the hard cap hit).
    pub duration_secs: f64,
    /// Attempts that started in the measured window and reached an outcome.
    pub sent: u64,
    /// Attempts answered with exactly the expected reply.
    pub replies_ok: u64,
    /// Attempts in flight when the run stopped: neither ok nor error, and
    /// not in `sent`.
    pub abandoned: u64,
    /// TCP connections established by measured attempts.
    pub connections: u64,
    /// Clients that got at least one verified reply in the measured window.
    /// Below `clients` when the server made some wait the whole run (serial
    /// mode, a pool with fewer workers than clients): then `msgs_per_sec`
    /// is the rate of the few that were served, not of all.
    #[serde(default)]
    pub clients_answered: u64,
    /// Failed attempts by kind.
    pub errors: ErrorCounts,
    /// `replies_ok / duration_secs`: the throughput.
    pub msgs_per_sec: f64,
    /// `connections / duration_secs`: the headline with `--churn`, where each
    /// connection carries one message.
    pub conns_per_sec: f64,
    /// Latency of the successful attempts.
    pub latency_us: LatencySummary,
    /// Clients never served during the run: no greeting (or, for a protocol
    /// without one, no first reply) by its end. A closed-loop client that
    /// is never served sends nothing, so without this count its waiting
    /// would vanish from every other figure.
    #[serde(default)]
    pub clients_unanswered: u64,
    /// Each client's wait for service, in microseconds: from the start of
    /// its connect to the first byte of service (the whole greeting, or the
    /// first reply when there is no greeting). A client never served counts
    /// as waiting until the run's end. With `--churn`, one sample per
    /// connection.
    #[serde(default)]
    pub wait_us: LatencySummary,
    /// Requests still unanswered when the run ended (a client never served,
    /// or stuck): counted here whatever `--timeout-ms` says.
    #[serde(default)]
    pub unanswered: u64,
    /// `--rate`: the open-loop request rate asked for (all clients
    /// together), or `null` for a closed loop.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Who was served when, one entry per client, when the run was asked to
    /// record it (`compare --timeline`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<ClientTimeline>,
}

/// One client's life in a run, for timelines: each of its connections,
/// from connect to service to close. Times are seconds from the start of
/// the run (the warm-up included).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientTimeline {
    /// The client's number, from 0.
    pub client: usize,
    /// Its connections, in order (one for a persistent client).
    pub connections: Vec<ConnectionSpan>,
}

/// One connection of a [`ClientTimeline`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSpan {
    /// When the client started to connect.
    pub connect_s: f64,
    /// When service began (greeting or first reply received), or `null` if
    /// it never did: the client waited from `connect_s` to `end_s`.
    pub served_s: Option<f64>,
    /// When the connection closed, or the run ended.
    pub end_s: f64,
}
