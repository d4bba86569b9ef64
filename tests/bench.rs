//! The load generator against small echo servers started in this process
//! on 127.0.0.1 port 0: correct ones (every framing), one that drops
//! connections, one that answers wrongly, one that never answers; and, for
//! `--protocol daytime` (in `bench/daytime.rs`), servers that send a line
//! (right or wrong) and close.
//!
//! Runs use `--messages` so counts are exact and nothing depends on how
//! fast this machine is; every server loop is bounded in count and time.
//!
//! What every client lived through (waits, clients never served, the open
//! loop, other exchanges, the spectrum, timelines, the exit verdict) is in
//! `bench/measured.rs`, on the same servers; `--idle` (silent connections
//! and the server's memory and threads) in `bench/idle.rs`, against
//! servers run as processes.

mod common;
#[path = "bench/daytime.rs"]
mod daytime;
// `--idle --pid` reads the server's memory and threads from /proc: Linux
// only.
#[cfg(target_os = "linux")]
#[path = "bench/idle.rs"]
mod idle;
#[path = "bench/measured.rs"]
mod measured;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tcpmodes::Framing;
use tcpmodes::bench::{
    BenchArgs, BenchError, BenchReport, OutputFormat, plot_svg, render, render_comparison,
    run_bench,
};

/// How a test server misbehaves.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Speaks the protocol correctly.
    Echo,
    /// Closes each connection after this many replies.
    CloseAfter(usize),
    /// Replies `Recieved <msg>;` (wrong spelling, same length).
    Wrong,
    /// Sends the greeting, then reads but never replies.
    Silent,
    /// Echoes, but pauses this long before its reply to the message
    /// numbered `at` (from 0) on each connection: a server that stalls.
    Stall { at: usize, pause: Duration },
}

/// The framings that carry the echo protocol.
const ECHO_FRAMINGS: [Framing; 3] = [Framing::Raw, Framing::Line, Framing::Length];

/// Upper bounds so no server thread can outlive a broken test for long.
const MAX_CONNECTIONS: usize = 20_000;
const IDLE: Duration = Duration::from_secs(10);

struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(framing: Framing, behaviour: Behaviour) -> TestServer {
    listen(move |s| {
        thread::spawn(move || {
            let _ = connection(s, framing, behaviour);
        });
    })
}

/// A loopback listener that hands each accepted connection to `on_accept`
/// on its accept thread, until stopped or `MAX_CONNECTIONS` were taken.
fn listen(mut on_accept: impl FnMut(TcpStream) + Send + 'static) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let handle = thread::spawn(move || {
        for stream in listener.incoming().take(MAX_CONNECTIONS) {
            if stop2.load(Ordering::SeqCst) {
                return;
            }
            if let Ok(s) = stream {
                on_accept(s);
            }
        }
    });
    TestServer {
        addr,
        stop,
        handle: Some(handle),
    }
}

fn frame(framing: Framing, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    framing.encode(msg, &mut out).unwrap();
    out
}

fn connection(s: TcpStream, framing: Framing, behaviour: Behaviour) -> std::io::Result<()> {
    s.set_read_timeout(Some(IDLE))?;
    s.set_nodelay(true)?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    w.write_all(&frame(framing, b"Welcome!"))?;
    let mut replies = 0;
    // Bounded: the generator sends far fewer messages than this per test.
    for n in 0..1_000_000 {
        let msg = match framing {
            Framing::Raw => {
                let mut buf = [0u8; 1024];
                match r.read(&mut buf)? {
                    0 => return Ok(()),
                    n => buf[..n].to_vec(),
                }
            }
            Framing::Line => {
                let mut line = Vec::new();
                if r.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                line.pop();
                line
            }
            Framing::Length => {
                let mut p = [0u8; 4];
                r.read_exact(&mut p)?;
                let mut m = vec![0u8; u32::from_be_bytes(p) as usize];
                r.read_exact(&mut m)?;
                m
            }
            _ => unreachable!("the bench speaks raw, line and length only"),
        };
        if msg == b"exit" {
            return Ok(());
        }
        if let Behaviour::Stall { at, pause } = behaviour
            && n == at
        {
            thread::sleep(pause);
        }
        let word: &[u8] = match behaviour {
            Behaviour::Silent => continue,
            Behaviour::Wrong => b"Recieved ",
            _ => b"Received ",
        };
        let mut reply = word.to_vec();
        reply.extend_from_slice(&msg);
        reply.push(b';');
        w.write_all(&frame(framing, &reply))?;
        replies += 1;
        if let Behaviour::CloseAfter(n) = behaviour
            && replies >= n
        {
            return Ok(());
        }
    }
    Ok(())
}

fn args(server: &TestServer, framing: Framing, clients: usize, messages: u64) -> BenchArgs {
    let mut a = BenchArgs::new(server.addr.to_string());
    a.load.framing = framing;
    a.load.clients = clients;
    a.load.messages = Some(messages);
    a.threads = Some(2);
    a.no_progress = true;
    a.load.timeout_ms = 10_000;
    a
}

/// The generator's two ways to drive clients, for tests that must hold on
/// both: one event loop for all the clients (so it juggles several), and a
/// thread per client, which blocks in `read` instead.
fn on_both_paths(a: BenchArgs) -> [(&'static str, BenchArgs); 2] {
    assert!(
        a.load.clients >= 2,
        "one event loop must drive several clients"
    );
    let mut looped = a.clone();
    looped.threads = Some(1);
    let mut dedicated = a;
    dedicated.threads = Some(dedicated.load.clients);
    [("event loop", looped), ("thread per client", dedicated)]
}

/// The counting invariants every report must satisfy.
fn check_invariants(r: &BenchReport) {
    let e = &r.errors;
    assert_eq!(r.sent, r.replies_ok + e.total, "{r:?}");
    // Every client is exactly one of answered and unanswered.
    assert_eq!(
        r.clients_answered + r.clients_unanswered,
        r.clients as u64,
        "{r:?}"
    );
    assert_eq!(r.clients_unanswered, r.never_answered.total(), "{r:?}");
    assert_eq!(
        e.total,
        e.refused + e.reset + e.timeout + e.wrong_reply + e.closed_early + e.other,
        "{r:?}"
    );
    assert_eq!(r.latency_us.samples, r.replies_ok, "{r:?}");
    if r.replies_ok > 0 {
        let l = &r.latency_us;
        assert!(
            l.p50 >= 1 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.p999 && l.p999 <= l.max
        );
    }
}

/// Parses the JSON output and checks the documented keys and counts.
fn check_json(r: &BenchReport) {
    let text = render(r, OutputFormat::Json);
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    for key in [
        "version",
        "addr",
        "clients",
        "framing",
        "size",
        "churn",
        "duration_secs",
        "sent",
        "replies_ok",
        "abandoned",
        "errors",
        "msgs_per_sec",
        "conns_per_sec",
        "latency_us",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {text}");
    }
    for key in [
        "refused",
        "reset",
        "timeout",
        "wrong_reply",
        "closed_early",
        "other",
        "total",
    ] {
        assert!(v["errors"].get(key).is_some(), "missing errors.{key}");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(
            v["latency_us"].get(key).is_some(),
            "missing latency_us.{key}"
        );
    }
    let sent = v["sent"].as_u64().unwrap();
    let ok = v["replies_ok"].as_u64().unwrap();
    let errors = v["errors"]["total"].as_u64().unwrap();
    assert_eq!(sent, ok + errors);
    let back: BenchReport = serde_json::from_str(&text).expect("round trip");
    // Floats may lose their last bit through JSON text; counts may not.
    assert_eq!(
        (back.sent, back.replies_ok, back.errors),
        (r.sent, r.replies_ok, r.errors)
    );
    assert_eq!(
        (back.latency_us.p99, back.latency_us.max),
        (r.latency_us.p99, r.latency_us.max)
    );
    assert!((back.msgs_per_sec - r.msgs_per_sec).abs() <= 1e-6 * r.msgs_per_sec.max(1.0));
}

#[test]
fn every_framing_gets_every_reply_right() {
    for framing in ECHO_FRAMINGS {
        let server = serve(framing, Behaviour::Echo);
        let mut one = args(&server, framing, 1, 50);
        one.threads = None; // the default: one thread per client
        let cases = on_both_paths(args(&server, framing, 4, 50));
        for (path, a) in cases.into_iter().chain([("default", one)]) {
            let r = run_bench(&a).expect("bench runs");
            check_invariants(&r);
            check_json(&r);
            let n = 50 * a.load.clients as u64;
            assert_eq!((r.sent, r.replies_ok), (n, n), "{framing} {path}: {r:?}");
            assert_eq!(r.errors.total, 0, "{framing} {path}: {r:?}");
            assert_eq!(r.abandoned, 0, "{framing} {path}");
            assert_eq!(
                r.connections, a.load.clients as u64,
                "persistent: one per client"
            );
            assert_eq!(r.framing, framing);
        }
    }
}

#[test]
fn large_payloads_with_length_and_line_framing() {
    for framing in [Framing::Line, Framing::Length] {
        let server = serve(framing, Behaviour::Echo);
        let mut a = args(&server, framing, 2, 5);
        a.load.size = 300_000; // several reads and, likely, blocked writes
        for (path, a) in on_both_paths(a) {
            let r = run_bench(&a).expect("bench runs");
            check_invariants(&r);
            assert_eq!(r.replies_ok, 10, "{framing} {path}: {r:?}");
            assert_eq!(r.errors.total, 0, "{framing} {path}: {r:?}");
        }
    }
}

#[test]
fn churn_opens_a_connection_per_message() {
    for framing in ECHO_FRAMINGS {
        let server = serve(framing, Behaviour::Echo);
        let mut a = args(&server, framing, 20, 10);
        a.load.churn = true;
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        check_json(&r);
        assert_eq!(r.replies_ok, 200, "{framing}: {r:?}");
        assert_eq!(r.connections, 200, "{framing}: {r:?}");
        assert_eq!(r.errors.total, 0);
        assert!(r.conns_per_sec > 0.0);
    }
}

#[test]
fn dropped_connections_are_counted_not_hidden() {
    let server = serve(Framing::Raw, Behaviour::CloseAfter(3));
    let r = run_bench(&args(&server, Framing::Raw, 2, 20)).expect("bench runs");
    check_invariants(&r);
    check_json(&r);
    assert_eq!(r.sent, 40, "{r:?}");
    // Every 4th message of a connection finds it closed; how the kernel
    // reports that (EOF or reset) is a race, so either kind is fine.
    assert!(r.errors.closed_early + r.errors.reset > 0, "{r:?}");
    assert_eq!(
        r.errors.total,
        r.errors.closed_early + r.errors.reset,
        "{r:?}"
    );
    assert!(r.replies_ok >= 20, "clients reconnect after errors: {r:?}");
    assert!(r.connections > 2, "clients reconnect after errors: {r:?}");
}

#[test]
fn wrong_replies_are_detected() {
    for framing in ECHO_FRAMINGS {
        let server = serve(framing, Behaviour::Wrong);
        for (path, a) in on_both_paths(args(&server, framing, 2, 5)) {
            let r = run_bench(&a).expect("bench runs");
            check_invariants(&r);
            assert_eq!(r.sent, 10, "{framing} {path}: {r:?}");
            assert_eq!(r.errors.wrong_reply, 10, "{framing} {path}: {r:?}");
            assert_eq!(r.replies_ok, 0);
            assert_eq!(r.latency_us.max, 0, "no latency for failed attempts");
            assert_eq!(
                r.connections, 10,
                "{path}: a new connection after each error"
            );
        }
    }
}

#[test]
fn a_server_that_never_replies_times_out_and_the_run_ends() {
    let server = serve(Framing::Line, Behaviour::Silent);
    let mut a = args(&server, Framing::Line, 2, 2);
    a.load.timeout_ms = 200;
    for (path, a) in on_both_paths(a) {
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        assert_eq!(r.errors.timeout, 4, "{path}: {r:?}");
        assert_eq!((r.sent, r.abandoned), (4, 0), "{path}: {r:?}");
    }
}

#[test]
fn timed_runs_with_warmup_keep_the_invariant() {
    let server = serve(Framing::Raw, Behaviour::Echo);
    let mut a = args(&server, Framing::Raw, 3, 1);
    a.load.messages = None;
    a.load.duration = Some(0.3);
    a.load.warmup = 0.1;
    for (path, a) in on_both_paths(a) {
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        check_json(&r);
        assert!(r.replies_ok > 0, "{path}: {r:?}");
        assert_eq!(r.errors.total, 0, "{path}: {r:?}");
        assert!(r.abandoned <= 3, "{path}: {r:?}");
        assert!((r.duration_secs - 0.3).abs() < 1e-6);
        assert!(r.msgs_per_sec > 0.0);
        // The connections were made in the warm-up, so they are not counted.
        assert_eq!(r.connections, 0, "{path}: {r:?}");
    }
    // With --messages, exactly that many measured messages per client.
    let mut a = args(&server, Framing::Raw, 2, 30);
    a.load.warmup = 0.1;
    for (path, a) in on_both_paths(a) {
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        assert_eq!(
            (r.sent, r.replies_ok, r.abandoned),
            (60, 60, 0),
            "{path}: {r:?}"
        );
    }
}

#[test]
fn no_server_is_one_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut a = BenchArgs::new(format!("127.0.0.1:{port}"));
    a.load.messages = Some(1);
    a.load.timeout_ms = 1000;
    match run_bench(&a) {
        Err(e @ BenchError::Connect { .. }) => {
            assert!(e.is_usage());
            assert!(e.to_string().contains("cannot connect"), "{e}");
        }
        other => panic!("expected a connect error, got {other:?}"),
    }
}

#[test]
fn bad_arguments_are_rejected() {
    let server = serve(Framing::Raw, Behaviour::Echo);
    let mut a = args(&server, Framing::Raw, 1, 1);
    a.load.size = 1025;
    assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
    a.load.size = 0;
    assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
    a.load.size = 10;
    a.load.framing = Framing::Http;
    assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
    let mut a = args(&server, Framing::Raw, 1, 1);
    a.load.duration = Some(1.0);
    assert!(matches!(run_bench(&a), Err(BenchError::InvalidArgs(_))));
}

#[test]
fn table_csv_comparison_and_plot_render() {
    let server = serve(Framing::Raw, Behaviour::Echo);
    let one = run_bench(&args(&server, Framing::Raw, 2, 10)).expect("bench runs");
    let mut churn_args = args(&server, Framing::Raw, 2, 10);
    churn_args.load.churn = true;
    let two = run_bench(&churn_args).expect("bench runs");

    let table = render(&one, OutputFormat::Table);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        !lines[0].contains("protocol"),
        "echo tables keep their columns"
    );
    for h in [
        "addr", "clients", "msgs/s", "p50", "p90", "p99", "p99.9", "max", "errors",
    ] {
        assert!(lines[0].contains(h), "{h} missing in {table}");
    }

    let csv = render(&one, OutputFormat::Csv);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert_eq!(rows[0].split(',').count(), rows[1].split(',').count());

    let labelled = vec![
        ("serial".to_string(), one.clone()),
        ("threads".to_string(), two),
    ];
    let t = render_comparison(&labelled, OutputFormat::Table);
    assert_eq!(t.lines().count(), 3, "{t}");
    assert!(t.contains("serial") && t.contains("threads") && t.contains("conns/s"));
    let c = render_comparison(&labelled, OutputFormat::Csv);
    assert_eq!(c.lines().count(), 3);
    let j: serde_json::Value =
        serde_json::from_str(&render_comparison(&labelled, OutputFormat::Json)).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[0]["label"], "serial");
    assert_eq!(j[0]["replies_ok"], 20);

    let dir = std::env::temp_dir().join(format!("tcpmodes-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("compare.svg");
    plot_svg(&labelled, &path).expect("plot");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("<svg") && svg.contains("serial"), "{svg}");
    plot_svg(&labelled[..1], &path).expect("plot of one row");
    plot_svg(&labelled, &path).expect("plot");
    if std::env::var_os("KEEP_PLOT").is_some() {
        let _ = std::fs::copy(&path, std::env::temp_dir().join("tcpmodes-compare.svg"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dedicated_path_counts_a_server_closing_early() {
    let server = serve(Framing::Raw, Behaviour::CloseAfter(3));
    let mut a = args(&server, Framing::Raw, 1, 20);
    a.threads = Some(1);
    let r = run_bench(&a).expect("bench runs");
    check_invariants(&r);
    check_json(&r);
    // Each connection: 3 replies, then the 4th request finds it closed (EOF
    // or reset, a race in the kernel), then a reconnect: 5 rounds.
    assert_eq!((r.sent, r.replies_ok, r.errors.total), (20, 15, 5), "{r:?}");
    assert_eq!(
        r.errors.total,
        r.errors.closed_early + r.errors.reset,
        "{r:?}"
    );
    assert_eq!(r.connections, 5, "{r:?}");
}

/// A request still unanswered when a timed run ends is abandoned, not a
/// timeout, on both paths; and the run ends on time, not at the timeout.
#[test]
fn an_unanswered_request_at_the_end_of_the_run_is_abandoned() {
    let server = serve(Framing::Raw, Behaviour::Silent);
    for threads in [2, 1] {
        let mut a = args(&server, Framing::Raw, 2, 1);
        a.threads = Some(threads); // 2: dedicated path; 1: one event loop
        a.load.messages = None;
        a.load.duration = Some(0.3);
        a.load.timeout_ms = 60_000;
        let started = std::time::Instant::now();
        let r = run_bench(&a).expect("bench runs");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "threads={threads}: the run waited for the timeout"
        );
        check_invariants(&r);
        assert_eq!(r.errors.total, 0, "threads={threads}: {r:?}");
        assert_eq!((r.sent, r.abandoned), (0, 2), "threads={threads}: {r:?}");
        // Greeted, never answered: unanswered, not "neither".
        assert_eq!(
            (
                r.clients_answered,
                r.clients_unanswered,
                r.never_answered.greeted_only
            ),
            (0, 2, 2),
            "threads={threads}: {r:?}"
        );
    }
}

/// A server that accepts the generator's pre-flight connection (the
/// client's first), closes it, and stops listening: the first attempt
/// finds it closed, every later one is refused (or, if its connect got
/// into the accept queue before the close, reset), counted, and retried
/// after a backoff until --messages are used up.
#[test]
fn dedicated_path_counts_refusals_and_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().unwrap();
    let gone = thread::spawn(move || {
        let first = listener.accept();
        drop(listener);
        first.map(|_| ())
    });
    let mut a = BenchArgs::new(addr.to_string());
    a.load.messages = Some(3);
    a.no_progress = true;
    a.load.timeout_ms = 5_000;
    let r = run_bench(&a).expect("bench runs");
    assert!(gone.join().unwrap().is_ok());
    check_invariants(&r);
    assert_eq!((r.sent, r.replies_ok, r.errors.total), (3, 0, 3), "{r:?}");
    let e = &r.errors;
    assert!(
        e.closed_early <= 1,
        "only the first connection was accepted: {r:?}"
    );
    assert_eq!(e.closed_early + e.refused + e.reset, 3, "{r:?}");
}

/// Serial mode serves one client at a time: of three clients, only one is
/// answered during a short run, and the report says so instead of passing
/// off one client's rate as everyone's.
#[test]
fn clients_answered_shows_who_was_served_at_all() {
    for (mode, want) in [(tcpmodes::Mode::Serial, 1), (tcpmodes::Mode::Threads, 3)] {
        let config = tcpmodes::Config::default()
            .with_address("127.0.0.1:0")
            .with_mode(mode);
        let server = tcpmodes::Server::bind(config, tcpmodes::EchoHandler::default)
            .unwrap()
            .spawn();
        let mut args = tcpmodes::bench::BenchArgs::new(server.local_addr().to_string());
        args.load.clients = 3;
        args.threads = Some(1);
        args.load.duration = Some(0.5);
        args.no_progress = true;
        let report = tcpmodes::bench::run_bench(&args).unwrap();
        assert_eq!(report.clients_answered, want, "{mode}");
        assert_eq!(report.errors.total, 0, "{mode}");
        server.stop();
    }
}
