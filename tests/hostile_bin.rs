//! Hostile conditions against the real `tcpmodes` binary, every mode
//! (issue 5, items 2, 4, 6 and 7): what needs a process of its own, so its
//! memory can be measured (VmRSS in /proc), its descriptors limited
//! (prlimit) and its exit code and stderr read.
//!
//! Figures (RSS, RSS per connection) are printed; run with `--nocapture` to
//! see them: `cargo test --test hostile_bin -- --nocapture`.

#[path = "common/hostile_util.rs"]
mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use tcpmodes::{Framing, Mode};
use util::*;

/// Memory a server may gain while fending off size attacks: a few
/// connection buffers and allocator slack, nothing that grows with the
/// 100 MB sent.
const RSS_GROWTH_LIMIT_KB: u64 = 16 * 1024;

fn start_bin(mode: Mode, framing: Framing, extra: &[&str]) -> Binary {
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
    Binary::start(&args)
}

/// The summary line the binary prints at exit.
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
        let (_, out, err) = server.stop();
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
        let (_, _, err) = server.stop();
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
        let (_, out, _) = server.stop();
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
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    for mode in Mode::ALL {
        let mut cmd = Command::new("prlimit");
        cmd.args(["--nofile=24:24", bin()]).args([
            "--addr",
            "127.0.0.1:0",
            "--mode",
            mode.name(),
            "--framing",
            "line",
            "--max-connections",
            "100",
        ]);
        let server = Binary::start_cmd(cmd);
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
            let deadline = Instant::now() + PATIENCE;
            while !server
                .stderr
                .lock()
                .unwrap()
                .contains("Too many open files")
            {
                assert!(Instant::now() < deadline, "{mode}: EMFILE never hit");
                thread::sleep(Duration::from_millis(20));
            }
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
        let (code, out, err) = server.stop();
        assert_eq!(code, Some(0), "{mode}: {err}");
        let summary = summary_line(&out);
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
        eprintln!("skipped: prlimit (util-linux) is not installed");
        return;
    }
    let limit = "--as=1700000000";
    let mut cmd = Command::new("prlimit");
    cmd.args([limit, bin()]).args([
        "--addr",
        "127.0.0.1:0",
        "--mode",
        "threads",
        "--framing",
        "line",
        "--thread-stack-kb",
        "1048576",
    ]);
    let server = Binary::start_cmd(cmd);
    let mut first = Client::greeted(server.addr, Framing::Line);
    let mut second = Client::connect(server.addr, Framing::Line);
    assert!(second.expect_closed().is_empty());
    let who = second.local();
    let deadline = Instant::now() + PATIENCE;
    while !server.stderr.lock().unwrap().contains(&who) {
        assert!(Instant::now() < deadline, "no log line for {who}");
        thread::sleep(Duration::from_millis(20));
    }
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
    let (code, out, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "Cannot start a thread for the connection from {who}"
        )),
        "{err}"
    );
    let summary = summary_line(&out);
    assert!(
        !summary.contains(" 0 errors") && summary.ends_with(" 0 cut at shutdown"),
        "{summary}"
    );

    let mut cmd = Command::new("prlimit");
    cmd.args([limit, bin()]).args([
        "--addr",
        "127.0.0.1:0",
        "--mode",
        "pool",
        "--workers",
        "4",
        "--thread-stack-kb",
        "1048576",
    ]);
    let out = cmd.current_dir(empty_dir()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
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
    // Four connecting threads; each client is greeted before the next
    // connects, and all stay connected.
    let batches: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                (0..N / 4)
                    .map(|_| Client::greeted(addr, Framing::Line))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut clients: Vec<Client> = batches
        .into_iter()
        .flat_map(|b| b.join().expect("a client failed to connect"))
        .collect();
    assert_eq!(clients.len(), N);
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
    let (code, out, err) = server.stop();
    assert_eq!(code, Some(0), "{err}");
    let summary = summary_line(&out);
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

// --------------------------------------------------- 7. start-up errors

/// Each start-up problem gives one line on stderr, naming the problem and
/// where it came from, and a non-zero exit; never a panic or backtrace.
fn one_line_error(args: &[&str], expect: &[&str]) {
    let (code, err) = run_to_exit(args);
    assert!(matches!(code, Some(c) if c != 0), "{args:?}: exit {code:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: stderr {err:?}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {err:?}");
    for e in expect {
        assert!(lines[0].contains(e), "{args:?}: {err:?} lacks {e:?}");
    }
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"));
}

#[test]
fn start_up_errors_are_one_line_and_a_non_zero_exit() {
    let dir = std::env::temp_dir().join(format!("tcpmodes-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let malformed = file("malformed.toml", "mode = \"threads\"\nworkers = [\n");
    let backlog0 = file("backlog0.toml", "backlog = 0\n");
    let workers0 = file("workers0.toml", "# pool\nworkers = 0\n");
    let max0 = file("max0.toml", "\n\nmax_message_bytes = 0\n");
    let missing = dir.join("missing.toml").to_string_lossy().into_owned();
    let a_dir = dir.to_string_lossy().into_owned();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();

    for mode in Mode::ALL {
        let m = mode.name();
        one_line_error(
            &["--mode", m, "--addr", &taken_addr],
            &[&taken_addr, "in use"],
        );
        if is_root() {
            eprintln!("skipped the port-80 case: root may bind below 1024");
        } else {
            one_line_error(
                &["--mode", m, "--addr", "127.0.0.1:80"],
                &["127.0.0.1:80", "ermission denied"],
            );
        }
        one_line_error(
            &["--mode", m, "--addr", "127.0.0.1"],
            &["--addr", "127.0.0.1"],
        );
        one_line_error(
            &["--mode", m, "--addr", "127.0.0.1:99999"],
            &["--addr", "99999"],
        );
        one_line_error(
            &["--mode", m, "--addr", "no-such-host.invalid:9999"],
            &["--addr", "no-such-host.invalid"],
        );
        one_line_error(
            &["--mode", m, "--config", &missing],
            &[&missing, "cannot read"],
        );
        one_line_error(&["--mode", m, "--config", &a_dir], &[&a_dir, "cannot read"]);
        one_line_error(&["--mode", m, "--config", &malformed], &["malformed.toml:"]);
        one_line_error(
            &["--mode", m, "--config", &backlog0],
            &["backlog0.toml:1", "backlog", "got 0"],
        );
        one_line_error(
            &["--mode", m, "--config", &workers0],
            &["workers0.toml:2", "workers", "got 0"],
        );
        one_line_error(
            &["--mode", m, "--config", &max0],
            &["max0.toml:3", "max_message_bytes", "got 0"],
        );
        one_line_error(&["--mode", m, "--backlog", "0"], &["--backlog", "got 0"]);
        one_line_error(&["--mode", m, "--workers", "0"], &["--workers", "got 0"]);
        one_line_error(
            &["--mode", m, "--max-message-bytes", "0"],
            &["--max-message-bytes", "got 0"],
        );
    }
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A config file the server may not read (mode 000) is reported like a
/// missing one. Root reads any file, so the case is skipped as root.
#[test]
fn unreadable_config_file_is_one_line() {
    if is_root() {
        eprintln!("skipped: root can read a mode-000 file");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let p = std::env::temp_dir().join(format!("tcpmodes-000-{}.toml", std::process::id()));
    std::fs::write(&p, "mode = \"pool\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let path = p.to_string_lossy().into_owned();
    one_line_error(&["--config", &path], &[&path, "ermission denied"]);
    let _ = std::fs::remove_file(&p);
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
        let (code, out, err) = server.stop();
        assert_eq!(code, Some(0), "{mode}: {err}");
        summary_line(&out);
    }
}
