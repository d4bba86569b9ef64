//! Hostile conditions against the real `tcpmodes` binary, every mode
//! (issue 5, items 2, 4 and 6): what needs a process of its own, so its
//! memory can be measured (VmRSS in /proc), its descriptors limited
//! (prlimit) and its exit code and stderr read. Start-up errors (item 7)
//! are in `config_and_flags.rs`.
//!
//! Figures (RSS, RSS per connection) are printed; run with `--nocapture` to
//! see them: `cargo test --test hostile_process -- --nocapture`.

// Linux only: memory and threads read from /proc, descriptors limited by
// prlimit(1) (util-linux), the server stopped with SIGTERM by kill(1).
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::client::{Client, drain_in_background, write_until_closed};
use common::have;
use common::process::{Exit, Process, bin_path, run_to_exit};
use tcpmodes::{Framing, Mode};

/// Memory a server may gain while fending off size attacks: a few
/// connection buffers and allocator slack, nothing that grows with the
/// 100 MB sent.
const RSS_GROWTH_LIMIT_KB: u64 = 16 * 1024;

fn start_bin(mode: Mode, framing: Framing, extra: &[&str]) -> Process {
    let mut args = vec![
        "--addr",
        "127.0.0.1:0",
        "--mode",
        mode.name(),
        "--framing",
        framing.name(),
        "--workers",
        "4",
        "-q",
    ];
    args.extend_from_slice(extra);
    Process::bin(&args)
}

/// The summary line the binary prints at exit.
/// `n` greeted line clients of `addr`, connected by four threads; each
/// client is greeted before the next connects, and all stay connected.
fn greet_many(addr: std::net::SocketAddr, n: usize) -> Vec<Client> {
    let batches: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                (0..n / 4)
                    .map(|_| Client::greeted(addr, Framing::Line))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let clients: Vec<Client> = batches
        .into_iter()
        .flat_map(|b| b.join().expect("a client failed to connect"))
        .collect();
    assert_eq!(clients.len(), n);
    clients
}

/// Stops `server` with SIGTERM, checks it exits 0 (`what` names the case
/// in the message), and returns its summary line and its logs.
fn stop_cleanly(server: Process, what: &str) -> (String, String) {
    let Exit {
        code,
        stdout,
        stderr,
    } = server.stop("TERM");
    assert_eq!(code, Some(0), "{what}: {stderr}");
    (summary_line(&stdout), stderr)
}

fn summary_line(stdout: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with("Served "))
        .unwrap_or_else(|| panic!("no summary in {stdout:?}"))
        .to_string()
}

// ------------------------------------------------------- 2. size limits

/// A 100 MB line with no newline (three at once), a 4 GB length prefix,
/// and an 8 MB raw stream at full speed: each oversized message closes its
/// connection at `max_message_bytes`, the server's RSS stays within a few
/// MB of its warmed-up size, and a client served during the attack is
/// answered.
#[test]
fn size_attacks_keep_rss_bounded_in_every_mode() {
    for mode in Mode::ALL {
        // Endless lines.
        let server = start_bin(mode, Framing::Line, &[]);
        let addr = server.addr;
        let mut probe = Client::greeted(addr, Framing::Line);
        probe.echo(b"warm");
        drop(probe);
        let rss0 = server.rss_kb();
        let floods: Vec<_> = (0..3)
            .map(|_| {
                thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    write_until_closed(&mut s, &vec![b'a'; 64 * 1024], 100 << 20)
                })
            })
            .collect();
        if mode != Mode::Serial {
            Client::greeted(addr, Framing::Line).echo(b"during the flood");
        }
        for f in floods {
            let (sent, closed) = f.join().unwrap();
            assert!(closed && sent < 50 << 20, "{mode}: line not cut ({sent})");
        }
        Client::greeted(addr, Framing::Line).echo(b"after the flood");
        let rss_line = server.rss_kb();
        let Exit {
            stdout: out,
            stderr: err,
            ..
        } = server.stop("TERM");
        assert!(
            err.matches("over max_message_bytes = 65536").count() == 3,
            "{mode}: {err}"
        );
        assert!(summary_line(&out).contains("3 errors"), "{mode}: {out}");

        // A 4 GB length prefix.
        let server = start_bin(mode, Framing::Length, &[]);
        Client::greeted(server.addr, Framing::Length).echo(b"warm");
        let rss0_len = server.rss_kb();
        let mut c = Client::greeted(server.addr, Framing::Length);
        c.send_raw(&u32::MAX.to_be_bytes());
        c.expect_closed();
        Client::greeted(server.addr, Framing::Length).echo(b"after");
        let rss_len = server.rss_kb();
        let err = server.stop("TERM").stderr;
        assert!(err.contains("4294967295 bytes"), "{mode}: {err}");

        // A raw stream at full speed, replies drained.
        let server = start_bin(mode, Framing::Raw, &[]);
        Client::greeted(server.addr, Framing::Raw).echo(b"warm");
        let rss0_raw = server.rss_kb();
        let mut flood = Client::greeted(server.addr, Framing::Raw);
        let drained = drain_in_background(&flood.stream);
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..128 {
            flood.send_raw(&chunk);
        }
        let rss_raw = server.rss_kb();
        flood.stream.shutdown(Shutdown::Write).unwrap();
        assert!(drained.join().unwrap() > 8 << 20, "{mode}");
        let out = server.stop("TERM").stdout;
        assert!(summary_line(&out).contains(" 0 errors"), "{mode}: {out}");

        println!(
            "{mode}: RSS warm/after 3x100 MB lines {rss0}/{rss_line} KiB; \
             4 GB prefix {rss0_len}/{rss_len} KiB; 8 MB raw stream {rss0_raw}/{rss_raw} KiB"
        );
        for (before, after, what) in [
            (rss0, rss_line, "endless lines"),
            (rss0_len, rss_len, "4 GB prefix"),
            (rss0_raw, rss_raw, "raw stream"),
        ] {
            assert!(
                after < before + RSS_GROWTH_LIMIT_KB,
                "{mode}: {what}: RSS grew from {before} to {after} KiB"
            );
        }
    }
}

// ----------------------------------------------------- 4. accept errors

/// Out of descriptors: the server runs under `prlimit --nofile=24`, and
/// 40 clients arrive at once, more than it can hold. Accept fails with
/// EMFILE; the server logs it once, backs off without spinning a core,
/// and serves every client as the earlier ones leave, then a new one.
#[test]
fn out_of_descriptors_backs_off_and_recovers() {
    if !have("prlimit") {
        return;
    }
    for mode in Mode::ALL {
        let mut cmd = Command::new("prlimit");
        cmd.arg("--nofile=24:24").arg(bin_path()).args([
            "--addr",
            "127.0.0.1:0",
            "--mode",
            mode.name(),
            "--framing",
            "line",
            "--max-connections",
            "100",
        ]);
        let server = Process::start(cmd);
        let addr = server.addr;
        // All connect (the kernel completes the handshakes into the
        // backlog); none reads yet, so every accepted one holds a slot.
        let mut clients: Vec<Client> = (0..40)
            .map(|_| Client::connect(addr, Framing::Line))
            .collect();
        let mut stuck_ticks = None;
        let hit = if mode == Mode::Serial {
            // Serial holds one client at a time: never short of descriptors.
            false
        } else {
            assert!(
                server.stderr_shows("Too many open files"),
                "{mode}: EMFILE never hit"
            );
            // Stuck at the limit for a second: the server must be waiting,
            // not retrying in a loop.
            let cpu0 = server.cpu_ticks();
            thread::sleep(Duration::from_secs(1));
            let spent = server.cpu_ticks() - cpu0;
            assert!(
                spent < 20,
                "{mode}: {spent} ticks of CPU in 1 s while out of fds"
            );
            stuck_ticks = Some(spent);
            true
        };
        // Now each client in turn is served and leaves; those the server
        // could not accept are served once descriptors come back.
        for (i, c) in clients.iter_mut().enumerate() {
            c.expect(b"Welcome!");
            c.echo(format!("client {i}").as_bytes());
            c.send(b"exit");
            c.expect_closed();
        }
        drop(clients);
        Client::greeted(addr, Framing::Line).echo(b"a new client");
        let (summary, err) = stop_cleanly(server, &mode.to_string());
        assert!(
            summary.starts_with("Served 41 connections"),
            "{mode}: {summary}"
        );
        assert!(summary.contains(" 0 errors"), "{mode}: {summary}");
        if hit {
            assert_eq!(
                err.matches("accept failed: Too many open files").count(),
                err.matches("accept works again").count(),
                "{mode}: each outage is one warning, then recovery: {err}"
            );
        }
        println!(
            "{mode}: 40 clients under nofile=24, EMFILE hit: {hit}, \
             CPU in 1 s stuck: {stuck_ticks:?} ticks of 10 ms; all served"
        );
    }
}

/// Out of memory for threads: under `prlimit --as` with 1 GiB thread
/// stacks there is room for one connection thread only. The next client is
/// closed at once (not left hanging), the log names it, and once the first
/// leaves a new client is served; shutdown has nothing left to cut. Pool
/// mode, which starts its threads up front, refuses to start instead.
#[test]
fn thread_start_failure_closes_that_client_only() {
    if !have("prlimit") {
        return;
    }
    let limit = "--as=1700000000";
    let mut cmd = Command::new("prlimit");
    cmd.arg(limit).arg(bin_path()).args([
        "--addr",
        "127.0.0.1:0",
        "--mode",
        Mode::Threads.name(),
        "--framing",
        "line",
        "--thread-stack-kb",
        "1048576",
    ]);
    let server = Process::start(cmd);
    let mut first = Client::greeted(server.addr, Framing::Line);
    let mut second = Client::connect(server.addr, Framing::Line);
    assert!(second.expect_closed().is_empty());
    let who = second.local();
    assert!(server.stderr_shows(&who), "no log line for {who}");
    first.echo(b"still served");
    first.send(b"exit");
    first.expect_closed();
    // The first thread's stack is unmapped a moment after its client sees
    // the close; a client arriving in between is refused the same way.
    let mut served = false;
    for _ in 0..100 {
        let mut c = Client::connect(server.addr, Framing::Line);
        let mut hello = [0u8; 9];
        if c.stream.read_exact(&mut hello).is_ok() {
            assert_eq!(&hello, b"Welcome!\n");
            c.echo(b"a thread again");
            served = true;
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert!(served, "no thread for a client once the first left");
    let (summary, err) = stop_cleanly(server, "");
    assert!(
        err.contains(&format!(
            "Cannot start a thread for the connection from {who}"
        )),
        "{err}"
    );
    assert!(
        !summary.contains(" 0 errors") && summary.ends_with(" 0 cut at shutdown"),
        "{summary}"
    );

    let mut cmd = Command::new("prlimit");
    cmd.arg(limit).arg(bin_path()).args([
        "--addr",
        "127.0.0.1:0",
        "--mode",
        Mode::Pool.name(),
        "--workers",
        "4",
        "--thread-stack-kb",
        "1048576",
    ]);
    let Exit {
        code, stderr: err, ..
    } = run_to_exit(cmd);
    assert_ne!(code, Some(0), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot start pool mode"), "{err}");
}

// ------------------------------------------------------------ 6. overload

/// 2,000 clients held at once in threads mode, each greeted and answered,
/// none failing; RSS per connection is measured and printed (thread
/// stacks are small by default, and only touched pages count).
#[test]
fn two_thousand_concurrent_clients_in_threads_mode() {
    const N: usize = 2_000;
    let _ = rlimit::increase_nofile_limit(4 * N as u64 + 256);
    let server = start_bin(
        Mode::Threads,
        Framing::Line,
        &["--max-connections", "2100", "--backlog", "4096"],
    );
    let addr = server.addr;
    Client::greeted(addr, Framing::Line).echo(b"warm");
    let rss_idle = server.rss_kb();
    let started = Instant::now();
    let mut clients = greet_many(addr, N);
    let threads = server.threads();
    let rss_held = server.rss_kb();
    // Every held client now sends and is answered while all are connected.
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(format!("client {i}").as_bytes());
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let mut want = Vec::new();
        want.extend_from_slice(format!("Received client {i};").as_bytes());
        c.expect(&want);
    }
    let rss_busy = server.rss_kb();
    let took = started.elapsed();
    drop(clients);
    Client::greeted(addr, Framing::Line).echo(b"after");
    let (summary, _) = stop_cleanly(server, "");
    assert!(summary.starts_with("Served 2002 connections"), "{summary}");
    assert!(summary.contains(" 0 errors"), "{summary}");
    let per_conn = (rss_busy.max(rss_held) - rss_idle) as f64 / N as f64;
    println!(
        "threads: {N} clients held in {:.1} s, {threads} server threads; RSS idle {rss_idle} KiB, \
         held {rss_held} KiB, after a message each {rss_busy} KiB: {per_conn:.1} KiB per connection",
        took.as_secs_f64()
    );
    assert!(threads as usize > N, "{threads} threads for {N} clients");
    // 256 KiB stacks are reserved, not resident: a connection must cost
    // far less than its stack.
    assert!(per_conn < 128.0, "{per_conn:.1} KiB per connection");
}

/// 2,000 idle clients, each greeted, held at once by the event modes: no
/// thread each (the process keeps its loops, its workers and a few
/// others), and little memory each (a connection's record, its session,
/// no buffers while it is idle). Then each sends a message and is answered
/// while all are held. Figures are printed.
#[test]
fn two_thousand_idle_clients_cost_no_thread_each_in_event_modes() {
    const N: usize = 2_000;
    const LOOPS: u64 = 2;
    let _ = rlimit::increase_nofile_limit(4 * N as u64 + 256);
    for mode in [Mode::Event, Mode::EventWorkers] {
        // start_bin asks for 4 workers (event-workers' pool).
        let server = start_bin(
            mode,
            Framing::Line,
            &["--loops", &LOOPS.to_string(), "--backlog", "4096"],
        );
        let addr = server.addr;
        Client::greeted(addr, Framing::Line).echo(b"warm");
        let threads_idle = server.threads();
        let rss_idle = server.rss_kb();
        let started = Instant::now();
        let mut clients = greet_many(addr, N);
        let threads = server.threads();
        let rss_held = server.rss_kb();
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(format!("client {i}").as_bytes());
        }
        for (i, c) in clients.iter_mut().enumerate() {
            c.expect(format!("Received client {i};").as_bytes());
        }
        let took = started.elapsed();
        drop(clients);
        Client::greeted(addr, Framing::Line).echo(b"after");
        let (summary, _) = stop_cleanly(server, &mode.to_string());
        assert!(
            summary.starts_with("Served 2002 connections"),
            "{mode}: {summary}"
        );
        assert!(summary.contains(" 0 errors"), "{mode}: {summary}");
        let per_conn = rss_held.saturating_sub(rss_idle) as f64 / N as f64;
        println!(
            "{mode}: {N} idle clients held in {:.1} s; threads {threads_idle} before, {threads} held \
             ({LOOPS} loops); RSS idle {rss_idle} KiB, held {rss_held} KiB: {per_conn:.1} KiB per connection",
            took.as_secs_f64()
        );
        // The main thread (accepting), the signal thread, the loops, and in
        // event-workers its 4 workers and the watch over its loops: none of
        // it grows with the clients.
        assert_eq!(threads, threads_idle, "{mode}: threads grew with clients");
        let workers = if mode == Mode::EventWorkers { 4 + 1 } else { 0 };
        assert!(threads <= LOOPS + workers + 3, "{mode}: {threads} threads");
        // A thread per client would cost its stack's touched pages and a
        // kernel task; an idle event connection costs a few hundred bytes.
        assert!(per_conn < 4.0, "{mode}: {per_conn:.1} KiB per connection");
    }
}

/// A client that writes to a server while it exits is not a start-up
/// problem, but the binary must also leave cleanly with clients still
/// connected: graceful stop with held clients, exit 0.
#[test]
fn stop_with_hostile_clients_connected_exits_cleanly() {
    for mode in Mode::ALL {
        let server = start_bin(mode, Framing::Line, &["--shutdown-timeout-ms", "500"]);
        let mut held = Client::greeted(server.addr, Framing::Line);
        held.send_raw(b"half a line");
        let mut deaf = TcpStream::connect(server.addr).unwrap();
        deaf.write_all(&vec![b'q'; 4096]).unwrap();
        stop_cleanly(server, &mode.to_string());
    }
}
