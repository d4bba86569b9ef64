//! `bench --idle N`: many clients that say nothing, and what they cost the
//! server.
//!
//! The question the modes' memory answers: a thread per connection keeps a
//! stack and a kernel task for every client, even one that sends nothing
//! for an hour, where an event loop keeps a socket and a few hundred bytes.
//! So this opens N connections, reads each greeting, holds them all idle
//! for `--hold` seconds, reads the server's resident memory and thread
//! count from `/proc/PID/status` (before connecting, and at the end of the
//! hold), and closes them. The server is named by `--pid`: finding it from
//! the port would mean reading every process's descriptors, which fails for
//! other users' processes and guesses when several listen; the caller that
//! started the server knows its pid (`$!` in a shell).
//!
//! Connections are made one after another, each greeting read before the
//! next connect. A burst of connects would overflow a listen backlog of
//! 128 (std's and mio's default), and every SYN the kernel drops then
//! costs the client a second's retransmission: 10,000 connections to
//! `examples/mio_baseline.rs` took 33 s in a burst and 0.6 s paced. Once a
//! greeting does not come within `--timeout-ms` (serial mode, a full
//! pool), the remaining connections are made without waiting and their
//! greetings share one more deadline. Connecting stops at the first
//! connect that fails or takes longer than `--timeout-ms` (a server that
//! stopped accepting, its backlog full), so the run stays bounded whatever
//! the server does: N connects and at most three `--timeout-ms`, then the
//! hold.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use super::exchange::Exchange;
use super::flags::{self, BenchArgs, OutputFormat, Protocol};
use super::plan::preflight;

/// Descriptors kept free for everything but the idle connections (stdio,
/// the preflight connection, a poller, libraries' own).
const SPARE_FDS: u64 = 32;

/// What `bench --idle` measured: its JSON is the interface for scripts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IdleReport {
    /// The server, as given.
    pub addr: String,
    /// Connections asked for (`--idle N`).
    pub idle: usize,
    /// Connections made.
    pub connected: usize,
    /// Connections that got the whole expected greeting (all of
    /// `connected` when the exchange has none).
    pub greeted: usize,
    /// Connections whose first bytes were not the expected greeting.
    pub wrong_greeting: usize,
    /// Greeted connections still open at the end of the hold.
    pub open_at_end: usize,
    /// Why connecting stopped before `idle` connections, if it did.
    pub stopped: Option<String>,
    /// Seconds from the first connect until the last connection was made
    /// and greeted (or its greeting's deadline passed).
    pub open_secs: f64,
    /// Seconds the connections were held (`--hold`).
    pub hold_secs: f64,
    /// The server's process (`--pid`); without it nothing below is read.
    pub pid: Option<u32>,
    /// The server before the first connection.
    pub before: Option<ProcessSample>,
    /// The server at the end of the hold, every connection still open.
    pub held: Option<ProcessSample>,
}

/// A process's size, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSample {
    /// Resident memory, KiB (`VmRSS`).
    pub rss_kb: u64,
    /// Threads (`Threads`).
    pub threads: u64,
}

impl ProcessSample {
    /// Reads process `pid`'s sample; `None` if it is gone or unreadable.
    pub fn read(pid: u32) -> Option<ProcessSample> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        };
        Some(ProcessSample {
            rss_kb: field("VmRSS:")?,
            threads: field("Threads:")?,
        })
    }
}

impl IdleReport {
    /// The server's memory growth per connection made, KiB: what one more
    /// idle client costs it (one it keeps waiting costs it too, if less).
    pub fn kb_per_connection(&self) -> Option<f64> {
        let (before, held) = (self.before?, self.held?);
        (self.connected > 0)
            .then(|| (held.rss_kb as f64 - before.rss_kb as f64) / self.connected as f64)
    }
}

/// Opens, greets, holds and closes the connections `args` asks for, and
/// returns what the server looked like meanwhile. `Err` as for
/// [`run_bench`](super::run_bench): nothing could be measured (bad flags,
/// no server, no such `--pid`, too few descriptors for N connections).
pub fn run_idle(args: &BenchArgs) -> Result<IdleReport, BenchError> {
    let bad = |msg: String| Err(BenchError::InvalidArgs(msg));
    let Some(n) = args.idle else {
        return bad("run_idle needs --idle N".into());
    };
    flags::check(args)?;
    if n == 0 {
        return bad("--idle must be at least 1 connection".into());
    }
    if args.protocol != Protocol::Echo {
        return bad("--idle needs a server that keeps connections open; daytime closes".into());
    }
    let hold = flags::secs(args.hold, "--hold")?;
    let timeout = Duration::from_millis(args.load.timeout_ms);
    let exchange = Exchange::new(&args.load, args.protocol)?;
    // Each connection is a descriptor held to the end.
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    if (n as u64).saturating_add(SPARE_FDS) > limit {
        return bad(format!(
            "--idle {n} needs {n} descriptors and this process may open {limit}: lower --idle, \
             or raise the limit (ulimit -n; its hard limit needs root)"
        ));
    }
    if let Some(pid) = args.pid
        && ProcessSample::read(pid).is_none()
    {
        return bad(format!(
            "--pid {pid}: no such process (or /proc/{pid}/status unreadable)"
        ));
    }
    // Before the preflight connection, which is the first idle client's.
    let before = args.pid.and_then(ProcessSample::read);
    let (addr, opened) = preflight(&args.addr, timeout)?;
    let mut opened = Some(opened);

    let start = Instant::now();
    let mut served = Vec::with_capacity(n);
    // Connections not (or wrongly) greeted stay open too: they are clients
    // the server keeps waiting, and part of what it holds.
    let mut others = Vec::new();
    let mut waiting = Vec::new();
    let mut wrong_greeting = 0;
    let mut stopped = None;
    for i in 0..n {
        let connected = match opened.take() {
            Some(s) => Ok(s),
            None => TcpStream::connect_timeout(&addr, timeout),
        };
        let mut stream = match connected {
            Ok(s) => s,
            Err(e) => {
                stopped = Some(why_stopped(i, n, &e));
                break;
            }
        };
        // One greeting at a time, until one does not come: then the rest
        // connect at once and share one deadline.
        match exchange.greeting() {
            Some(want) if waiting.is_empty() => {
                match read_greeting(&mut stream, want, Instant::now() + timeout) {
                    Greeting::Right => served.push(stream),
                    Greeting::Wrong => {
                        wrong_greeting += 1;
                        others.push(stream);
                    }
                    Greeting::Missing => waiting.push(stream),
                }
            }
            Some(_) => waiting.push(stream),
            None => served.push(stream),
        }
    }
    let deadline = Instant::now() + timeout;
    for mut stream in waiting {
        if let Some(want) = exchange.greeting() {
            match read_greeting(&mut stream, want, deadline) {
                Greeting::Right => served.push(stream),
                Greeting::Wrong => {
                    wrong_greeting += 1;
                    others.push(stream);
                }
                Greeting::Missing => others.push(stream),
            }
        }
    }
    let open_secs = start.elapsed().as_secs_f64();
    let connected = served.len() + others.len();
    std::thread::sleep(hold);
    let held = args.pid.and_then(ProcessSample::read);
    let open_at_end = served.iter().filter(|s| still_open(s)).count();
    let greeted = served.len();
    // Closed only now, after the server was measured with all of them.
    drop((served, others));
    Ok(IdleReport {
        addr: args.addr.clone(),
        idle: n,
        connected,
        greeted,
        wrong_greeting,
        open_at_end,
        stopped,
        open_secs,
        hold_secs: hold.as_secs_f64(),
        pid: args.pid,
        before,
        held,
    })
}

/// Why connection `i` (from 0) of `n` could not be made, with the likely
/// cause.
fn why_stopped(i: usize, n: usize, e: &std::io::Error) -> String {
    let hint = match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            " (its backlog is full: does it stop accepting, as threads mode at \
             max_connections does?)"
        }
        ErrorKind::AddrNotAvailable => " (this machine is out of local ports)",
        _ => "",
    };
    format!("connection {} of {n} failed: {e}{hint}", i + 1)
}

/// How a connection's first bytes compare with the expected greeting.
enum Greeting {
    Right,
    /// Other bytes came, or the server closed before the whole greeting.
    Wrong,
    /// Nothing (or only part of it) by the deadline: the server never
    /// served this client, as serial mode or a full pool does.
    Missing,
}

/// Reads `want` from `stream`, waiting until `deadline` at most; once the
/// deadline has passed, takes only what has already arrived, so a server
/// that greets nobody costs one `--timeout-ms` in all, not one per client.
fn read_greeting(stream: &mut TcpStream, want: &[u8], deadline: Instant) -> Greeting {
    let mut got = vec![0u8; want.len()];
    let mut have = 0;
    while have < want.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let ready = if left.is_zero() {
            stream.set_nonblocking(true)
        } else {
            stream.set_read_timeout(Some(left))
        };
        if ready.is_err() {
            return Greeting::Wrong;
        }
        match stream.read(&mut got[have..]) {
            Ok(0) => return Greeting::Wrong,
            Ok(k) if got[have..have + k] != want[have..have + k] => return Greeting::Wrong,
            Ok(k) => have += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Greeting::Missing;
            }
            Err(_) => return Greeting::Wrong,
        }
    }
    Greeting::Right
}

/// Whether the server still holds `stream` open: nothing to read but no
/// end of stream either.
fn still_open(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == ErrorKind::WouldBlock,
    }
}

/// Runs [`run_idle`] and prints the report in `--format`; the exit status
/// follows [`main_bench`](super::main_bench)'s: 1 when some connection
/// was not made, not greeted or not kept to the end (unless
/// `--allow-errors`), 2 when the flags are wrong or the server cannot be
/// reached.
pub fn main_idle(args: &BenchArgs) -> ExitCode {
    match run_idle(args) {
        Ok(r) => {
            print!("{}", render_idle(&r, args.format));
            if r.pid.is_none() {
                eprintln!("bench: give --pid PID to read the server's memory and threads");
            }
            let complaints = verdict(&r);
            for line in &complaints {
                eprintln!("bench: {line}");
            }
            if complaints.is_empty() || args.allow_errors {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 1 })
        }
    }
}

/// What falls short of `idle` connections greeted and held, one line each.
fn verdict(r: &IdleReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(why) = &r.stopped {
        lines.push(format!(
            "{} of {} connections made: {why}",
            r.connected, r.idle
        ));
    }
    if r.wrong_greeting > 0 {
        lines.push(format!(
            "{} connections got other bytes than the greeting (does --framing match the \
             server's? is --greeting what it sends?)",
            r.wrong_greeting
        ));
    }
    let silent = r.connected - r.greeted - r.wrong_greeting;
    if silent > 0 {
        lines.push(format!(
            "{silent} of {} connections were never greeted (does the server serve fewer \
             clients at once, as serial mode or a small pool does?)",
            r.connected
        ));
    }
    if r.open_at_end < r.greeted {
        lines.push(format!(
            "the server closed {} of the {} greeted connections during the hold",
            r.greeted - r.open_at_end,
            r.greeted
        ));
    }
    lines
}

/// The columns of the table and the CSV: header and cell.
type Column = (&'static str, fn(&IdleReport) -> String);

const COLUMNS: [Column; 12] = [
    ("addr", |r| r.addr.clone()),
    ("idle", |r| r.idle.to_string()),
    ("connected", |r| r.connected.to_string()),
    ("greeted", |r| r.greeted.to_string()),
    ("open at end", |r| r.open_at_end.to_string()),
    ("opened in s", |r| format!("{:.2}", r.open_secs)),
    ("pid", |r| r.pid.map_or("-".into(), |p| p.to_string())),
    ("threads before", |r| {
        sample(r.before, |s| s.threads.to_string())
    }),
    ("threads held", |r| {
        sample(r.held, |s| s.threads.to_string())
    }),
    ("RSS before MiB", |r| sample(r.before, |s| mib(s.rss_kb))),
    ("RSS held MiB", |r| sample(r.held, |s| mib(s.rss_kb))),
    ("KiB per conn", |r| {
        r.kb_per_connection()
            .map_or("-".into(), |k| format!("{k:.1}"))
    }),
];

fn sample(s: Option<ProcessSample>, f: impl Fn(ProcessSample) -> String) -> String {
    s.map_or("-".into(), f)
}

fn mib(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

/// The report as `format` asks: an aligned table, pretty JSON (with
/// `kb_per_connection` added), or a CSV header and row.
pub fn render_idle(r: &IdleReport, format: OutputFormat) -> String {
    let cells: Vec<String> = COLUMNS.iter().map(|(_, cell)| cell(r)).collect();
    match format {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(r).expect("reports serialize");
            value["kb_per_connection"] = serde_json::json!(r.kb_per_connection());
            let mut s = serde_json::to_string_pretty(&value).expect("values serialize");
            s.push('\n');
            s
        }
        OutputFormat::Csv => {
            let header: Vec<String> = COLUMNS.iter().map(|(h, _)| h.replace(' ', "_")).collect();
            format!("{}\n{}\n", header.join(","), cells.join(","))
        }
        OutputFormat::Table => {
            let (mut head, mut row) = (String::new(), String::new());
            for ((h, _), cell) in COLUMNS.iter().zip(&cells) {
                let w = h.len().max(cell.len());
                let sep = if head.is_empty() { "" } else { "  " };
                head.push_str(&format!("{sep}{h:>w$}"));
                row.push_str(&format!("{sep}{cell:>w$}"));
            }
            format!("{head}\n{row}\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // /proc is Linux's.
    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process_from_proc() {
        let me = ProcessSample::read(std::process::id()).expect("own status");
        assert!(me.rss_kb > 0 && me.threads >= 1, "{me:?}");
    }

    #[test]
    fn cost_per_connection_is_the_growth_over_connections_made() {
        let mut r = IdleReport {
            connected: 100,
            before: Some(ProcessSample {
                rss_kb: 1000,
                threads: 2,
            }),
            held: Some(ProcessSample {
                rss_kb: 3000,
                threads: 102,
            }),
            ..IdleReport::default()
        };
        assert_eq!(r.kb_per_connection(), Some(20.0));
        let table = render_idle(&r, OutputFormat::Table);
        assert!(table.contains("KiB per conn"), "{table}");
        assert!(table.lines().nth(1).unwrap().ends_with("20.0"), "{table}");
        let json: serde_json::Value =
            serde_json::from_str(&render_idle(&r, OutputFormat::Json)).unwrap();
        assert_eq!(json["kb_per_connection"], 20.0);
        assert_eq!(json["held"]["threads"], 102);
        r.connected = 0;
        assert_eq!(r.kb_per_connection(), None);
        r.held = None;
        let csv = render_idle(&r, OutputFormat::Csv);
        assert_eq!(csv.lines().count(), 2);
        assert!(csv.lines().nth(1).unwrap().ends_with(",-,-"), "{csv}");
    }

    #[test]
    fn the_verdict_names_every_shortfall() {
        let clean = IdleReport {
            idle: 10,
            connected: 10,
            greeted: 10,
            open_at_end: 10,
            ..IdleReport::default()
        };
        assert!(verdict(&clean).is_empty());
        let serial = IdleReport {
            greeted: 1,
            open_at_end: 1,
            ..clean.clone()
        };
        let lines = verdict(&serial);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("9 of 10 connections were never greeted"));
        let stopped = IdleReport {
            connected: 4,
            greeted: 4,
            open_at_end: 3,
            stopped: Some("connection 5 of 10 failed: timed out".into()),
            ..clean
        };
        let lines = verdict(&stopped);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("4 of 10 connections made: connection 5"));
        assert!(lines[1].contains("closed 1 of the 4"));
    }
}
