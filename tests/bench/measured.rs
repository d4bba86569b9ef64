//! What every client lived through, measured: each client's wait for
//! service and the clients never served (against servers that serve one
//! client at a time), the open loop (`--rate`) against a server that
//! stalls on purpose, exchanges other than echo (`--greeting`, `--request`,
//! `--expect`), the `--histogram` file, timelines, and the exit verdict of
//! the binary when clients go unanswered. A module of `tests/bench.rs`, on
//! its servers.
//!
//! Assertions bound what a busy machine can only make larger (a wait, an
//! open-loop latency) from below, and what it cannot reach from above
//! with wide margins; counts are exact where `--messages` makes them so.

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use tcpmodes::bench::{BenchArgs, BenchError, BenchReport, OutputFormat, render, run_bench};
use tcpmodes::{Framing, Mode};

use super::common::process::{bin_command, run_to_exit};
use super::common::servers::echo_server;
use super::common::temp_dir;
use super::{Behaviour, IDLE, TestServer, args, check_invariants, listen, on_both_paths, serve};

/// The counting invariants of an open-loop run: as [`check_invariants`],
/// except that the requests unanswered at the end are latency samples too.
fn check_open_invariants(r: &BenchReport) {
    assert_eq!(r.sent, r.replies_ok + r.errors.total, "{r:?}");
    assert_eq!(r.latency_us.samples, r.replies_ok + r.unanswered, "{r:?}");
    assert!(r.unanswered >= r.abandoned, "{r:?}");
    let l = &r.latency_us;
    assert!(l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max, "{r:?}");
}

/// The keys this measurement added to the JSON, present and readable.
fn check_new_json_keys(r: &BenchReport) {
    let v: serde_json::Value = serde_json::from_str(&render(r, OutputFormat::Json)).unwrap();
    for key in [
        "clients_unanswered",
        "wait_us",
        "unanswered",
        "rate",
        "never_answered",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["p50", "p90", "p99", "max"] {
        assert!(v["wait_us"].get(key).is_some(), "missing wait_us.{key}");
    }
    assert_eq!(v["version"], 1, "keys were only added");
}

/// A bench of `clients` against the framework's serial mode for `secs`.
fn serial_args(addr: String, clients: usize, secs: f64) -> BenchArgs {
    let mut a = BenchArgs::new(addr);
    a.load.clients = clients;
    a.load.duration = Some(secs);
    a.no_progress = true;
    a
}

/// Serial mode serves one client at a time: of three, one is served for
/// the whole run and two wait for it, never greeted. Their waiting is
/// measured (to the run's end), counted, and shown on the timeline, on
/// both paths of the generator.
#[test]
fn waits_and_unanswered_clients_against_a_one_at_a_time_server() {
    let server = echo_server(Mode::Serial, |_| {});
    let mut a = serial_args(server.local_addr().to_string(), 3, 0.5);
    a.timeline = true;
    for (path, a) in on_both_paths(a) {
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        check_new_json_keys(&r);
        assert_eq!(
            (r.clients_answered, r.clients_unanswered),
            (1, 2),
            "{path}: {r:?}"
        );
        assert_eq!(r.never_answered.silent, 2, "{path}: {r:?}");
        assert_eq!(r.never_answered.total(), 2, "{path}: {r:?}");
        assert_eq!(r.errors.total, 0, "{path}: {r:?}");
        // One wait each: the served client's, and two to the run's end.
        assert_eq!(r.wait_us.samples, 3, "{path}: {r:?}");
        assert!(r.wait_us.max >= 300_000, "{path}: {r:?}");
        assert!(
            r.wait_us.p50 >= 300_000,
            "two of three waited: {path}: {r:?}"
        );
        // Each waiting client's attempt is still open at the end.
        assert!(r.unanswered >= 2, "{path}: {r:?}");
        assert_eq!(r.unanswered, r.abandoned, "closed loop: {path}: {r:?}");
        assert_eq!(r.rate, None);

        assert_eq!(r.timeline.len(), 3, "{path}: {r:?}");
        let served: Vec<bool> = r
            .timeline
            .iter()
            .map(|c| c.connections.iter().any(|s| s.served_s.is_some()))
            .collect();
        assert_eq!(
            served.iter().filter(|s| **s).count(),
            1,
            "{path}: {served:?}"
        );
        for (i, c) in r.timeline.iter().enumerate() {
            assert_eq!(c.client, i);
            let first = c.connections.first().expect("each client connected");
            assert!(first.connect_s <= first.end_s, "{path}: {c:?}");
            if !served[i] {
                assert_eq!(c.connections.len(), 1, "{path}: {c:?}");
                assert!(first.end_s - first.connect_s >= 0.3, "{path}: {c:?}");
            }
        }
        let table = render(&r, OutputFormat::Table);
        assert!(table.contains("unanswered clients") && table.contains("wait p99"));
    }
    server.stop();
}

/// The serial comparison the issue starts from, in miniature: under
/// `--rate`, the client never served has requests due all run long, each
/// unanswered and a latency sample, so p99 shows the wait.
#[test]
fn open_loop_counts_the_requests_of_a_client_never_served() {
    let server = echo_server(Mode::Serial, |_| {});
    let mut a = serial_args(server.local_addr().to_string(), 2, 0.6);
    a.load.rate = Some(100.0);
    let r = run_bench(&a).expect("bench runs");
    server.stop();
    check_open_invariants(&r);
    check_new_json_keys(&r);
    assert_eq!(r.rate, Some(100.0));
    assert_eq!((r.clients_answered, r.clients_unanswered), (1, 1), "{r:?}");
    // The waiting client had a request due every 20 ms.
    assert!(r.unanswered >= 20, "{r:?}");
    assert!(r.latency_us.p99 >= 300_000, "{r:?}");
    assert!(r.replies_ok > 0 && r.replies_ok <= 31, "{r:?}");
}

/// A server that stalls once for 200 ms: in a closed loop the stalled
/// reply is one sample among a thousand and p99 does not see it (the
/// requests that would have waited were never sent); under `--rate` every
/// request due during the stall waits for it and keeps its due time, so
/// p99 shows it.
#[test]
fn a_stall_shows_in_open_loop_p99_and_hides_in_the_closed_loop() {
    let stall = Duration::from_millis(200);
    let server = serve(
        Framing::Line,
        Behaviour::Stall {
            at: 50,
            pause: stall,
        },
    );
    for (path, a) in on_both_paths(args(&server, Framing::Line, 2, 1000)) {
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        assert_eq!(r.replies_ok, 2000, "{path}: {r:?}");
        assert!(
            r.latency_us.max >= 190_000,
            "the stall itself: {path}: {r:?}"
        );
        assert!(r.latency_us.p99 < 100_000, "{path}: {r:?}");
    }
    let mut open = args(&server, Framing::Line, 2, 120);
    open.load.rate = Some(400.0); // 200/s each: 40 requests due per stall
    for (path, a) in on_both_paths(open) {
        let r = run_bench(&a).expect("bench runs");
        check_open_invariants(&r);
        assert_eq!((r.replies_ok, r.unanswered), (240, 0), "{path}: {r:?}");
        assert!(r.latency_us.p99 >= 100_000, "{path}: {r:?}");
        assert!(r.latency_us.p90 >= 20_000, "{path}: {r:?}");
    }
}

/// A key-value server without greeting: reads `SET <key> <value>` lines,
/// answers each with the line `reply` makes of it; records what it was
/// sent.
fn kv_server(reply: fn(&str) -> String, seen: Arc<Mutex<Vec<String>>>) -> TestServer {
    listen(move |s| {
        let seen = seen.clone();
        thread::spawn(move || {
            let _ = s.set_read_timeout(Some(IDLE));
            let mut w = s.try_clone().expect("clone");
            let mut r = BufReader::new(s);
            for _ in 0..100_000 {
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let line = line.trim_end().to_string();
                let answer = reply(&line) + "\n";
                seen.lock().unwrap().push(line);
                if w.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
        });
    })
}

#[test]
fn any_request_reply_exchange_with_placeholders() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = kv_server(|_| "OK".into(), seen.clone());
    let mut a = args(&server, Framing::Line, 2, 5);
    a.load.greeting = Some("none".into());
    a.load.request = Some("SET k{n} v{client}".into());
    a.load.expect = Some("OK".into());
    for (path, a) in on_both_paths(a) {
        seen.lock().unwrap().clear();
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        assert_eq!((r.replies_ok, r.errors.total), (10, 0), "{path}: {r:?}");
        // Without a greeting, each client is served by its first reply.
        assert_eq!((r.clients_unanswered, r.wait_us.samples), (0, 2), "{path}");
        assert_eq!(r.size, "SET k0 v0".len());
        let x = r.exchange.as_ref().expect("the exchange is reported");
        assert_eq!(x.request.as_deref(), Some("SET k{n} v{client}"));
        let mut got = seen.lock().unwrap().clone();
        got.sort();
        let mut want: Vec<String> = (0..2)
            .flat_map(|c| (0..5).map(move |n| format!("SET k{n} v{c}")))
            .collect();
        want.sort();
        assert_eq!(got, want, "{path}");
    }
    // Replies that differ from --expect are wrong replies, and said so.
    let mut a = args(&server, Framing::Line, 2, 3);
    a.load.greeting = Some("none".into());
    a.load.request = Some("SET k{n} v".into());
    a.load.expect = Some("DONE".into());
    let r = run_bench(&a).expect("bench runs");
    check_invariants(&r);
    assert_eq!(r.errors.wrong_reply, 6, "{r:?}");
    assert_eq!(r.never_answered.wrong_reply, 2, "{r:?}");
}

#[test]
fn expect_any_takes_any_one_message_its_framing_ends() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    // A different reply to each request.
    let server = kv_server(|line| format!("OK {}", line.len() * 7), seen);
    let mut a = args(&server, Framing::Line, 2, 10);
    a.load.greeting = Some("none".into());
    a.load.request = Some("SET k{n} v".into());
    a.load.expect = Some("any".into());
    for (path, a) in on_both_paths(a) {
        let r = run_bench(&a).expect("bench runs");
        check_invariants(&r);
        assert_eq!((r.replies_ok, r.errors.total), (20, 0), "{path}: {r:?}");
    }
    // Echo servers in every framing that marks ends: any reply will do.
    let server = serve(Framing::Length, Behaviour::Echo);
    let mut a = args(&server, Framing::Length, 2, 10);
    a.load.expect = Some("any".into());
    let r = run_bench(&a).expect("bench runs");
    check_invariants(&r);
    assert_eq!(r.replies_ok, 20, "{r:?}");
    // Raw framing cannot say where a reply ends.
    a.load.framing = Framing::Raw;
    match run_bench(&a) {
        Err(BenchError::InvalidArgs(msg)) => assert!(msg.contains("--expect any"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn histogram_file_is_hdrhistograms_percentile_distribution() {
    let server = serve(Framing::Raw, Behaviour::Echo);
    let dir = temp_dir("bench-histogram");
    let path = dir.join("latency.hgrm");
    let mut a = args(&server, Framing::Raw, 2, 50);
    a.histogram = Some(path.clone());
    let r = run_bench(&a).expect("bench runs");
    let text = std::fs::read_to_string(&path).expect("histogram written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "       Value   Percentile   TotalCount 1/(1-Percentile)"
    );
    assert_eq!(lines[1], "");
    let n = lines.len();
    assert!(
        lines[n - 3].starts_with("#[Mean    = ") && lines[n - 3].contains(", StdDeviation   = ")
    );
    assert!(lines[n - 2].starts_with("#[Max     = "));
    assert!(lines[n - 2].ends_with(&format!(", Total count    = {:>12}]", r.replies_ok)));
    assert!(
        lines[n - 1].starts_with("#[Buckets = ")
            && lines[n - 1].ends_with("SubBuckets     =         2048]")
    );
    let rows = &lines[2..n - 3];
    assert!(rows.len() > 5, "{text}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols.len(), 4, "{row}");
        assert_eq!(row.len(), 4 * 12 + 3, "fixed-width columns: {row:?}");
        // Milliseconds with 3 decimals, as wrk2 prints them.
        assert_eq!(cols[0].split('.').nth(1).map(str::len), Some(3), "{row}");
    }
    let last: Vec<&str> = rows[rows.len() - 1].split_whitespace().collect();
    assert_eq!((last[1], last[3]), ("1.000000", "inf"));
    assert_eq!(last[2], r.replies_ok.to_string());
    // The max row is the latency's max, in ms.
    let max_ms: f64 = last[0].parse().unwrap();
    assert!(
        (max_ms * 1000.0 - r.latency_us.max as f64).abs() <= r.latency_us.max as f64 * 0.01 + 1.0
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A path that cannot be written is refused before any load.
    let mut a = args(&server, Framing::Raw, 1, 1);
    a.histogram = Some(std::path::PathBuf::from("/nonexistent-dir/x.hgrm"));
    assert!(matches!(run_bench(&a), Err(BenchError::Write { .. })));
}

#[test]
fn churn_timelines_hold_every_connection_in_order() {
    let server = serve(Framing::Raw, Behaviour::Echo);
    let mut a = args(&server, Framing::Raw, 2, 5);
    a.load.churn = true;
    a.timeline = true;
    let r = run_bench(&a).expect("bench runs");
    check_invariants(&r);
    assert_eq!(r.wait_us.samples, 10, "a wait per connection: {r:?}");
    assert_eq!(r.timeline.len(), 2);
    for c in &r.timeline {
        assert_eq!(c.connections.len(), 5, "{c:?}");
        for s in &c.connections {
            let served = s.served_s.expect("every connection was served");
            assert!(s.connect_s <= served && served <= s.end_s, "{s:?}");
        }
        assert!(
            c.connections
                .windows(2)
                .all(|w| w[0].end_s <= w[1].connect_s)
        );
    }
    a.timeline = false;
    assert!(run_bench(&a).expect("bench runs").timeline.is_empty());
}

/// The binary's verdict: a client never answered fails the run (unless
/// `--allow-errors`), a run with no answer at all always fails, and one
/// line on stderr says why.
#[test]
fn unanswered_clients_fail_the_run_with_the_cause() {
    let bench = |addr: &str, extra: &[&str]| {
        let mut cmd = bin_command(&["bench", "--addr", addr, "--clients", "2"]);
        cmd.args(["--duration", "0.3", "--no-progress"]).args(extra);
        run_to_exit(cmd)
    };
    // Serial mode: one client served, the other never greeted.
    let serial = echo_server(Mode::Serial, |_| {});
    let addr = serial.local_addr().to_string();
    let out = bench(&addr, &[]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(
            "bench: 1 of 2 clients were never answered: the server sent no greeting, to 1 of them"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stdout.contains("unanswered clients"), "{}", out.stdout);
    let out = bench(&addr, &["--allow-errors"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    serial.stop();

    // A server that accepts and never says a word: nothing answered.
    let mut held = Vec::new();
    let silent = listen(move |s| held.push(s));
    let out = bench(&silent.addr.to_string(), &["--allow-errors"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("none of the 2 clients was answered")
            && out.stderr.contains("the server sent no greeting"),
        "{}",
        out.stderr
    );

    // A greeting in another framing: bytes came, but not the greeting.
    let line = serve(Framing::Line, Behaviour::Echo);
    let out = bench(&line.addr.to_string(), &["--framing", "raw"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("not the expected greeting")
            && out.stderr.contains("does --framing match the server's?"),
        "{}",
        out.stderr
    );
}
