//! A real HAProxy in front of three `tcpmodes` servers, with the config of
//! `deploy/haproxy.cfg` (and `deploy/tls-client.cfg`, HAProxy as the TLS
//! client for the plain-TCP load generator), as `deploy/README.md` runs it:
//!
//! - the bench through the plain frontend and through TLS gets every reply
//!   right, and the lesson's transcript passes byte for byte over TLS;
//! - the servers (`--proxy-protocol v2`) log the clients' own addresses,
//!   not HAProxy's (which connects from 127.0.0.2: `SOURCE`);
//! - a server taken out of rotation (`state drain`) and then stopped with
//!   SIGTERM costs the clients nothing; one stopped with SIGTERM without
//!   the drain costs each client at most the one connection it had there;
//! - a server killed with SIGKILL costs its clients' connections: counted,
//!   consistent, printed.
//!
//! Skips (one line on stderr) when `haproxy` is not installed. Every
//! process is started here and ended by its guard; every wait is bounded.

// Linux only: HAProxy's stats socket is a Unix socket (`UnixStream`, so
// not Windows), the servers are stopped and killed with kill(1), and the
// HAProxy connects from 127.0.0.2 (`SOURCE`), which only Linux routes
// without setup (macOS has 127.0.0.1 alone on lo0).
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::client::Client;
use common::process::{Process, bin_command, run_to_exit};
use common::{PATIENCE, repo_path, temp_dir};
use serde_json::Value;
use tcpmodes::Framing;

/// HAProxy's address toward the servers (`SOURCE`): a server that logs it
/// logs HAProxy, not a client.
const HAPROXY_SOURCE: &str = "127.0.0.2";
/// The address of the TLS client of `tls-client.cfg` (`TLS_SOURCE`): the
/// client the TLS frontend sees for the bench's TLS runs.
const TLS_CLIENT_SOURCE: &str = "127.0.0.3";

/// The haproxy program: on PATH, or where Debian puts it (/usr/sbin, which
/// a non-root PATH may lack); `None`, said in one line, if neither runs.
fn haproxy_program() -> Option<&'static str> {
    let found = ["haproxy", "/usr/sbin/haproxy"].into_iter().find(|p| {
        Command::new(p)
            .arg("-v")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if found.is_none() {
        eprintln!("skipped: haproxy not installed (apt-get install haproxy)");
    }
    found
}

/// A port of 127.0.0.1 free a moment ago, for HAProxy to bind.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A self-signed certificate for `localhost` and its key, made now, in one
/// PEM file (HAProxy's `crt` wants both); the certificate alone too, for
/// the Python client to verify against.
fn make_certificate(dir: &std::path::Path) -> (PathBuf, PathBuf) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let pem = dir.join("haproxy.pem");
    let ca = dir.join("cert.pem");
    std::fs::write(
        &pem,
        format!("{}{}", cert.pem(), signing_key.serialize_pem()),
    )
    .unwrap();
    std::fs::write(&ca, cert.pem()).unwrap();
    (pem, ca)
}

/// Three servers and HAProxy in front; every process ended on drop.
struct Stack {
    backends: Vec<Option<Process>>,
    haproxy: Haproxy,
    plain: SocketAddr,
    tls: SocketAddr,
    tls_client: SocketAddr,
    ca: PathBuf,
    dir: PathBuf,
}

/// HAProxy as a child process (`-db`: in the foreground, logging to
/// stderr), its stderr kept; killed and reaped on drop.
struct Haproxy {
    child: Child,
    stderr: Arc<Mutex<String>>,
    stats: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        // Ends only the process this test started.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Haproxy {
    /// One command on the runtime API (`stats socket`); its answer.
    fn api(&self, command: &str) -> String {
        let mut s = UnixStream::connect(&self.stats).expect("HAProxy's stats socket");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(format!("{command}\n").as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read the API's answer");
        out
    }

    /// Server `name`'s row of `show stat`, by column name.
    fn server_stat(&self, name: &str) -> std::collections::HashMap<String, String> {
        let out = self.api("show stat");
        let mut lines = out.lines();
        let header: Vec<&str> = lines
            .next()
            .expect("a header")
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let row = lines
            .find(|l| l.starts_with(&format!("echo,{name},")))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{out}"));
        header
            .iter()
            .zip(row.split(','))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Waits (bounded) until server `name`'s `status` starts with `want`.
    fn wait_status(&self, name: &str, want: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.server_stat(name)["status"].clone();
            if status.starts_with(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} is {status}, not {want}; HAProxy said:\n{}",
                self.stderr.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Stack {
    /// Three servers on free ports, `--proxy-protocol v2`, `-v` (so each
    /// connection's end and message count are logged), and HAProxy with
    /// the deploy config in front; returns once all three are UP.
    fn start(program: &str, tag: &str) -> Stack {
        let dir = temp_dir(tag);
        let backends: Vec<Option<Process>> = (0..3)
            .map(|_| {
                Some(Process::bin(&[
                    "--addr",
                    "127.0.0.1:0",
                    "--mode",
                    "event",
                    "--proxy-protocol",
                    "v2",
                    "-v",
                ]))
            })
            .collect();
        let (pem, ca) = make_certificate(&dir);
        let (plain, tls, tls_client) = (free_addr(), free_addr(), free_addr());
        // A Unix socket's path may not pass 107 bytes, which a deep
        // checkout's target/tmp could: the system's temporary directory.
        let stats = std::env::temp_dir().join(format!(
            "tcpmodes-{}.sock",
            dir.file_name().unwrap().to_string_lossy()
        ));
        let _ = std::fs::remove_file(&stats);
        let mut cmd = Command::new(program);
        cmd.arg("-db")
            .arg("-f")
            .arg(repo_path("deploy/haproxy.cfg"))
            .arg("-f")
            .arg(repo_path("deploy/tls-client.cfg"))
            .env("PLAIN", plain.to_string())
            .env("TLS", tls.to_string())
            .env("TLS_CLIENT", tls_client.to_string())
            .env("PEM", &pem)
            .env("STATS", &stats)
            .env("SOURCE", HAPROXY_SOURCE)
            .env("TLS_SOURCE", TLS_CLIENT_SOURCE);
        for (i, b) in backends.iter().enumerate() {
            let addr = b.as_ref().unwrap().addr.to_string();
            cmd.env(format!("BACKEND{}", i + 1), addr);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start haproxy");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let haproxy = Haproxy {
            child,
            stderr,
            stats,
        };
        let deadline = Instant::now() + PATIENCE;
        while !haproxy.stats.exists() {
            assert!(
                Instant::now() < deadline,
                "HAProxy did not start:\n{}",
                haproxy.stderr.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(20));
        }
        for s in ["s1", "s2", "s3"] {
            haproxy.wait_status(s, "UP");
        }
        Stack {
            backends,
            haproxy,
            plain,
            tls,
            tls_client,
            ca,
            dir,
        }
    }

    /// Stops every server still running with SIGINT (graceful, as Ctrl+C)
    /// and returns their logs, all together.
    fn stop_all(&mut self) -> String {
        let mut logs = String::new();
        for b in self.backends.iter_mut().filter_map(Option::take) {
            logs.push_str(&b.stop("INT").stderr);
        }
        logs
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.haproxy.stats);
    }
}

/// Runs `tcpmodes bench` against `addr` with `args` (bounded by
/// [`PATIENCE`]); its JSON report.
fn bench(addr: SocketAddr, args: &[&str]) -> Value {
    let addr = addr.to_string();
    let mut all = vec![
        "bench",
        "--addr",
        &addr,
        "--format",
        "json",
        "--allow-errors",
        "--no-progress",
    ];
    all.extend_from_slice(args);
    let exit = run_to_exit(bin_command(&all));
    assert_eq!(exit.code, Some(0), "bench {args:?}: {}", exit.stderr);
    serde_json::from_str(&exit.stdout)
        .unwrap_or_else(|e| panic!("bench JSON: {e}: {}", exit.stdout))
}

fn n(report: &Value, path: &[&str]) -> u64 {
    let mut v = report;
    for key in path {
        v = &v[key];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {report}"))
}

/// Prints the figures a reader of the test output wants, one line.
fn summary(what: &str, r: &Value) -> String {
    format!(
        "{what}: sent {}, replies_ok {}, errors {} {}, unanswered {}, clients_unanswered {}, connections {}, msgs/s {:.0}, p99 {} us",
        n(r, &["sent"]),
        n(r, &["replies_ok"]),
        n(r, &["errors", "total"]),
        r["errors"],
        n(r, &["unanswered"]),
        n(r, &["clients_unanswered"]),
        n(r, &["connections"]),
        r["msgs_per_sec"].as_f64().unwrap_or(0.0),
        n(r, &["latency_us", "p99"]),
    )
}

/// Every reply of a `--messages` run right: no error, none unanswered.
fn assert_all_answered(what: &str, r: &Value, clients: u64, messages: u64) {
    eprintln!("{}", summary(what, r));
    assert_eq!(n(r, &["errors", "total"]), 0, "{}", summary(what, r));
    assert_eq!(n(r, &["unanswered"]), 0, "{}", summary(what, r));
    assert_eq!(n(r, &["clients_unanswered"]), 0, "{}", summary(what, r));
    assert_eq!(
        n(r, &["replies_ok"]),
        clients * messages,
        "{}",
        summary(what, r)
    );
}

/// The bench's own bookkeeping holds: every attempt ended in one reply or
/// one error, and the error kinds add up to the total.
fn assert_consistent(what: &str, r: &Value) {
    let errors = &r["errors"];
    let kinds: u64 = [
        "refused",
        "reset",
        "timeout",
        "wrong_reply",
        "closed_early",
        "other",
    ]
    .iter()
    .map(|k| n(errors, &[k]))
    .sum();
    assert_eq!(kinds, n(r, &["errors", "total"]), "{}", summary(what, r));
    assert_eq!(
        n(r, &["sent"]),
        n(r, &["replies_ok"]) + n(r, &["errors", "total"]),
        "{}",
        summary(what, r)
    );
}

/// The debug lines `Client #N (ADDR) done: REASON after S s, M messages.`
/// of `logs`: (address, messages).
fn finished_connections(logs: &str) -> Vec<(String, u64)> {
    finished(logs).map(|(addr, _, m)| (addr, m)).collect()
}

/// The same lines as (address, reason, messages).
fn finished(logs: &str) -> impl Iterator<Item = (String, String, u64)> + '_ {
    logs.lines().filter_map(|l| {
        let rest = l.split_once("debug: Client #")?.1;
        let (addr, rest) = rest.split_once(" (")?.1.split_once(") done: ")?;
        let (reason, rest) = rest.rsplit_once(" after ")?;
        let count = rest.rsplit_once(", ")?.1.strip_suffix(" messages.")?;
        Some((addr.to_string(), reason.to_string(), count.parse().ok()?))
    })
}

#[test]
fn plain_and_tls_through_haproxy_answer_everything_and_the_servers_see_the_clients() {
    let Some(program) = haproxy_program() else {
        return;
    };
    let mut stack = Stack::start(program, "haproxy-paths");
    // One client of our own, whose address we know.
    let mut own = Client::greeted(stack.plain, Framing::Raw);
    own.echo(b"hello through haproxy");
    let own_addr = own.local();
    own.send("exit");
    own.expect_closed();

    let (clients, messages) = (16, 200);
    let args = [
        "--clients",
        "16",
        "--messages",
        "200",
        "--timeout-ms",
        "10000",
    ];
    let plain = bench(stack.plain, &args);
    assert_all_answered("plain", &plain, clients, messages);
    let tls = bench(stack.tls_client, &args);
    assert_all_answered("tls", &tls, clients, messages);

    // The lesson, byte for byte, over TLS, the certificate verified.
    let out = run_to_exit({
        let mut cmd = Command::new("python3");
        cmd.arg(repo_path("scripts/lesson_client_tls.py"))
            .arg(stack.tls.port().to_string())
            .arg(&stack.ca);
        cmd
    });
    assert_eq!(out.code, Some(0), "python TLS client: {}", out.stderr);
    assert_eq!(
        out.stdout,
        "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n\
         Received message4;\nReceived message5;\n"
    );
    let python_addr = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("local "))
        .expect("the client's address")
        .to_string();

    let logs = stack.stop_all();
    for who in [&own_addr, &python_addr] {
        assert!(
            logs.contains(&format!("Accept new connection from {who}...")),
            "no server logged {who}"
        );
    }
    let done = finished_connections(&logs);
    let from = |prefix: &str| -> Vec<&(String, u64)> {
        done.iter()
            .filter(|(a, _)| a.starts_with(&format!("{prefix}:")))
            .collect()
    };
    // HAProxy's own connections are its health checks only: a PROXY v2
    // LOCAL header, the greeting read, no message. Had a server ignored
    // the header, the bench's connections would be here with messages.
    let checks = from(HAPROXY_SOURCE);
    assert!(!checks.is_empty(), "no health check logged");
    assert!(
        checks.iter().all(|(_, m)| *m == 0),
        "a connection from HAProxy's own address carried messages: {checks:?}"
    );
    // The bench's plain connections under their own addresses, with all
    // their messages; the TLS runs under the TLS client's.
    let direct: u64 = from("127.0.0.1").iter().map(|(_, m)| m).sum();
    let via_tls: u64 = from(TLS_CLIENT_SOURCE).iter().map(|(_, m)| m).sum();
    // Every bench message, plus our own client's two (its `exit` counts)
    // and the Python client's six; the bench leaves without `exit`.
    assert_eq!(
        direct,
        clients * messages + 2 + 6,
        "messages from 127.0.0.1"
    );
    assert_eq!(via_tls, clients * messages, "messages via the TLS client");
    eprintln!(
        "servers saw: {} connections from 127.0.0.1 ({direct} messages), {} from the TLS client {TLS_CLIENT_SOURCE} ({via_tls}), {} health checks from {HAPROXY_SOURCE}",
        from("127.0.0.1").len(),
        from(TLS_CLIENT_SOURCE).len(),
        checks.len()
    );
}

/// Runs the bench against `addr` with `args` on a thread of its own while
/// `during` acts on the stack; returns the bench's report.
fn bench_while(addr: SocketAddr, args: &[&str], during: impl FnOnce()) -> Value {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let run = thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bench(addr, &args)
    });
    during();
    run.join().expect("the bench thread")
}

/// Short connections (`--churn`: connect, greeting, one message, close),
/// as a balancer moves them: `clients` of them for `secs` seconds.
fn churn_args<'a>(clients: &'a str, secs: &'a str) -> [&'a str; 7] {
    [
        "--churn",
        "--clients",
        clients,
        "--duration",
        secs,
        "--timeout-ms",
        "10000",
    ]
}

#[test]
fn a_server_drained_then_stopped_with_sigterm_costs_no_client_anything() {
    let Some(program) = haproxy_program() else {
        return;
    };
    let mut stack = Stack::start(program, "haproxy-term");
    let s1 = stack.backends[0].take().unwrap();
    let haproxy = &stack.haproxy;
    let mut drained_in = Duration::ZERO;
    let r = bench_while(stack.plain, &churn_args("8", "3"), || {
        thread::sleep(Duration::from_secs(1));
        // What an operator does before stopping a server: out of rotation
        // (no new connection goes to it), its connections left to end.
        let answer = haproxy.api("set server echo/s1 state drain");
        assert!(answer.trim().is_empty(), "HAProxy said: {answer}");
        let start = Instant::now();
        while haproxy.server_stat("s1")["scur"] != "0" {
            assert!(start.elapsed() < PATIENCE, "s1 never drained");
            thread::sleep(Duration::from_millis(5));
        }
        drained_in = start.elapsed();
        let exit = s1.stop("TERM");
        assert_eq!(exit.code, Some(0), "s1: {}", exit.stderr);
    });
    eprintln!("s1 drained in {drained_in:?}, then stopped with SIGTERM");
    eprintln!("{}", summary("drain, SIGTERM", &r));
    assert_consistent("drain, SIGTERM", &r);
    assert_eq!(n(&r, &["errors", "total"]), 0, "{}", summary("drain", &r));
    assert_eq!(n(&r, &["clients_unanswered"]), 0);
    // A timed run's only unanswered requests are those in flight when it
    // ended (abandoned), none lost.
    assert_eq!(n(&r, &["unanswered"]), n(&r, &["abandoned"]));
    haproxy.wait_status("s1", "DOWN");

    // The same stop without the drain: the server stops accepting at once
    // (HAProxy's retries and redispatch move new connections elsewhere),
    // answers what it has received, and closes the connections it holds
    // idle: a client that was greeted and was about to send loses that
    // connection. Those, and only those, may cost the clients: at most one
    // each.
    let s2 = stack.backends[1].take().unwrap();
    let before = haproxy.server_stat("s2");
    let mut exit = None;
    let r = bench_while(stack.plain, &churn_args("8", "3"), || {
        thread::sleep(Duration::from_secs(1));
        exit = Some(s2.stop("TERM"));
    });
    let exit = exit.unwrap();
    assert_eq!(exit.code, Some(0), "s2: {}", exit.stderr);
    // For the record: connections from clients (not HAProxy's checks)
    // that s2 closed at shutdown before any message came.
    let idle_closed = finished(&exit.stderr)
        .filter(|(a, why, m)| {
            !a.starts_with(&format!("{HAPROXY_SOURCE}:")) && why == "server shutdown" && *m == 0
        })
        .count() as u64;
    // And those it closed before their PROXY header was read (accepted,
    // not yet served): the summary's "closed unserved".
    let unserved: u64 = exit
        .stdout
        .split(", ")
        .find_map(|part| part.strip_suffix(" closed unserved"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'closed unserved' in {:?}", exit.stdout));
    let after = haproxy.server_stat("s2");
    let count = |stats: &std::collections::HashMap<String, String>, k: &str| -> u64 {
        stats[k].parse().unwrap_or(0)
    };
    let redispatched = count(&after, "wredis") - count(&before, "wredis");
    eprintln!("{}", summary("SIGTERM without drain", &r));
    eprintln!(
        "s2 closed at shutdown {idle_closed} client connections that had sent nothing and {unserved} not yet served; HAProxy redispatched {redispatched} connects it refused; s2's summary: {}",
        exit.stdout.trim()
    );
    assert_consistent("SIGTERM without drain", &r);
    let errors = n(&r, &["errors", "total"]);
    assert_eq!(errors, n(&r, &["errors", "closed_early"]));
    // Each client had at most one connection on s2 when it stopped (idle,
    // not yet served, or still in its accept queue, which the kernel
    // resets when the listener closes); every later one was refused and
    // redispatched, so no client loses more than that one.
    assert!(
        errors <= 8,
        "{errors} errors from 8 clients: HAProxy sent connections to the stopped server"
    );
    assert_eq!(n(&r, &["clients_unanswered"]), 0);
    drop(stack);
}

#[test]
fn a_server_killed_with_sigkill_costs_the_connections_it_held() {
    let Some(program) = haproxy_program() else {
        return;
    };
    let mut stack = Stack::start(program, "haproxy-kill");
    let s1 = stack.backends[0].take().unwrap();
    let haproxy = &stack.haproxy;
    let mut held = 0;
    let args = [
        "--clients",
        "16",
        "--duration",
        "3",
        "--timeout-ms",
        "10000",
    ];
    let r = bench_while(stack.plain, &args, || {
        // Half a second of load, then as soon as s1 holds some clients
        // (a slow machine may take longer to connect them all).
        thread::sleep(Duration::from_millis(500));
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            held = haproxy.server_stat("s1")["scur"].parse::<u64>().unwrap();
            if held > 0 {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let exit = s1.stop("KILL");
        assert_eq!(exit.code, None, "killed by a signal");
    });
    haproxy.wait_status("s1", "DOWN");
    let s = haproxy.server_stat("s1");
    eprintln!("{}", summary("SIGKILL", &r));
    eprintln!(
        "s1 held {held} of the 16 clients when killed; HAProxy retried {} connects to it and redispatched {}",
        s["wretr"], s["wredis"]
    );
    assert_consistent("SIGKILL", &r);
    assert!(held > 0, "s1 had no client to lose");
    // Each client whose connection went through s1 lost it (reset), at
    // least one error each; it then reconnected, and HAProxy sent the new
    // connection elsewhere (retried and redispatched if it picked the dead
    // s1 before its check marked it DOWN).
    let errors = n(&r, &["errors", "total"]);
    assert!(errors >= held, "{}", summary("SIGKILL", &r));
    assert_eq!(n(&r, &["clients_unanswered"]), 0);
    assert_eq!(n(&r, &["unanswered"]), n(&r, &["abandoned"]));
    drop(stack);
}
