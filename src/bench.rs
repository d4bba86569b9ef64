//! `tcpmodes bench`: a load generator for the echo protocol (and, with
//! `--protocol daytime`, for servers that send one line and close).
//!
//! A benchmark is only worth something if the generator is not the
//! bottleneck, so this one does not spend a thread per client: a few
//! event-loop threads (mio, non-blocking sockets) each drive many clients,
//! and every client is a small state machine
//! (connect → read greeting → write request → read reply → …). That is the
//! same idea the framework teaches on the server side, used here to put
//! pressure on a server from thousands of sockets at once.
//!
//! A thread left with a single persistent echo client (the default up to 64
//! clients, one thread each) has no use for an event loop: waiting on one
//! socket through epoll costs a syscall and a wake-up per message. Such a
//! thread runs its client on blocking sockets instead, with the same
//! checks, deadlines and counting (`Dedicated` in the source).
//!
//! Every reply is checked byte for byte: the generator knows the exact bytes
//! of the greeting and of the reply to its payload, so it compares each read
//! with what must come next and never needs to parse or buffer replies.
//!
//! With `--protocol daytime` (RFC 867) there is no request and the reply is
//! not known in advance (it is the server's clock), so each attempt is
//! connect → read until the server closes, and the bytes are checked as they
//! come against the *shape* of the answer: one non-empty line of printable
//! ASCII ending in `\n` (or `\r\n`), at most [`MAX_DAYTIME_LINE`] bytes.
//! Every attempt is a new connection, so daytime always runs as `--churn`.
//!
//! Counting, precisely (the JSON keeps these names):
//!
//! * An **attempt** is one message the generator tries to get answered. It
//!   starts when a client begins work on it: on a client without a
//!   connection that is the `connect` (a persistent client's first message,
//!   and every message with `--churn`), otherwise the write of the request.
//! * An attempt ends in exactly one **outcome**: a verified reply
//!   (`replies_ok`) or one error of one kind (`errors`).
//! * `sent` counts the attempts that started in the measured window (after
//!   the warm-up) and reached an outcome, so `sent == replies_ok +
//!   errors.total` holds exactly. Attempts still in flight when the run
//!   stops are not outcomes; they are reported in `abandoned`, not in `sent`.
//!
//! Everything is bounded by time: each phase has a deadline (`--timeout-ms`),
//! and the run as a whole stops at `warmup + duration`, or, with
//! `--messages`, at a hard cap derived from the timeout, so a hung server
//! cannot hang the generator.

use std::fmt;
use std::io::{self, IsTerminal, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Default cap on event-loop threads. With the server on the same small
/// machine, an event loop that drives many clients never sleeps, and every
/// request it writes must wake a server thread on the other core: measured
/// on 2 cores at 64 clients, 2 loops reached about half the msgs/s of a
/// blocking thread-per-client load, 64 loops matched it. A loop per client
/// (up to this cap) behaves like the blocking client where that matters;
/// past it each loop drives several clients, so 2,000 clients still take
/// only 64 threads. `--threads` overrides it.
pub const DEFAULT_MAX_THREADS: usize = 64;

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde::{Deserialize, Serialize};

use crate::Framing;
use crate::report::{self, OutputFormat};

/// Version of the JSON schema of [`BenchReport`]. It changes only when a
/// field is removed or changes meaning, so scripts can check it.
pub const SCHEMA_VERSION: u32 = 1;

/// With `raw` framing the server reads at most this many bytes as one
/// message, so a larger payload would be cut into several messages.
pub const MAX_RAW_PAYLOAD: usize = 1024;

/// Largest payload accepted at all: a bench of huge messages measures the
/// copy, not the server, and every client holds its request in memory.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// How often each event loop looks for expired deadlines and due
/// reconnects. Scanning every client on every wake-up would cost more than
/// the I/O with thousands of clients; a few milliseconds of timer slack is
/// nothing next to a timeout of seconds.
const SCAN_INTERVAL: Duration = Duration::from_millis(5);

/// First and largest pause before a client reconnects after an error, so a
/// dead server is retried, counted, but not hammered in a spin.
const BACKOFF_MIN: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// Longest daytime answer accepted, line end included. RFC 867 sets no
/// limit, but a date is a few dozen bytes; a server that sends more is not
/// sending a date, and the bound keeps a runaway stream from being read
/// until the timeout.
pub const MAX_DAYTIME_LINE: usize = 512;

/// `--size` default, named so `--protocol daytime` can tell a payload size
/// asked for (which it cannot honour) from the default.
pub const DEFAULT_SIZE: usize = 64;

/// Largest latency the histogram holds (one hour, in µs); larger values are
/// clamped. A timeout ends every attempt long before.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// Command-line flags of `tcpmodes bench`, also the input of
/// [`run_bench`] for programmatic runs (`compare`, tests): build it with
/// [`BenchArgs::new`] and change the fields you need.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct BenchArgs {
    /// Server to load, as HOST:PORT.
    #[arg(long)]
    pub addr: String,

    /// Concurrent clients, each with its own connection (or, with --churn,
    /// its own stream of short connections).
    #[arg(long, default_value_t = 1)]
    pub clients: usize,

    /// Measured seconds (after the warm-up). Default 5 when --messages is
    /// not given.
    #[arg(long, conflicts_with = "messages")]
    pub duration: Option<f64>,

    /// Messages per client instead of a duration; the run ends when every
    /// client is done (or at a hard cap if the server stops answering).
    #[arg(long)]
    pub messages: Option<u64>,

    /// Payload bytes per message (at most 1024 with raw framing). Not used
    /// by --protocol daytime, which sends nothing.
    #[arg(long, default_value_t = DEFAULT_SIZE)]
    pub size: usize,

    /// Framing the server speaks; must match its --framing. Daytime
    /// answers are read as raw bytes, so only raw goes with it.
    #[arg(long, value_parser = crate::names::value_parser::<Framing>(), default_value = "raw")]
    pub framing: Framing,

    /// What the server speaks. Daytime implies --churn, since each answer
    /// costs a connection; giving it --size or a --framing other than raw is
    /// an error, since it sends no payload and reads raw bytes.
    #[arg(long, value_enum, default_value_t = Protocol::Echo)]
    pub protocol: Protocol,

    /// Every message on a new connection (connect, greeting, one request,
    /// close): measures accept and set-up cost, reported as connections/s.
    #[arg(long)]
    pub churn: bool,

    /// Seconds of load before measuring, to let caches, pools and the
    /// kernel settle. Nothing done in the warm-up is counted.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Exit 0 even when errors occurred (they are still reported).
    #[arg(long)]
    pub allow_errors: bool,

    /// Deadline, in milliseconds, for each phase of an attempt: connect plus
    /// greeting, and request plus reply. Missing it counts as a timeout.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,

    /// Event-loop threads of the generator (default: one per client up to
    /// 64, see `DEFAULT_MAX_THREADS`). Never more than --clients. A thread
    /// with a single persistent echo client runs it on blocking sockets.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Never draw the progress line, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

impl BenchArgs {
    /// The defaults of the command line, for `addr`: one client, 5 seconds,
    /// 64 bytes, raw framing, echo protocol, table output.
    pub fn new(addr: impl Into<String>) -> Self {
        BenchArgs {
            addr: addr.into(),
            clients: 1,
            duration: None,
            messages: None,
            size: DEFAULT_SIZE,
            framing: Framing::Raw,
            protocol: Protocol::Echo,
            churn: false,
            warmup: 0.0,
            format: OutputFormat::Table,
            allow_errors: false,
            timeout_ms: 5000,
            threads: None,
            no_progress: false,
        }
    }
}

/// The protocol the generator speaks, and so what counts as a right
/// answer. Chosen by `--protocol`; recorded in the report so a result
/// cannot be mistaken for the other kind of workload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The lesson's protocol: `Welcome!`, then `Received <msg>;` for each
    /// message, checked byte for byte. Measures message handling.
    #[default]
    Echo,
    /// RFC 867: the server sends one line (the time) and closes; the client
    /// sends nothing. Measures accept, set-up and close: pure churn.
    Daytime,
}

impl Protocol {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Echo => "echo",
            Protocol::Daytime => "daytime",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a bench could not run at all (as opposed to errors *during* a run,
/// which are counted in the report).
#[derive(Debug)]
pub enum BenchError {
    /// A flag is out of range or flags contradict each other.
    InvalidArgs(String),
    /// `--addr` did not resolve to any address.
    Resolve {
        /// The address as given.
        addr: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// Not a single connection could be made before the run, so there is
    /// nothing to measure (the server is not up, or the port is wrong).
    Connect {
        /// The address tried last.
        addr: SocketAddr,
        /// The error of that try.
        source: io::Error,
    },
    /// The generator itself failed (creating a poller or a thread).
    Io(io::Error),
}

impl BenchError {
    /// Whether the user can fix this by changing the command line or
    /// starting the server: `main_bench` exits 2 for those, 1 otherwise.
    pub fn is_usage(&self) -> bool {
        !matches!(self, BenchError::Io(_))
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::InvalidArgs(msg) => write!(f, "invalid arguments: {msg}"),
            BenchError::Resolve { addr, source } => {
                write!(f, "cannot resolve --addr {addr}: {source}")
            }
            BenchError::Connect { addr, source } => {
                write!(
                    f,
                    "cannot connect to {addr}: {source} (is the server running?)"
                )
            }
            BenchError::Io(e) => write!(f, "load generator failed: {e}"),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::InvalidArgs(_) => None,
            BenchError::Resolve { source, .. } | BenchError::Connect { source, .. } => Some(source),
            BenchError::Io(e) => Some(e),
        }
    }
}

/// Errors of a run, by kind. Each failed attempt counts in exactly one kind,
/// and `total` is their sum.
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
    /// were longer than [`MAX_DAYTIME_LINE`].
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

/// Latency of successful attempts, in microseconds, from an HDR histogram
/// merged over all generator threads (3 significant digits).
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
    fn from_histogram(h: &Histogram<u64>) -> Self {
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
/// documented interface for scripts (see [`SCHEMA_VERSION`] and the module
/// docs for the exact meaning of the counters).
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
}

/// How one attempt failed; one variant per [`ErrorCounts`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Refused,
    Reset,
    Timeout,
    WrongReply,
    ClosedEarly,
    Other,
}

impl Failure {
    fn of(e: &io::Error) -> Failure {
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

/// The validated, resolved form of [`BenchArgs`], shared read-only by the
/// event-loop threads.
struct Plan {
    addr: SocketAddr,
    clients: usize,
    protocol: Protocol,
    churn: bool,
    messages: Option<u64>,
    timeout: Duration,
    /// Exact bytes of the request, the greeting and the reply, framed.
    request: Vec<u8>,
    greeting: Vec<u8>,
    reply: Vec<u8>,
    /// Attempts starting before this are warm-up.
    measure_start: Instant,
    /// Every thread stops here, whatever is in flight.
    end: Instant,
}

/// Counters shared with the progress line; threads add to them every
/// [`SCAN_INTERVAL`], not per message, so they are never contended.
#[derive(Default)]
struct Progress {
    ok: AtomicU64,
    errors: AtomicU64,
}

/// The printable payload: `abcd…z` repeated. It starts with `a`, so it is
/// never `exit`, and contains no `\n` or `\r`.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

fn framed(framing: Framing, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 4);
    framing.encode(message, &mut out);
    out
}

fn secs(value: f64, flag: &str) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        BenchError::InvalidArgs(format!(
            "{flag} must be a number of seconds ≥ 0, not {value}"
        ))
    })
}

fn far_future(from: Instant, d: Duration) -> Instant {
    // Instant + a huge Duration panics on overflow; a year is "never" here.
    from.checked_add(d)
        .unwrap_or_else(|| from + Duration::from_secs(365 * 24 * 3600))
}

fn check_args(args: &BenchArgs) -> Result<(), BenchError> {
    let bad = |msg: String| Err(BenchError::InvalidArgs(msg));
    if args.clients == 0 {
        return bad("--clients must be at least 1".into());
    }
    if args.protocol == Protocol::Daytime {
        // Values, not flags, are checked: `--size 64` asks for nothing the
        // default does not, so only a size or framing that would change
        // the run, and cannot, is refused.
        if args.size != DEFAULT_SIZE {
            return bad(format!(
                "--size {} does not apply to --protocol daytime, which sends no payload",
                args.size
            ));
        }
        if args.framing != Framing::Raw {
            return bad(format!(
                "--framing {} does not apply to --protocol daytime, which reads the \
                 answer as raw bytes",
                args.framing
            ));
        }
    }
    if !matches!(args.framing, Framing::Raw | Framing::Line | Framing::Length) {
        return bad(format!(
            "--framing {} does not carry the echo protocol; use raw, line or length",
            args.framing
        ));
    }
    if args.size == 0 {
        return bad("--size must be at least 1 byte".into());
    }
    if args.framing == Framing::Raw && args.size > MAX_RAW_PAYLOAD {
        return bad(format!(
            "--size {} is over {MAX_RAW_PAYLOAD} bytes, the most one raw message can hold \
             (the server reads 1024 bytes as one message); use --framing line or length",
            args.size
        ));
    }
    if args.size > MAX_PAYLOAD {
        return bad(format!("--size must be at most {MAX_PAYLOAD} bytes"));
    }
    if args.messages == Some(0) {
        return bad("--messages must be at least 1".into());
    }
    if args.duration.is_some() && args.messages.is_some() {
        return bad("give --duration or --messages, not both".into());
    }
    if let Some(d) = args.duration {
        if d.is_nan() || d <= 0.0 {
            return bad(format!("--duration must be more than 0 seconds, not {d}"));
        }
        secs(d, "--duration")?;
    }
    secs(args.warmup, "--warmup")?;
    if args.timeout_ms == 0 {
        return bad("--timeout-ms must be at least 1".into());
    }
    if args.threads == Some(0) {
        return bad("--threads must be at least 1".into());
    }
    Ok(())
}

/// Resolves `--addr` and makes one blocking connection, so that "the
/// server is not there" is one clear error before the run instead of a
/// report full of refusals.
fn preflight(addr: &str, timeout: Duration) -> Result<SocketAddr, BenchError> {
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

/// Runs one benchmark as `args` says and returns its report.
///
/// Errors during the run (refused, reset, timeouts, wrong replies, …) are
/// counted in the report, not returned: a server that misbehaves under load
/// is a result. `Err` means nothing could be measured: bad arguments, an
/// address that does not resolve, or no connection possible at all.
pub fn run_bench(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    check_args(args)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let addr = preflight(&args.addr, timeout)?;

    // Thousands of sockets need thousands of descriptors; the soft limit is
    // often 1024. Raising it to the hard limit is harmless if it fails: the
    // run then counts EMFILE as `other` errors.
    let _ = rlimit::increase_nofile_limit(u64::MAX);

    let threads = args
        .threads
        .unwrap_or(DEFAULT_MAX_THREADS)
        .clamp(1, args.clients);
    let warmup = secs(args.warmup, "--warmup")?;
    let start = Instant::now();
    let measure_start = start + warmup;
    let end = match args.messages {
        None => {
            let d = secs(args.duration.unwrap_or(5.0), "--duration")?;
            far_future(measure_start, d)
        }
        // Each attempt ends within two deadlines (connect + greeting,
        // request + reply) plus a backoff; so a client can always finish its
        // messages by then, and a server that hangs cannot hang us.
        Some(m) => {
            let per_attempt = timeout.saturating_mul(2).saturating_add(BACKOFF_MAX);
            let cap = per_attempt
                .saturating_mul(u32::try_from(m).unwrap_or(u32::MAX))
                .saturating_add(Duration::from_secs(1));
            far_future(measure_start, cap)
        }
    };
    let p = payload(args.size);
    let mut expected_reply = Vec::with_capacity(p.len() + 10);
    expected_reply.extend_from_slice(b"Received ");
    expected_reply.extend_from_slice(&p);
    expected_reply.push(b';');
    let daytime = args.protocol == Protocol::Daytime;
    let plan = Plan {
        addr,
        clients: args.clients,
        protocol: args.protocol,
        // A daytime server closes after each answer: every attempt is a
        // new connection whatever the flag says.
        churn: args.churn || daytime,
        messages: args.messages,
        timeout,
        request: framed(args.framing, &p),
        greeting: framed(args.framing, b"Welcome!"),
        reply: framed(args.framing, &expected_reply),
        measure_start,
        end,
    };

    let progress = Progress::default();
    let bar = progress_bar(args, &plan);
    let tallies = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let plan = &plan;
                let progress = &progress;
                let n = plan.clients / threads + usize::from(t < plan.clients % threads);
                thread::Builder::new()
                    .name(format!("bench-{t}"))
                    .spawn_scoped(s, move || {
                        if dedicated(n, plan.churn, plan.protocol) {
                            Dedicated::new(plan, progress)?.run()
                        } else {
                            Worker::new(plan, progress, n)?.run()
                        }
                    })
            })
            .collect::<Result<_, _>>()
            .map_err(BenchError::Io)?;
        if let Some(bar) = &bar {
            while !handles
                .iter()
                .all(|h: &thread::ScopedJoinHandle<'_, _>| h.is_finished())
            {
                update_bar(bar, &plan, &progress);
                thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        }
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r.map_err(BenchError::Io),
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect::<Result<Vec<Tally>, BenchError>>()
    })?;

    let mut total = Tally::new().map_err(BenchError::Io)?;
    for t in &tallies {
        total.merge(t);
    }
    let duration = match args.messages {
        None => plan.end.saturating_duration_since(plan.measure_start),
        Some(_) => total
            .finished_at
            .unwrap_or(plan.end)
            .min(plan.end)
            .saturating_duration_since(plan.measure_start),
    };
    let duration_secs = duration.as_secs_f64();
    let rate = |n: u64| {
        if duration_secs > 0.0 {
            n as f64 / duration_secs
        } else {
            0.0
        }
    };
    Ok(BenchReport {
        version: SCHEMA_VERSION,
        addr: args.addr.clone(),
        clients: args.clients,
        threads,
        framing: args.framing,
        protocol: args.protocol,
        size: if daytime { 0 } else { args.size },
        churn: plan.churn,
        messages_per_client: args.messages,
        warmup_secs: warmup.as_secs_f64(),
        duration_secs,
        sent: total.ok + total.errors.total,
        replies_ok: total.ok,
        abandoned: total.abandoned,
        connections: total.connections,
        clients_answered: total.clients_answered,
        errors: total.errors,
        msgs_per_sec: rate(total.ok),
        conns_per_sec: rate(total.connections),
        latency_us: LatencySummary::from_histogram(&total.latency),
    })
}

/// Runs [`run_bench`] and prints the report to stdout in `--format`, as the
/// `tcpmodes bench` command does.
///
/// Exit status: 0 on a clean run; 1 when errors were counted (unless
/// `--allow-errors`) or the generator itself failed; 2, with one line on
/// stderr, when the arguments are wrong or the server cannot be reached at
/// all.
pub fn main_bench(args: &BenchArgs) -> ExitCode {
    match run_bench(args) {
        Ok(r) => {
            print!("{}", report::render(&r, args.format));
            if r.errors.total > 0 && !args.allow_errors {
                eprintln!(
                    "bench: {} of {} messages failed ({}); pass --allow-errors to exit 0 anyway",
                    r.errors.total,
                    r.sent,
                    report::error_breakdown(&r.errors)
                );
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

fn progress_bar(args: &BenchArgs, plan: &Plan) -> Option<indicatif::ProgressBar> {
    if args.no_progress || !io::stderr().is_terminal() {
        return None;
    }
    let (len, template) = match plan.messages {
        Some(m) => (
            m.saturating_mul(plan.clients as u64),
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} messages  {msg}",
        ),
        None => (
            plan.end
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
            "{spinner} {elapsed_precise} [{bar:30}] {msg}",
        ),
    };
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr_with_hz(10),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

fn update_bar(bar: &indicatif::ProgressBar, plan: &Plan, progress: &Progress) {
    let ok = progress.ok.load(Ordering::Relaxed);
    let errors = progress.errors.load(Ordering::Relaxed);
    let now = Instant::now();
    let phase = if now < plan.measure_start {
        "warm-up, "
    } else {
        ""
    };
    bar.set_message(format!("{phase}{ok} ok, {errors} errors"));
    match plan.messages {
        Some(_) => bar.set_position(ok + errors),
        None => {
            let total = bar.length().unwrap_or(0);
            let left = plan.end.saturating_duration_since(now).as_millis() as u64;
            bar.set_position(total.saturating_sub(left));
        }
    }
}

/// What one event-loop thread measured; merged into the report.
struct Tally {
    ok: u64,
    errors: ErrorCounts,
    abandoned: u64,
    connections: u64,
    /// Clients with at least one measured verified reply.
    clients_answered: u64,
    latency: Histogram<u64>,
    /// When this thread's last client finished its `--messages`.
    finished_at: Option<Instant>,
}

impl Tally {
    fn new() -> io::Result<Tally> {
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

    /// A measured attempt got its verified reply at `now`; its latency runs
    /// from `since` (request write, or connect with `--churn`).
    fn record_ok(&mut self, since: Instant, now: Instant) {
        let us = now.saturating_duration_since(since).as_micros();
        self.latency
            .saturating_record(u64::try_from(us).unwrap_or(u64::MAX).max(1));
        self.ok += 1;
    }

    fn merge(&mut self, other: &Tally) {
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

/// Where a client is in its attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting out a pause after an error; reconnects at `deadline`.
    Backoff,
    /// Non-blocking connect in progress.
    Connecting,
    /// Connected, reading the greeting.
    Greeting,
    /// Writing the request (more than one write if the socket buffer fills).
    Writing,
    /// Daytime: connected, reading the line until the server closes.
    Line,
    /// Request written, reading the reply.
    Reply,
    /// No more attempts (its `--messages` are done).
    Done,
}

/// One simulated client: at most one connection and one attempt at a time.
struct Client {
    state: State,
    stream: Option<TcpStream>,
    /// Bytes of the current request written, or of the expected greeting or
    /// reply received.
    pos: usize,
    /// Daytime: what has been seen of the line so far.
    line: LineCheck,
    /// End of the current phase, or of the backoff.
    deadline: Instant,
    attempt_start: Instant,
    request_start: Instant,
    /// An attempt is open (started, no outcome yet).
    in_attempt: bool,
    /// The open attempt started after the warm-up.
    measured: bool,
    /// The current request did not fit in one write; then the reply may
    /// already be waiting when the write ends, so read right away.
    write_blocked: bool,
    /// Measured attempts left with `--messages`.
    remaining: u64,
    /// Errors in a row, for the backoff.
    failures: u32,
    /// A measured attempt of this client succeeded (see
    /// [`BenchReport::clients_answered`]).
    answered: bool,
}

/// Incremental check of a daytime answer: one non-empty line of printable
/// ASCII (tabs allowed), ended by `\n` or `\r\n`, then the close. The
/// bytes are never kept, only where the line is, so a client needs no
/// buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LineCheck {
    /// Bytes received, line end included.
    len: usize,
    /// Printable bytes before the line end.
    text: usize,
    /// The last byte was a `\r`, which only a `\n` may follow.
    cr: bool,
    /// The `\n` arrived: nothing more may come but the close.
    ended: bool,
}

impl LineCheck {
    /// Takes the next bytes of the answer; `Err` at the first one that
    /// cannot belong to a right answer.
    fn push(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        for &b in bytes {
            self.len += 1;
            if self.ended || self.len > MAX_DAYTIME_LINE {
                return Err(Failure::WrongReply);
            }
            match b {
                b'\n' if self.text > 0 => self.ended = true,
                _ if self.cr => return Err(Failure::WrongReply),
                b'\r' if self.text > 0 => self.cr = true,
                b' '..=b'~' | b'\t' => self.text += 1,
                _ => return Err(Failure::WrongReply),
            }
        }
        Ok(())
    }

    /// The server closed: `Ok` when a whole line came, `ClosedEarly` when
    /// nothing did, `WrongReply` for a line cut short.
    fn finish(&self) -> Result<(), Failure> {
        if self.ended {
            Ok(())
        } else if self.len == 0 {
            Err(Failure::ClosedEarly)
        } else {
            Err(Failure::WrongReply)
        }
    }
}

/// What to do after one step of a client's state machine.
enum Step {
    /// The state changed and the new state can make progress now.
    Continue,
    /// Nothing more until the next event or deadline.
    Wait,
}

/// Result of reading towards an expected byte string.
enum ReadOutcome {
    Complete,
    Pending,
    Failed(Failure),
}

/// Takes the bytes `got` just read towards `expected`, of which `*pos`
/// bytes have already arrived: any difference, or a byte past the end, is a
/// wrong reply. Both client paths check replies with it, so they agree on
/// what a right reply is.
fn match_expected(expected: &[u8], pos: &mut usize, got: &[u8]) -> ReadOutcome {
    let want = &expected[*pos..];
    if got.len() > want.len() || *got != want[..got.len()] {
        return ReadOutcome::Failed(Failure::WrongReply);
    }
    *pos += got.len();
    if *pos == expected.len() {
        ReadOutcome::Complete
    } else {
        ReadOutcome::Pending
    }
}

/// Pause before the next attempt after `failures` errors in a row (at least
/// one): doubling from [`BACKOFF_MIN`] up to [`BACKOFF_MAX`].
fn backoff(failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(10);
    BACKOFF_MIN.saturating_mul(1 << shift).min(BACKOFF_MAX)
}

/// What a thread has already added to [`Progress`], so each flush adds only
/// what is new.
#[derive(Default)]
struct Flushed {
    ok: u64,
    errors: u64,
}

impl Flushed {
    fn flush(&mut self, tally: &Tally, progress: &Progress) {
        let errors = tally.errors.total;
        progress.ok.fetch_add(tally.ok - self.ok, Ordering::Relaxed);
        progress
            .errors
            .fetch_add(errors - self.errors, Ordering::Relaxed);
        self.ok = tally.ok;
        self.errors = errors;
    }
}

/// One event-loop thread and its clients; `Token(i)` is client `i`.
struct Worker<'a> {
    plan: &'a Plan,
    progress: &'a Progress,
    poll: Poll,
    clients: Vec<Client>,
    /// Clients not yet `Done`.
    active: usize,
    /// Every read lands here and is compared with the expected bytes, so
    /// clients need no read buffers of their own.
    scratch: Vec<u8>,
    tally: Tally,
    flushed: Flushed,
    /// Clients whose reply just arrived on a kept connection: their next
    /// requests are written after the whole batch of events is read, right
    /// before the thread sleeps. Writing each at once kept the thread busy
    /// while the server threads it woke waited for a CPU, which on a small
    /// machine shared with the server cost half the throughput (remote
    /// wake-ups); this way the thread sleeps after its writes, like a
    /// blocking client does, and the woken threads can run.
    deferred: Vec<usize>,
}

impl<'a> Worker<'a> {
    fn new(plan: &'a Plan, progress: &'a Progress, n: usize) -> io::Result<Self> {
        let now = Instant::now();
        let client = Client {
            state: State::Backoff,
            stream: None,
            pos: 0,
            line: LineCheck::default(),
            deadline: now,
            attempt_start: now,
            request_start: now,
            in_attempt: false,
            measured: false,
            write_blocked: false,
            remaining: plan.messages.unwrap_or(u64::MAX),
            failures: 0,
            answered: false,
        };
        let clients = (0..n)
            .map(|_| Client {
                stream: None,
                ..client
            })
            .collect();
        Ok(Worker {
            plan,
            progress,
            poll: Poll::new()?,
            clients,
            active: n,
            scratch: vec![0; 64 * 1024],
            tally: Tally::new()?,
            flushed: Flushed::default(),
            deferred: Vec::new(),
        })
    }

    fn run(mut self) -> io::Result<Tally> {
        let mut events = Events::with_capacity(1024);
        let now = Instant::now();
        for i in 0..self.clients.len() {
            self.start_attempt(i, now);
            self.drive(i, now);
        }
        let mut next_scan = now + SCAN_INTERVAL;
        loop {
            let now = Instant::now();
            if self.active == 0 || now >= self.plan.end {
                break;
            }
            if now >= next_scan {
                self.scan(now);
                self.flush_progress();
                next_scan = now + SCAN_INTERVAL;
            }
            let wait = next_scan.min(self.plan.end).saturating_duration_since(now);
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if events.is_empty() {
                continue;
            }
            let now = Instant::now();
            for ev in events.iter() {
                let i = ev.token().0;
                if i < self.clients.len() {
                    self.drive(i, now);
                }
            }
            // Replies first, then all the next requests, then sleep: see
            // `deferred`.
            let deferred = std::mem::take(&mut self.deferred);
            let now = Instant::now();
            for &i in &deferred {
                self.drive(i, now);
            }
            self.deferred = deferred;
            self.deferred.clear();
        }
        // Whatever is still in flight has no outcome: abandon it.
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if c.in_attempt && c.measured {
                self.tally.abandoned += 1;
            }
            self.close(i);
        }
        self.flush_progress();
        Ok(self.tally)
    }

    /// Pushes this thread's counters to the progress line.
    fn flush_progress(&mut self) {
        self.flushed.flush(&self.tally, self.progress);
    }

    /// Expires deadlines and restarts clients whose backoff is over.
    fn scan(&mut self, now: Instant) {
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if now < c.deadline {
                continue;
            }
            match c.state {
                State::Backoff => {
                    self.start_attempt(i, now);
                    self.drive(i, now);
                }
                State::Connecting
                | State::Greeting
                | State::Writing
                | State::Reply
                | State::Line => {
                    self.fail(i, Failure::Timeout, now);
                }
                State::Done => {}
            }
        }
    }

    /// Begins the client's next attempt (or retires it when its messages
    /// are done): connects if it has no connection, else writes a request.
    fn start_attempt(&mut self, i: usize, now: Instant) {
        let c = &mut self.clients[i];
        if c.remaining == 0 {
            self.finish(i, now);
            return;
        }
        c.in_attempt = true;
        c.measured = now >= self.plan.measure_start;
        c.attempt_start = now;
        if c.stream.is_some() {
            self.begin_request(i, now);
        } else {
            self.connect(i, now);
        }
    }

    fn connect(&mut self, i: usize, now: Instant) {
        match TcpStream::connect(self.plan.addr) {
            Ok(mut stream) => {
                if let Err(e) = self.poll.registry().register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    self.fail(i, Failure::of(&e), now);
                    return;
                }
                let c = &mut self.clients[i];
                c.stream = Some(stream);
                c.state = State::Connecting;
                c.deadline = now + self.plan.timeout;
            }
            Err(e) => self.fail(i, Failure::of(&e), now),
        }
    }

    fn begin_request(&mut self, i: usize, now: Instant) {
        let c = &mut self.clients[i];
        c.state = State::Writing;
        c.pos = 0;
        c.write_blocked = false;
        c.request_start = now;
        c.deadline = now + self.plan.timeout;
    }

    /// Advances client `i` as far as it can go without blocking.
    ///
    /// mio's events are edge-triggered, so a read state reads until the
    /// expected bytes are complete or the socket would block; stopping
    /// earlier could lose the wake-up for bytes already there.
    fn drive(&mut self, i: usize, now: Instant) {
        loop {
            let step = match self.clients[i].state {
                State::Connecting => self.step_connecting(i, now),
                State::Greeting => match self.read_expected(i, true) {
                    ReadOutcome::Complete => {
                        self.begin_request(i, now);
                        Step::Continue
                    }
                    ReadOutcome::Pending => Step::Wait,
                    ReadOutcome::Failed(f) => {
                        self.fail(i, f, now);
                        Step::Wait
                    }
                },
                State::Writing => self.step_writing(i, now),
                State::Line => match self.read_line(i) {
                    ReadOutcome::Complete => {
                        self.succeed(i, now);
                        Step::Wait
                    }
                    ReadOutcome::Pending => Step::Wait,
                    ReadOutcome::Failed(f) => {
                        self.fail(i, f, now);
                        Step::Wait
                    }
                },
                State::Reply => match self.read_expected(i, false) {
                    ReadOutcome::Complete => {
                        self.succeed(i, now);
                        // A new connection waits for its connect event; a
                        // kept one writes its next request after the batch.
                        if self.clients[i].state == State::Writing {
                            self.deferred.push(i);
                        }
                        Step::Wait
                    }
                    ReadOutcome::Pending => Step::Wait,
                    ReadOutcome::Failed(f) => {
                        self.fail(i, f, now);
                        Step::Wait
                    }
                },
                State::Backoff | State::Done => Step::Wait,
            };
            if let Step::Wait = step {
                return;
            }
        }
    }

    /// A writable (or error) event on a connecting socket: mio's recipe is
    /// `take_error`, then `peer_addr` to tell "connected" from a spurious
    /// wake-up.
    fn step_connecting(&mut self, i: usize, now: Instant) -> Step {
        let Some(stream) = self.clients[i].stream.as_ref() else {
            return Step::Wait;
        };
        match stream.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => {
                self.fail(i, Failure::of(&e), now);
                return Step::Wait;
            }
        }
        match stream.peer_addr() {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return Step::Wait,
            Err(e) => {
                self.fail(i, Failure::of(&e), now);
                return Step::Wait;
            }
        }
        // Requests go out in one write; no reason to let Nagle hold any.
        let _ = stream.set_nodelay(true);
        let c = &mut self.clients[i];
        if c.measured {
            self.tally.connections += 1;
        }
        c.state = match self.plan.protocol {
            Protocol::Echo => State::Greeting,
            Protocol::Daytime => State::Line,
        };
        c.pos = 0;
        c.line = LineCheck::default();
        Step::Continue
    }

    fn step_writing(&mut self, i: usize, now: Instant) -> Step {
        let request = &self.plan.request;
        let c = &mut self.clients[i];
        let Some(stream) = c.stream.as_mut() else {
            return Step::Wait;
        };
        loop {
            match stream.write(&request[c.pos..]) {
                Ok(0) => {
                    self.fail(i, Failure::Other, now);
                    return Step::Wait;
                }
                Ok(n) => {
                    c.pos += n;
                    if c.pos == request.len() {
                        c.state = State::Reply;
                        c.pos = 0;
                        // Normally the reply cannot be there yet and its
                        // arrival will wake us; after a blocked write it
                        // may already be waiting.
                        return if c.write_blocked {
                            Step::Continue
                        } else {
                            Step::Wait
                        };
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.write_blocked = true;
                    return Step::Wait;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(i, Failure::of(&e), now);
                    return Step::Wait;
                }
            }
        }
    }

    /// Reads towards the greeting (`greeting == true`) or the reply,
    /// comparing every byte as it comes; any difference, or a byte past the
    /// end, is a wrong reply.
    fn read_expected(&mut self, i: usize, greeting: bool) -> ReadOutcome {
        let expected = if greeting {
            &self.plan.greeting
        } else {
            &self.plan.reply
        };
        let c = &mut self.clients[i];
        let Some(stream) = c.stream.as_mut() else {
            return ReadOutcome::Failed(Failure::Other);
        };
        loop {
            match stream.read(&mut self.scratch) {
                Ok(0) => return ReadOutcome::Failed(Failure::ClosedEarly),
                Ok(n) => match match_expected(expected, &mut c.pos, &self.scratch[..n]) {
                    ReadOutcome::Pending => {}
                    done => return done,
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return ReadOutcome::Failed(Failure::of(&e)),
            }
        }
    }

    /// Daytime: reads until the server closes, checking each byte as it
    /// comes, so a wrong answer fails at its first wrong byte and an endless
    /// one at [`MAX_DAYTIME_LINE`] instead of at the timeout.
    fn read_line(&mut self, i: usize) -> ReadOutcome {
        let c = &mut self.clients[i];
        let Some(stream) = c.stream.as_mut() else {
            return ReadOutcome::Failed(Failure::Other);
        };
        loop {
            match stream.read(&mut self.scratch) {
                Ok(0) => {
                    return match c.line.finish() {
                        Ok(()) => ReadOutcome::Complete,
                        Err(f) => ReadOutcome::Failed(f),
                    };
                }
                Ok(n) => {
                    if let Err(f) = c.line.push(&self.scratch[..n]) {
                        return ReadOutcome::Failed(f);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Pending,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return ReadOutcome::Failed(Failure::of(&e)),
            }
        }
    }

    /// The reply was right: record it and start the next attempt.
    fn succeed(&mut self, i: usize, now: Instant) {
        let churn = self.plan.churn;
        let c = &mut self.clients[i];
        if c.measured {
            let since = if churn {
                c.attempt_start
            } else {
                c.request_start
            };
            self.tally.record_ok(since, now);
            c.remaining = c.remaining.saturating_sub(1);
            if !std::mem::replace(&mut c.answered, true) {
                self.tally.clients_answered += 1;
            }
        }
        c.in_attempt = false;
        c.failures = 0;
        if churn {
            // The client closes first: its side keeps the TIME_WAIT, which
            // Linux reuses for new loopback connections (tcp_tw_reuse=2).
            self.close(i);
        }
        self.start_attempt(i, now);
    }

    /// The attempt failed: count it, drop the connection, and pause before
    /// the next attempt (exponential backoff, reset by a success).
    fn fail(&mut self, i: usize, failure: Failure, now: Instant) {
        let c = &mut self.clients[i];
        if c.in_attempt && c.measured {
            self.tally.errors.add(failure);
            c.remaining = c.remaining.saturating_sub(1);
        }
        c.in_attempt = false;
        c.failures = c.failures.saturating_add(1);
        let backoff = backoff(c.failures);
        self.close(i);
        let c = &mut self.clients[i];
        if c.remaining == 0 {
            self.finish(i, now);
        } else {
            c.state = State::Backoff;
            c.deadline = now + backoff;
        }
    }

    /// This client has sent all its messages.
    fn finish(&mut self, i: usize, now: Instant) {
        self.close(i);
        let c = &mut self.clients[i];
        if c.state != State::Done {
            c.state = State::Done;
            c.in_attempt = false;
            self.active -= 1;
            self.tally.finished_at = Some(now);
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut stream) = self.clients[i].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
        }
    }
}

/// Whether a thread with `n` clients runs them on [`Dedicated`] instead of
/// an event loop: one persistent echo client alone on its thread.
fn dedicated(n: usize, churn: bool, protocol: Protocol) -> bool {
    n == 1 && !churn && protocol == Protocol::Echo
}

/// How far above the wanted bound a socket timeout already set may be and
/// still be left alone. Resetting `SO_RCVTIMEO` before every read would cost
/// the very syscall [`Dedicated`] exists to save; this is the timer slack the
/// event loop has too ([`SCAN_INTERVAL`]).
const TIMEOUT_SLACK: Duration = SCAN_INTERVAL;

/// Why an attempt of [`Dedicated`] has no verified reply.
enum Unanswered {
    /// An outcome: counted in `errors`.
    Failed(Failure),
    /// The run ended first: counted in `abandoned`.
    Abandoned,
}

/// One persistent echo client on a thread of its own, with blocking
/// sockets: the event loop's job done without the event loop.
///
/// With one connection per thread, epoll buys nothing: there is only one
/// socket to wait for, and waiting for it through `epoll_wait` costs a
/// syscall and a wake-up per message on top of the `send` and `recv` a
/// blocking read and write need. Measured on 2 cores at 4 clients (one per
/// loop), that third syscall left the generator at about 0.8 of the plain
/// blocking client's rate. Here a message is one `write` and one `read`
/// (more only when a reply comes in pieces), and time limits are socket
/// timeouts (`SO_RCVTIMEO`, `SO_SNDTIMEO`) bounded by both the phase deadline
/// (`--timeout-ms`) and the end of the run, set again only when the value in
/// place would overshoot by more than [`TIMEOUT_SLACK`].
///
/// Accounting is the event loop's, rule for rule: an attempt starts at the
/// connect (no connection) or the request write, is measured when it starts
/// after the warm-up, ends in one verified reply or one error of the same
/// kinds ([`Failure`], [`match_expected`]); an error drops the connection and
/// waits out the same [`backoff`] before reconnecting; `--messages` counts
/// measured outcomes; an attempt without an outcome when the run ends is
/// `abandoned`; progress is flushed every [`SCAN_INTERVAL`].
struct Dedicated<'a> {
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
    /// Measured attempts left with `--messages`.
    remaining: u64,
    /// Errors in a row, for the backoff.
    failures: u32,
    /// A measured attempt succeeded.
    answered: bool,
}

impl<'a> Dedicated<'a> {
    fn new(plan: &'a Plan, progress: &'a Progress) -> io::Result<Self> {
        Ok(Dedicated {
            plan,
            progress,
            stream: None,
            read_timeout: None,
            write_timeout: None,
            scratch: vec![0; 64 * 1024],
            tally: Tally::new()?,
            flushed: Flushed::default(),
            remaining: plan.messages.unwrap_or(u64::MAX),
            failures: 0,
            answered: false,
        })
    }

    fn run(mut self) -> io::Result<Tally> {
        let plan = self.plan;
        let mut now = Instant::now();
        let mut next_flush = now + SCAN_INTERVAL;
        while now < plan.end {
            if now >= next_flush {
                self.flushed.flush(&self.tally, self.progress);
                next_flush = now + SCAN_INTERVAL;
            }
            if self.remaining == 0 {
                self.tally.finished_at = Some(now);
                break;
            }
            let measured = now >= plan.measure_start;
            let (outcome, at) = match self.attempt(now, measured) {
                Ok((request_start, at)) => (Some(Ok(request_start)), at),
                Err(Unanswered::Failed(f)) => (Some(Err(f)), Instant::now()),
                Err(Unanswered::Abandoned) => (None, plan.end),
            };
            // The run stops at `end`: what is seen after it had no outcome
            // in the run, as in the event loop, which stops looking then.
            let Some(outcome) = outcome.filter(|_| at < plan.end) else {
                if measured {
                    self.tally.abandoned += 1;
                }
                break;
            };
            match outcome {
                Ok(request_start) => {
                    if measured {
                        self.tally.record_ok(request_start, at);
                        self.remaining = self.remaining.saturating_sub(1);
                        if !std::mem::replace(&mut self.answered, true) {
                            self.tally.clients_answered += 1;
                        }
                    }
                    self.failures = 0;
                    now = at;
                }
                Err(failure) => {
                    if measured {
                        self.tally.errors.add(failure);
                        self.remaining = self.remaining.saturating_sub(1);
                    }
                    self.failures = self.failures.saturating_add(1);
                    self.stream = None;
                    if self.remaining == 0 {
                        self.tally.finished_at = Some(at);
                        break;
                    }
                    let pause = backoff(self.failures).min(plan.end.saturating_duration_since(at));
                    thread::sleep(pause);
                    now = Instant::now();
                }
            }
        }
        self.stream = None;
        self.flushed.flush(&self.tally, self.progress);
        Ok(self.tally)
    }

    /// One attempt starting at `start`: connect and read the greeting if
    /// there is no connection, then write the request and read the reply.
    /// Returns when the request started and when the reply was complete.
    fn attempt(
        &mut self,
        start: Instant,
        measured: bool,
    ) -> Result<(Instant, Instant), Unanswered> {
        let plan = self.plan;
        let mut request_start = start;
        if self.stream.is_none() {
            let deadline = start + plan.timeout;
            self.connect(start, deadline, measured)?;
            request_start = self.read_expected(&plan.greeting, deadline)?;
        }
        let deadline = request_start + plan.timeout;
        self.write_request(request_start, deadline)?;
        let done = self.read_expected(&plan.reply, deadline)?;
        Ok((request_start, done))
    }

    fn connect(
        &mut self,
        now: Instant,
        deadline: Instant,
        measured: bool,
    ) -> Result<(), Unanswered> {
        let limit = self.limit(now, deadline)?;
        match std::net::TcpStream::connect_timeout(&self.plan.addr, limit) {
            Ok(stream) => {
                // As in the event loop: requests go out in one write.
                let _ = stream.set_nodelay(true);
                if measured {
                    self.tally.connections += 1;
                }
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
        let request = &self.plan.request;
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

    /// Reads until `expected` has arrived exactly; returns when it did.
    fn read_expected(&mut self, expected: &[u8], deadline: Instant) -> Result<Instant, Unanswered> {
        let mut pos = 0;
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
                Ok(n) => match match_expected(expected, &mut pos, &self.scratch[..n]) {
                    ReadOutcome::Complete => return Ok(Instant::now()),
                    ReadOutcome::Pending => {}
                    ReadOutcome::Failed(f) => return Err(Unanswered::Failed(f)),
                },
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
    fn payload_is_printable_and_never_exit() {
        for size in [1, 4, 26, 100, 1024] {
            let p = payload(size);
            assert_eq!(p.len(), size);
            assert!(p.iter().all(|b| b.is_ascii_lowercase()));
            assert_ne!(p, b"exit");
        }
    }

    #[test]
    fn only_a_lone_persistent_echo_client_leaves_the_event_loop() {
        assert!(dedicated(1, false, Protocol::Echo));
        assert!(!dedicated(2, false, Protocol::Echo));
        assert!(!dedicated(1, true, Protocol::Echo));
        assert!(!dedicated(1, true, Protocol::Daytime));
        assert!(!dedicated(1, false, Protocol::Daytime));
    }

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

    #[test]
    fn replies_are_matched_piece_by_piece() {
        let mut pos = 0;
        assert!(matches!(
            match_expected(b"Received x;", &mut pos, b"Rece"),
            ReadOutcome::Pending
        ));
        assert!(matches!(
            match_expected(b"Received x;", &mut pos, b"ived x;"),
            ReadOutcome::Complete
        ));
        let mut pos = 0;
        assert!(matches!(
            match_expected(b"Received x;", &mut pos, b"Recieved x;"),
            ReadOutcome::Failed(Failure::WrongReply)
        ));
        let mut pos = 0;
        assert!(matches!(
            match_expected(b"ab", &mut pos, b"abc"),
            ReadOutcome::Failed(Failure::WrongReply)
        ));
        assert_eq!(backoff(1), BACKOFF_MIN);
        assert_eq!(backoff(2), BACKOFF_MIN * 2);
        assert_eq!(backoff(1000), BACKOFF_MAX);
    }

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

    fn line(chunks: &[&[u8]]) -> Result<(), Failure> {
        let mut c = LineCheck::default();
        for chunk in chunks {
            c.push(chunk)?;
        }
        c.finish()
    }

    #[test]
    fn daytime_lines_are_checked_as_they_come() {
        let ok: &[&[&[u8]]] = &[
            &[b"Tue, 25 Nov 2025 18:14:03 GMT\r\n"],
            &[b"Tuesday\n"],
            &[b"Tue, 25 Nov", b" 2025\r", b"\n"],
            &[b"a\tb\n"],
        ];
        for chunks in ok {
            assert_eq!(line(chunks), Ok(()), "{chunks:?}");
        }
        let longest = [vec![b'x'; MAX_DAYTIME_LINE - 2], b"\r\n".to_vec()].concat();
        assert_eq!(line(&[&longest]), Ok(()));
        let too_long = [vec![b'x'; MAX_DAYTIME_LINE - 1], b"\r\n".to_vec()].concat();
        assert_eq!(line(&[&too_long]), Err(Failure::WrongReply));

        let wrong: &[&[&[u8]]] = &[
            &[b"no line end"],
            &[b"\n"],
            &[b"\r\n"],
            &[b"two\nlines\n"],
            &[b"cr\ralone\n"],
            &[b"cr\r\r\n"],
            &[b"nul\0\n"],
            &[b"caf\xc3\xa9\n"],
            &[b"line\n", b"more"],
        ];
        for chunks in wrong {
            assert_eq!(line(chunks), Err(Failure::WrongReply), "{chunks:?}");
        }
        assert_eq!(line(&[]), Err(Failure::ClosedEarly));
    }

    #[test]
    fn daytime_refuses_payload_flags_it_cannot_honour() {
        let daytime = |edit: fn(&mut BenchArgs)| {
            let mut a = BenchArgs::new("127.0.0.1:1");
            a.protocol = Protocol::Daytime;
            edit(&mut a);
            check_args(&a)
        };
        assert!(daytime(|_| {}).is_ok());
        assert!(daytime(|a| a.churn = true).is_ok());
        let e = daytime(|a| a.size = 10).unwrap_err().to_string();
        assert!(e.contains("--size") && e.contains("daytime"), "{e}");
        let e = daytime(|a| a.framing = Framing::Line)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--framing") && e.contains("daytime"), "{e}");
    }

    #[test]
    fn bad_arguments_are_refused_before_connecting() {
        let mut a = BenchArgs::new("127.0.0.1:1");
        a.size = MAX_RAW_PAYLOAD + 1;
        assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
        let mut a = BenchArgs::new("127.0.0.1:1");
        a.clients = 0;
        assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
        let mut a = BenchArgs::new("127.0.0.1:1");
        a.duration = Some(-1.0);
        assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
    }
}
