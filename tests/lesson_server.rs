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
    let mut cmd = Command::new("python3");
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
#[test]
fn twenty_benches_leave_the_lessons_server_alive_and_quiet() {
    if !have("python3") {
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
    if !have("python3") {
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
