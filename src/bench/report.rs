//! The result of a run, as data: what the renderers show and what scripts
//! read back from the JSON.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::flags::Protocol;
use super::tally::{ErrorCounts, NeverAnswered};
use crate::Framing;

/// Version of the JSON schema of [`BenchReport`]. It changes only when a
/// field is removed or changes meaning, so scripts can check it.
pub const SCHEMA_VERSION: u32 = 1;

/// A distribution of times, in microseconds, from an HDR histogram merged
/// over all generator threads (3 significant digits): percentiles, because
/// a mean hides the slow replies that decide between modes. Used for
/// [`BenchReport::latency_us`] and [`BenchReport::wait_us`].
///
/// As `latency_us`, in a closed loop (no `--rate`), it is the latency of
/// successful attempts: without `--churn` the time from the start of the
/// request write to the last byte of the reply; with `--churn` the whole
/// cycle, from `connect` to the last byte of the reply, since set-up is
/// what churn measures; with `daytime`, from `connect` to the server's
/// close. Under `--rate` (open loop) every latency runs from the time the
/// request was due, not from its write (wrk2's correction for coordinated
/// omission), and the requests still unanswered at the end of the run are
/// samples too, with their latency so far. All zero without samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded times. For `latency_us`: `replies_ok` in a
    /// closed loop, `replies_ok + unanswered` under `--rate`.
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
///   stops are not outcomes: they are `unanswered` (whatever `--timeout-ms`
///   says), not in `sent`.
/// * A **client** is served when its greeting arrives (or, for an exchange
///   without one, its first reply); `wait_us` is how long each waited for
///   that. Every client is exactly one of `clients_answered` (a verified
///   reply) and `clients_unanswered` (none: never served, or greeted and
///   never answered), so `clients_answered + clients_unanswered ==
///   clients`. A closed-loop client that is never served sends nothing,
///   so without these its waiting would vanish from every other figure.
///
/// Everything is bounded by time: each phase has a deadline (`--timeout-ms`),
/// and the run as a whole stops at `warmup + duration`, or, with
/// `--messages`, at a hard cap derived from the timeout, so a hung server
/// cannot hang the generator.
///
/// Invariants: `sent == replies_ok + errors.total`, and
/// `clients_answered + clients_unanswered == clients ==
/// clients_answered + never_answered.total()`.
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
    /// Payload bytes per message; 0 with `daytime`, which sends none; with
    /// `--request`, the bytes of the first client's first request.
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
    /// Measured attempts begun (connect or request write) and still in
    /// flight when the run stopped: neither ok nor error, and not in `sent`.
    /// Kept for scripts written before `unanswered`, which counts each of
    /// them too (and under `--rate` also the requests due and never sent).
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
    /// Clients that got no verified reply in the measured window: never
    /// served (no greeting, or for a protocol without one no first reply),
    /// or greeted and never answered; `clients - clients_answered`, by
    /// cause in `never_answered`. A closed-loop client that is never served
    /// sends nothing, so without this count its waiting would vanish from
    /// every other figure.
    #[serde(default)]
    pub clients_unanswered: u64,
    /// Each client's wait for service, in microseconds: from the start of
    /// its connect to the first byte of service (the whole greeting, or the
    /// first reply when there is no greeting). A client never served counts
    /// as waiting until the run's end. A wait runs across failed connects
    /// and retries, and a client whose connection is lost waits anew from
    /// its next connect. With `--churn`, one sample per connection. A wait
    /// that ended in the warm-up is not counted (one still running when the
    /// warm-up ends is, from its start).
    #[serde(default)]
    pub wait_us: LatencySummary,
    /// Each answered request's wait for a worker or a loop, in
    /// microseconds: from its send to the start of its handler call, as
    /// the server logged it. Only `compare`'s in-process servers log it;
    /// `null` for any other server (the client cannot tell queueing from
    /// service; the timeline then shows requests as outstanding).
    #[serde(default)]
    pub queue_us: Option<LatencySummary>,
    /// Requests still unanswered when the run ended (a client never served,
    /// or stuck): counted here whatever `--timeout-ms` says. In a closed
    /// loop, the measured attempts in flight (as `abandoned`); under
    /// `--rate`, also every measured request that was due and never sent,
    /// each a latency sample.
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
    /// The clients that got no verified reply (`clients -
    /// clients_answered`), by the likely cause: what `bench` names when it
    /// fails such a run.
    #[serde(default)]
    pub never_answered: NeverAnswered,
    /// `--repeat N` (N > 1): the same measurement was run N times; this
    /// report is the run with the median throughput, and this is the
    /// spread of the headline figures over all N (absent for one run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Spread>,
    /// `--greeting`, `--request` and `--expect` as given, when any was:
    /// the exchange was not the echo protocol's. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeTexts>,
}

impl Default for BenchReport {
    /// An empty report (no clients, nothing measured), so code that builds
    /// reports (tests, tools) can name only the fields it sets and keep
    /// compiling when fields are added.
    fn default() -> Self {
        BenchReport {
            version: SCHEMA_VERSION,
            addr: String::new(),
            clients: 0,
            threads: 0,
            framing: Framing::Raw,
            protocol: Protocol::Echo,
            size: 0,
            churn: false,
            messages_per_client: None,
            warmup_secs: 0.0,
            duration_secs: 0.0,
            sent: 0,
            replies_ok: 0,
            abandoned: 0,
            connections: 0,
            clients_answered: 0,
            errors: ErrorCounts::default(),
            msgs_per_sec: 0.0,
            conns_per_sec: 0.0,
            latency_us: LatencySummary::default(),
            clients_unanswered: 0,
            wait_us: LatencySummary::default(),
            queue_us: None,
            unanswered: 0,
            rate: None,
            timeline: Vec::new(),
            never_answered: NeverAnswered::default(),
            repeat: None,
            exchange: None,
        }
    }
}

/// The exchange of a run that did not speak the echo protocol, as the flags
/// gave it (`null` for a flag not given, which kept the echo default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeTexts {
    /// `--greeting`: the text, or `none`.
    pub greeting: Option<String>,
    /// `--request`, placeholders and escapes unexpanded.
    pub request: Option<String>,
    /// `--expect`: the text, or `any`.
    pub expect: Option<String>,
}

/// One client's life in a run, for timelines: each of its connections,
/// from connect to service to close. Times are seconds from the start of
/// the run (the warm-up included). A client keeps at most its first 10,000
/// connections, and fewer when there are more than 100 clients (1,000,000
/// in all, shared): `--churn` makes one per message, and a timeline that
/// long is drawn the same.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientTimeline {
    /// The client's number, from 0.
    pub client: usize,
    /// Its connections, in order (one for a persistent client).
    pub connections: Vec<ConnectionSpan>,
}

/// The headline figures over the runs of `--repeat N`: each as its
/// minimum, median and maximum, so one lucky or unlucky run on a busy
/// machine is seen for what it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// How many runs.
    pub runs: usize,
    /// Throughput, messages (or, with `--churn`, connections) per second.
    pub msgs_per_sec: MinMedianMax,
    /// p99 latency of the answered requests, µs.
    pub latency_p99_us: MinMedianMax,
    /// p99 wait for service, µs.
    pub wait_p99_us: MinMedianMax,
    /// p99 wait for a worker or a loop, µs, when the server logged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_p99_us: Option<MinMedianMax>,
    /// Clients answered.
    pub clients_answered: MinMedianMax,
}

/// One figure over several runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MinMedianMax {
    /// The smallest.
    pub min: f64,
    /// The middle one (of an even count, the mean of the two middle ones).
    pub median: f64,
    /// The largest.
    pub max: f64,
}

impl MinMedianMax {
    /// The spread of `values`; all zero when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> MinMedianMax {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return MinMedianMax::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        MinMedianMax {
            min: v[0],
            median,
            max: v[n - 1],
        }
    }
}

/// One connection of a [`ClientTimeline`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSpan {
    /// When the client started to connect.
    pub connect_s: f64,
    /// When service began (greeting or first reply received), or `null` if
    /// it never did: the client waited from `connect_s` to `end_s`.
    pub served_s: Option<f64>,
    /// When the connection closed, or the run ended.
    pub end_s: f64,
    /// Each answered request on it, in order (absent in JSON when none
    /// was recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestSpan>,
}

/// One answered request of a [`ConnectionSpan`]: how long it was
/// outstanding, and (for a server in the same process, as `compare`'s)
/// how much of that it waited for a worker or a loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestSpan {
    /// When it was sent (under `--rate`, when it was due).
    pub sent_s: f64,
    /// When the server began its handler call: before that the request
    /// waited in a queue (for a worker, behind a busy loop). `null` when
    /// only the client's view exists (a server in another process): the
    /// request was outstanding, served or queued unknown.
    pub handled_s: Option<f64>,
    /// When its verified reply arrived.
    pub answered_s: f64,
}
