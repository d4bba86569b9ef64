//! `bench --idle`: silent connections held against servers run as their own
//! processes (so `--pid` reads a process no test thread disturbs): threads
//! mode grows a thread per client, an event loop does not; serial mode
//! greets one and keeps the rest waiting, within bounded time; the binary
//! prints JSON, exits 0 on a clean run and 2 on flags that contradict.

use std::time::{Duration, Instant};

use crate::common::process::{Process, bin_command, run_to_exit};
use tcpmodes::bench::{BenchArgs, IdleReport, OutputFormat, run_idle};

/// A few hundred: enough that a thread per client cannot hide, few enough
/// for any descriptor limit and a fast test.
const N: usize = 300;

fn idle_args(server: &Process, n: usize) -> BenchArgs {
    let mut args = BenchArgs::new(server.addr.to_string());
    args.idle = Some(n);
    args.hold = 0.2;
    args.pid = Some(server.pid());
    args
}

fn run(args: &BenchArgs) -> IdleReport {
    run_idle(args).unwrap_or_else(|e| panic!("idle run: {e}"))
}

#[test]
fn threads_mode_holds_a_thread_per_idle_client_an_event_loop_none() {
    let threads = Process::bin(&["--addr", "127.0.0.1:0", "-q", "--mode", "threads"]);
    let r = run(&idle_args(&threads, N));
    assert_eq!((r.connected, r.greeted, r.open_at_end), (N, N, N), "{r:?}");
    assert_eq!(r.stopped, None);
    let (before, held) = (r.before.unwrap(), r.held.unwrap());
    assert!(held.threads >= before.threads + N as u64, "{r:?}");
    assert!(held.rss_kb > before.rss_kb, "{r:?}");

    let mio = Process::example("mio_baseline", &[]);
    let r = run(&idle_args(&mio, N));
    assert_eq!((r.connected, r.greeted, r.open_at_end), (N, N, N), "{r:?}");
    assert_eq!(r.held.unwrap().threads, r.before.unwrap().threads, "{r:?}");
    assert!(r.kb_per_connection().is_some());
}

#[test]
fn serial_mode_greets_one_and_the_run_stays_bounded() {
    let serial = Process::bin(&["--addr", "127.0.0.1:0", "-q", "--mode", "serial"]);
    let mut args = idle_args(&serial, 50);
    args.load.timeout_ms = 300;
    let started = Instant::now();
    let r = run(&args);
    // 50 fit in the default backlog (128): all connect, one is served.
    assert_eq!((r.connected, r.greeted, r.open_at_end), (50, 1, 1), "{r:?}");
    assert_eq!(r.wrong_greeting, 0);
    // One greeting missed, one shared deadline, the hold: about 0.8 s.
    assert!(started.elapsed() < Duration::from_secs(10), "{r:?}");
}

#[test]
fn the_binary_prints_json_and_refuses_load_flags() {
    let server = Process::bin(&["--addr", "127.0.0.1:0", "-q", "--mode", "threads"]);
    let (addr, pid) = (server.addr.to_string(), server.pid().to_string());
    let mut cmd = bin_command(&["bench", "--addr", &addr, "--idle", "20", "--pid", &pid]);
    cmd.args(["--hold", "0.1", "--format", "json"]);
    let out = run_to_exit(cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(json["greeted"], 20);
    assert_eq!(json["open_at_end"], 20);
    assert_eq!(json["pid"], server.pid());
    assert!(json["held"]["threads"].as_u64().unwrap() >= 20, "{json}");
    assert!(json["kb_per_connection"].is_number(), "{json}");

    let table = run_to_exit(bin_command(&["bench", "--addr", &addr, "--idle", "5"]));
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(table.stdout.contains("open at end"), "{}", table.stdout);
    assert!(table.stderr.contains("give --pid"), "{}", table.stderr);

    for load in [["--clients", "4"], ["--duration", "1"]] {
        let mut cmd = bin_command(&["bench", "--addr", &addr, "--idle", "5"]);
        cmd.args(load);
        let out = run_to_exit(cmd);
        assert_eq!(out.code, Some(2), "{load:?}: {}", out.stderr);
        assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    }
    let out = run_to_exit(bin_command(&["bench", "--addr", &addr, "--pid", &pid]));
    assert_eq!(out.code, Some(2), "--pid without --idle: {}", out.stderr);

    let mut args = BenchArgs::new(addr);
    args.idle = Some(usize::MAX / 2);
    args.format = OutputFormat::Json;
    let e = run_idle(&args).unwrap_err().to_string();
    assert!(e.contains("descriptors"), "{e}");
}
