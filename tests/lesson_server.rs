//! The lesson's own Python servers (`scripts/server.py`, kept verbatim,
//! and `scripts/server_threads.py`, its next step), measured by `bench`:
//! the tool must never harm what it measures.
//!
//! `scripts/on_port.py` runs a lesson server unchanged on a free port (the
//! lesson binds 9999); the many-run test shortens its `time.sleep(1)`.

mod common;

use std::process::Command;

use common::have;
use common::process::{Process, bin_command, run_to_exit};

/// The lesson's server on a free port, its pause `sleep` seconds.
fn lesson_server(script: &str, sleep: Option<&str>) -> Process {
    let mut cmd = Command::new(common::PYTHON);
    cmd.arg(common::repo_path("scripts/on_port.py"))
        .arg("0")
        .arg(common::repo_path(script));
    if let Some(s) = sleep {
        cmd.args(["--sleep", s]);
    }
    Process::start(cmd)
}

fn bench(addr: &str, extra: &[&str]) -> common::process::Exit {
    let mut args = vec!["bench", "--addr", addr, "--clients", "1", "--messages", "1"];
    args.extend_from_slice(extra);
    run_to_exit(bin_command(&args))
}

/// Before, `bench` opened a connection of its own and closed it unread:
/// the server's `recv` met the reset and died with a traceback in 6 runs
/// of 15. Now the only connections are the clients asked for.
// Unix: the Python server is stopped with SIGTERM by kill(1), so that it
// flushes the log read here.
#[cfg(unix)]
#[test]
fn twenty_benches_leave_the_lessons_server_alive_and_quiet() {
    if !have(common::PYTHON) {
        return;
    }
    let server = lesson_server("scripts/server.py", Some("0.01"));
    let addr = server.addr.to_string();
    for run in 0..20 {
        let out = bench(&addr, &["--format", "json"]);
        assert_eq!(out.code, Some(0), "run {run}: {}", out.stderr);
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(report["replies_ok"], 1, "run {run}: {report}");
        assert_eq!(report["connections"], 1, "run {run}: {report}");
    }
    // Still serving: one more client is greeted and answered.
    let out = bench(&addr, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let exit = server.stop("TERM");
    assert!(!exit.stderr.contains("Traceback"), "{}", exit.stderr);
    // 21 clients came, and nobody else: the server saw 21 connections.
    let accepted = exit.stdout.matches("Accept new connection").count();
    assert_eq!(accepted, 21, "{}", exit.stdout);
}

/// With the lesson's real one-second pause, the single client waits for
/// nothing but its own message: no hidden connection takes a second of
/// the serial server first.
#[test]
fn a_bench_client_waits_for_no_hidden_connection() {
    if !have(common::PYTHON) {
        return;
    }
    let server = lesson_server("scripts/server.py", None);
    let out = bench(&server.addr.to_string(), &["--format", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let wait_max = report["wait_us"]["max"].as_f64().unwrap();
    assert!(
        wait_max < 500_000.0,
        "waited {wait_max} us for service: {report}"
    );
    let latency = report["latency_us"]["max"].as_f64().unwrap();
    assert!(
        latency >= 900_000.0,
        "the lesson's sleep(1) is in the reply: {report}"
    );
}

/// The teacher's view: the lesson's serial server and its threaded next
/// step, side by side in one table and one timeline (`compare --server`),
/// each run twice, interleaved. With a pause of 0.2 s per message, the
/// serial server's second client waits for the first's two messages and
/// its close (the lesson's server pauses on that too): about 0.6 s; the
/// threaded one greets both at once.
#[test]
fn compare_shows_the_lessons_two_servers_side_by_side() {
    if !have(common::PYTHON) {
        return;
    }
    let serial = lesson_server("scripts/server.py", Some("0.2"));
    let threads = lesson_server("scripts/server_threads.py", Some("0.2"));
    let out = run_to_exit(bin_command(&[
        "compare",
        "--server",
        &format!("py-serial={}", serial.addr),
        "--server",
        &format!("py-threads={}", threads.addr),
        "--clients",
        "2",
        "--messages",
        "2",
        "--repeat",
        "2",
        "--format",
        "json",
        "--timeline",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let (s, t) = (&rows[0], &rows[1]);
    assert_eq!(
        (s["label"].as_str(), t["label"].as_str()),
        (Some("py-serial"), Some("py-threads"))
    );
    for r in [s, t] {
        assert_eq!(r["clients_answered"], 2, "{r}");
        assert_eq!(r["repeat"]["runs"], 2, "{r}");
        assert!(r["queue_us"].is_null(), "no server log: {r}");
    }
    let wait = |r: &serde_json::Value| r["wait_us"]["p99"].as_f64().unwrap();
    assert!(wait(s) >= 450_000.0, "the second client waited: {s}");
    assert!(wait(t) < 150_000.0, "both greeted at once: {t}");
    // The timeline on stderr: the serial server's second client waits,
    // and requests are outstanding, not claimed as served or queued.
    assert!(
        out.stderr.contains("py-serial: 2 of 2 clients served"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("'+' request outstanding"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("':'"), "{}", out.stderr);
    // Which of the two connects first is a race; one of them waits.
    let serial_rows: Vec<&str> = out
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("py-serial:"))
        .skip(1)
        .take(2)
        .collect();
    let waited = serial_rows.iter().filter(|r| r.contains(".....+")).count();
    assert_eq!(waited, 1, "{}", out.stderr);
    // Stopped with SIGTERM by kill(1), Unix only (on Windows they are
    // killed when dropped): neither died of a traceback.
    #[cfg(unix)]
    for exit in [serial.stop("TERM"), threads.stop("TERM")] {
        assert!(!exit.stderr.contains("Traceback"), "{}", exit.stderr);
    }
}

/// `bench` gives a server of any kind the views compare gives the modes:
/// the timeline as text, its picture and the chart.
#[test]
fn bench_draws_a_timeline_and_a_chart_of_any_server() {
    if !have(common::PYTHON) {
        return;
    }
    let server = lesson_server("scripts/server_threads.py", Some("0.05"));
    let dir = common::temp_dir("bench-views");
    let (svg, png) = (dir.join("timeline.svg"), dir.join("chart.png"));
    let addr = server.addr.to_string();
    let out = bench(
        &addr,
        &[
            "--clients",
            "2",
            "--timeline",
            "--timeline-svg",
            svg.to_str().unwrap(),
            "--plot",
            png.to_str().unwrap(),
            "--repeat",
            "3",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("Who was served when"), "{}", out.stdout);
    assert!(out.stdout.contains("msgs/s min-max"), "{}", out.stdout);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("request outstanding"), "the legend names it");
    assert!(text.contains("median of 3 runs"), "the caption says it");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let _ = std::fs::remove_dir_all(&dir);
}
