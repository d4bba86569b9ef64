//! The flags of `bench` and `compare`, and the checks on their values.
//!
//! The flags that shape the load are one struct, [`LoadArgs`], flattened
//! into both commands, so `compare` cannot drift from what `bench` accepts.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use crate::Framing;

/// With `raw` framing the server reads at most this many bytes as one
/// message, so a larger payload would be cut into several messages.
pub(super) const MAX_RAW_PAYLOAD: usize = 1024;

/// Largest payload accepted at all: a bench of huge messages measures the
/// copy, not the server, and every client holds its request in memory.
pub(super) const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// The value of `--expect` that accepts any one complete message.
pub(super) const ANY: &str = "any";

/// The value of `--greeting` for a server that sends nothing first.
pub(super) const NONE: &str = "none";

/// Largest `--rate`: far above what one machine can send, so it only
/// catches typos (and keeps the schedule's arithmetic exact).
pub(super) const MAX_RATE: f64 = 1e9;

/// Largest gap between two requests of one client under `--rate`: a day.
const MAX_INTERVAL_SECS: f64 = 86_400.0;

/// `--size` default, named so `--protocol daytime` can tell a payload size
/// asked for (which it cannot honour) from the default.
pub(super) const DEFAULT_SIZE: usize = 64;

/// Default cap on generator threads. With the server on the same small
/// machine, an event loop that drives many clients never sleeps, and every
/// request it writes must wake a server thread on the other core, so a few
/// loops driving many clients each fall far behind a blocking
/// thread-per-client load (figures in `modes/README.md`). A loop per client
/// (up to this cap) behaves like the blocking client where that matters;
/// past it each loop drives several clients, so 2,000 clients still take
/// only 64 threads. `--threads` overrides it.
pub(super) const DEFAULT_MAX_THREADS: usize = 64;

/// The flags that shape the load, shared by `tcpmodes bench` and
/// `tcpmodes compare` (flattened into [`BenchArgs`] and
/// [`CompareArgs`](super::CompareArgs)), so both commands accept the same
/// load and a new load flag is added once. [`Default`] gives `bench`'s
/// defaults.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct LoadArgs {
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

    /// Every message on a new connection (connect, greeting, one request,
    /// close): measures accept and set-up cost, reported as connections/s.
    #[arg(long)]
    pub churn: bool,

    /// Seconds of load before measuring, to let caches, pools and the
    /// kernel settle. Nothing done in the warm-up is counted.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,

    /// Deadline, in milliseconds, for each phase of an attempt: connect plus
    /// greeting, and request plus reply. Missing it counts as a timeout. An
    /// attempt still waiting when the run ends is counted as unanswered,
    /// whatever this deadline.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,

    /// Open loop: MSGS_PER_SEC requests per second in all, spread evenly
    /// over the clients, each request due at its own scheduled time, and its
    /// latency measured from that time, not from when it was written
    /// (wrk2's correction for coordinated omission): a request that waits
    /// for a slow reply ahead of it keeps its due time, so a stalling server
    /// shows in the percentiles, and requests still due when the run ends
    /// count as unanswered with their latency so far. One request in flight
    /// per connection, as in the closed loop. Without --rate, each client
    /// sends its next request when the last reply arrives, and latency runs
    /// from the write.
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,

    /// What the server sends first on each connection, framed with
    /// --framing, or `none` for a protocol that waits for the client.
    /// Default: the echo greeting, `Welcome!`. Escapes: `\n` `\r` `\t`
    /// `\\` `\0` `\xHH`.
    #[arg(long, value_name = "TEXT|none")]
    pub greeting: Option<String>,

    /// The request each client sends, framed with --framing: `{n}` becomes
    /// the client's message number (from 0), `{client}` its number (from
    /// 0); escapes as for --greeting. Default: --size bytes of `abc…`.
    #[arg(long, value_name = "TEXT", help = request_help())]
    pub request: Option<String>,

    /// The reply to check each request against, with the placeholders and
    /// escapes of --request, or `any` for any one complete message (needs
    /// --framing line or length, which mark where a reply ends). Default:
    /// the echo answer, `Received <request>;`.
    #[arg(long, value_name = "TEXT|any")]
    pub expect: Option<String>,
}

/// The help of `--request`: its doc comment, with `{n}` written so clap
/// shows it. Clap turns every `{n}` in a help text into a line break; a
/// style escape between the brace and the `n` (dropped when the help is
/// printed without colours) keeps the placeholder intact.
fn request_help() -> String {
    let n = clap::builder::styling::Style::new().bold();
    format!(
        "The request each client sends, framed with --framing: `{{{n}n{n:#}}}` becomes the \
         client's message number (from 0), `{{client}}` its number (from 0); escapes as for \
         --greeting. Default: --size bytes of `abc…`"
    )
}

impl Default for LoadArgs {
    /// The defaults of `tcpmodes bench`: one client, 5 seconds, 64 bytes,
    /// raw framing, persistent connections, no warm-up.
    fn default() -> Self {
        LoadArgs {
            clients: 1,
            duration: None,
            messages: None,
            size: DEFAULT_SIZE,
            framing: Framing::Raw,
            churn: false,
            warmup: 0.0,
            timeout_ms: 5000,
            rate: None,
            greeting: None,
            request: None,
            expect: None,
        }
    }
}

/// Command-line flags of `tcpmodes bench`, also the input of
/// [`run_bench`](super::run_bench) for programmatic runs (`compare`, tests):
/// build it with [`BenchArgs::new`] and change the fields you need.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct BenchArgs {
    /// Server to load, as HOST:PORT.
    #[arg(long)]
    pub addr: String,

    /// The load: clients, duration or messages, payload, framing, churn,
    /// warm-up and deadline.
    #[command(flatten)]
    pub load: LoadArgs,

    /// What the server speaks. Daytime implies --churn, since each answer
    /// costs a connection; giving it --size or a --framing other than raw is
    /// an error, since it sends no payload and reads raw bytes.
    #[arg(long, value_enum, default_value_t = Protocol::Echo)]
    pub protocol: Protocol,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Exit 0 even when errors occurred (they are still reported).
    #[arg(long)]
    pub allow_errors: bool,

    /// Event-loop threads of the generator (default: one per client up to
    /// 64, see `DEFAULT_MAX_THREADS`). Never more than --clients. A thread
    /// with a single persistent echo client runs it on blocking sockets.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Never draw the progress line, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,

    /// Also write the latency's whole percentile spectrum to FILE, in the
    /// text HdrHistogram's `outputPercentileDistribution` and wrk2's
    /// `--latency` print (values in milliseconds), for the tools that plot
    /// those.
    #[arg(long, value_name = "FILE")]
    pub histogram: Option<PathBuf>,

    /// Idle clients instead of load: open N connections one after another,
    /// read each greeting, hold them all for --hold seconds without a word,
    /// then report how many were greeted and stayed open, and, with --pid,
    /// the server's memory (RSS) and threads before and while they are
    /// held; then close them. What a thread per connection costs against
    /// an event loop. Connecting stops at the first connection the server
    /// does not take within --timeout-ms.
    #[arg(long, value_name = "N", conflicts_with_all = IDLE_CONFLICTS)]
    pub idle: Option<usize>,

    /// With --idle: seconds the connections are held before the server is
    /// measured and they are closed.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, requires = "idle")]
    pub hold: f64,

    /// With --idle: the server's process id; its VmRSS and Threads are read
    /// from /proc/PID/status before connecting and at the end of the hold.
    #[arg(long, requires = "idle")]
    pub pid: Option<u32>,

    /// Also print who was served when: a row per client (to stderr with
    /// --format json or csv); recorded in the JSON's `timeline`
    #[arg(long)]
    pub timeline: bool,

    /// Also draw who was served when into this file (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub timeline_svg: Option<PathBuf>,

    /// Also draw wait, throughput and latency into this file (.svg or .png)
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// Run the measurement this many times and report the run with the
    /// median throughput, with the min, median and max of the headline
    /// figures (one run on a shared machine can be off by far)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,

    /// The server's log of its handler calls, when it runs in this
    /// process (`compare`): each request's wait for a worker or a loop is
    /// then known ([`BenchReport::queue_us`]).
    ///
    /// [`BenchReport::queue_us`]: super::BenchReport::queue_us
    #[arg(skip)]
    pub(crate) calls: ServerCalls,
}

/// A server's [`CallLog`](crate::call_log::CallLog), or none; two are
/// equal when they are the same log.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerCalls(pub(crate) Option<std::sync::Arc<crate::call_log::CallLog>>);

impl PartialEq for ServerCalls {
    fn eq(&self, other: &ServerCalls) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
    }
}

impl BenchArgs {
    /// The command line's defaults for `addr`, so a program sets only the
    /// fields it cares about: one client, 5 seconds, 64 bytes, raw framing,
    /// echo protocol, table output.
    pub fn new(addr: impl Into<String>) -> Self {
        BenchArgs {
            addr: addr.into(),
            load: LoadArgs::default(),
            protocol: Protocol::Echo,
            format: OutputFormat::Table,
            allow_errors: false,
            threads: None,
            no_progress: false,
            histogram: None,
            idle: None,
            hold: 1.0,
            pid: None,
            timeline: false,
            timeline_svg: None,
            plot: None,
            repeat: 1,
            calls: ServerCalls::default(),
        }
    }
}

/// The flags that shape a load, which `--idle` (no load at all) refuses.
const IDLE_CONFLICTS: [&str; 15] = [
    "clients",
    "duration",
    "messages",
    "size",
    "churn",
    "warmup",
    "rate",
    "request",
    "expect",
    "threads",
    "histogram",
    "timeline",
    "timeline_svg",
    "plot",
    "repeat",
];

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
    /// The name used on the command line and in reports, so a report can
    /// be fed back as a flag.
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

/// Output format of `bench` and `compare`: people read the table, scripts
/// the JSON (the stable interface) or the CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// One JSON object per run (the README's schema); an array of labelled reports for compare
    Json,
    /// A header line and one line per report.
    Csv,
}

/// `value` seconds as a [`Duration`], or the error naming `flag`.
pub(super) fn secs(value: f64, flag: &str) -> Result<Duration, BenchError> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        BenchError::InvalidArgs(format!(
            "{flag} must be a number of seconds ≥ 0, not {value}"
        ))
    })
}

/// Refuses flags that are out of range or contradict each other, before
/// anything connects.
pub(super) fn check(args: &BenchArgs) -> Result<(), BenchError> {
    let bad = |msg: String| Err(BenchError::InvalidArgs(msg));
    let load = &args.load;
    if load.clients == 0 {
        return bad("--clients must be at least 1".into());
    }
    if args.protocol == Protocol::Daytime {
        for (flag, given) in [
            ("--greeting", &load.greeting),
            ("--request", &load.request),
            ("--expect", &load.expect),
        ] {
            if given.is_some() {
                return bad(format!(
                    "{flag} does not apply to --protocol daytime, whose server sends one \
                     line and closes"
                ));
            }
        }
        // Values, not flags, are checked: `--size 64` asks for nothing the
        // default does not, so only a size or framing that would change
        // the run, and cannot, is refused.
        if load.size != DEFAULT_SIZE {
            return bad(format!(
                "--size {} does not apply to --protocol daytime, which sends no payload",
                load.size
            ));
        }
        if load.framing != Framing::Raw {
            return bad(format!(
                "--framing {} does not apply to --protocol daytime, which reads the \
                 answer as raw bytes",
                load.framing
            ));
        }
    }
    if !matches!(load.framing, Framing::Raw | Framing::Line | Framing::Length) {
        return bad(format!(
            "--framing {} does not carry the echo protocol; use raw, line or length",
            load.framing
        ));
    }
    if load.request.is_some() && load.size != DEFAULT_SIZE {
        return bad(format!(
            "--size {} does not apply with --request, whose text is the message",
            load.size
        ));
    }
    if load.expect.as_deref() == Some(ANY) && load.framing == Framing::Raw {
        return bad(
            "--expect any needs a framing that marks where a reply ends: use --framing \
             line or length (and the same on the server)"
                .into(),
        );
    }
    if let Some(rate) = load.rate {
        // Each client's requests are `clients / rate` seconds apart.
        if !(rate.is_finite() && rate > 0.0) {
            return bad(format!(
                "--rate must be a number of messages per second above 0, not {rate}"
            ));
        }
        if load.clients as f64 / rate > MAX_INTERVAL_SECS {
            return bad(format!(
                "--rate {rate} over {} clients sends each client less than one message a \
                 day; raise --rate or lower --clients",
                load.clients
            ));
        }
        if rate > MAX_RATE {
            return bad(format!(
                "--rate must be at most {MAX_RATE} messages per second"
            ));
        }
    }
    if load.size == 0 {
        return bad("--size must be at least 1 byte".into());
    }
    if load.framing == Framing::Raw && load.size > MAX_RAW_PAYLOAD {
        return bad(format!(
            "--size {} is over {MAX_RAW_PAYLOAD} bytes, the most one raw message can hold \
             (the server reads 1024 bytes as one message); use --framing line or length",
            load.size
        ));
    }
    if load.size > MAX_PAYLOAD {
        return bad(format!("--size must be at most {MAX_PAYLOAD} bytes"));
    }
    if load.messages == Some(0) {
        return bad("--messages must be at least 1".into());
    }
    if load.duration.is_some() && load.messages.is_some() {
        return bad("give --duration or --messages, not both".into());
    }
    if let Some(d) = load.duration {
        if d.is_nan() || d <= 0.0 {
            return bad(format!("--duration must be more than 0 seconds, not {d}"));
        }
        secs(d, "--duration")?;
    }
    secs(load.warmup, "--warmup")?;
    if load.timeout_ms == 0 {
        return bad("--timeout-ms must be at least 1".into());
    }
    if args.threads == Some(0) {
        return bad("--threads must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daytime_refuses_payload_flags_it_cannot_honour() {
        let daytime = |edit: fn(&mut BenchArgs)| {
            let mut a = BenchArgs::new("127.0.0.1:1");
            a.protocol = Protocol::Daytime;
            edit(&mut a);
            check(&a)
        };
        assert!(daytime(|_| {}).is_ok());
        assert!(daytime(|a| a.load.churn = true).is_ok());
        let e = daytime(|a| a.load.size = 10).unwrap_err().to_string();
        assert!(e.contains("--size") && e.contains("daytime"), "{e}");
        let e = daytime(|a| a.load.framing = Framing::Line)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--framing") && e.contains("daytime"), "{e}");
    }
}
