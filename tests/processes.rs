//! `processes = N`: N processes listen on one port and all serve; SIGTERM
//! to the first stops them all with every message in flight answered; a
//! child that dies is restarted; no child outlives a parent killed with
//! SIGKILL; the summary adds up every process. Real binary, real signals.

// Linux only: the processes share the port through SO_REUSEPORT, which
// spreads clients over them only on Linux (Windows refuses `processes`);
// listeners are counted in /proc/net/tcp, processes stopped by kill(1).
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use common::PATIENCE;
use common::client::Client;
use common::process::Process;
use tcpmodes::{Framing, Mode};

/// Listening sockets on `port`, from /proc/net/tcp and tcp6 (state 0A is
/// LISTEN; the port is the hex after the colon of the local address).
fn listeners_on(port: u16) -> usize {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .map(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 3 && f[1].ends_with(&want) && f[3] == "0A"
                })
                .count()
        })
        .sum()
}

/// The pids of the children the parent started, from its `-v` lines
/// `Started process K of N (pid PID).`, waiting (bounded) for `n` of them.
fn child_pids(server: &Process, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let pids: Vec<u32> = server
            .stderr_text()
            .lines()
            .filter(|l| l.contains("Started process "))
            .filter_map(|l| l.rsplit_once("(pid ")?.1.strip_suffix(").")?.parse().ok())
            .collect();
        if pids.len() >= n {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "no {n} `Started process` lines:\n{}",
            server.stderr_text()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL to one of the server's children, with kill(1).
fn kill_9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL {pid}");
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_none_or(|state| state == "Z"),
    }
}

/// Which process served the client at `local`: the pid in the tag of the
/// log line `[pid PID] Accept new connection from LOCAL...`, if logged yet.
fn served_by(server: &Process, local: &str) -> Option<u32> {
    let needle = format!("Accept new connection from {local}...");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = server.stderr_text();
        if let Some(line) = text.lines().find(|l| l.contains(&needle)) {
            let pid = line.split("[pid ").nth(1)?.split(']').next()?;
            return pid.parse().ok();
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Connects (at most 200 times) until each of `pids` has greeted one
/// client; returns the open clients, one per pid, and how many
/// connections were made in all.
fn one_client_each(server: &Process, pids: &[u32]) -> (Vec<(u32, Client)>, usize) {
    let mut found: Vec<(u32, Client)> = Vec::new();
    for attempt in 1..=200 {
        let c = Client::greeted(server.addr, Framing::Raw);
        let pid = served_by(server, &c.local()).expect("no accept line for a greeted client");
        if !found.iter().any(|(p, _)| *p == pid) {
            found.push((pid, c));
        }
        if found.len() == pids.len() {
            return (found, attempt);
        }
    }
    let seen: HashSet<u32> = found.iter().map(|(p, _)| *p).collect();
    panic!("200 connections reached only {seen:?} of {pids:?}");
}

#[test]
fn every_process_listens_and_serves_and_the_summary_adds_up() {
    // Serial too: each process serves one client at a time.
    for mode in [Mode::Serial, Mode::EventWorkers] {
        let server = Process::bin(&[
            "--addr",
            "127.0.0.1:0",
            "--processes",
            "2",
            "--mode",
            mode.name(),
            "-v",
        ]);
        assert!(
            server.banner.contains("processes 2"),
            "{mode}: {}",
            server.banner
        );
        // The line comes once every process listens.
        assert_eq!(listeners_on(server.addr.port()), 2, "{mode}");
        let child = child_pids(&server, 1)[0];
        let pids = [server.pid(), child];
        // Each client sends one message and leaves, so serial mode moves on.
        let mut seen = HashSet::new();
        let mut connections = 0;
        while seen.len() < 2 {
            assert!(
                connections < 200,
                "{mode}: only {seen:?} of {pids:?} served"
            );
            let mut c = Client::greeted(server.addr, Framing::Raw);
            c.echo(format!("m{connections}").as_bytes());
            let pid = served_by(&server, &c.local()).expect("accept line");
            assert!(pids.contains(&pid), "{mode}: served by {pid}, not {pids:?}");
            seen.insert(pid);
            c.send(b"exit");
            assert!(c.closed(), "{mode}");
            connections += 1;
        }
        let exit = server.stop("TERM");
        assert_eq!(exit.code, Some(0), "{mode}: {}", exit.stderr);
        let want = format!(
            "Served {connections} connections, {} messages",
            2 * connections
        );
        assert!(
            exit.stdout.contains(&want) && exit.stdout.contains("(2 processes)"),
            "{mode}: want {want:?} in {:?}",
            exit.stdout
        );
        assert!(ended(child), "{mode}: child {child} outlived the parent");
    }
}

#[test]
fn sigterm_to_the_first_process_answers_messages_in_flight_in_every_process() {
    let server = Process::bin(&[
        "--addr",
        "127.0.0.1:0",
        "--processes",
        "2",
        "--mode",
        "threads",
        "--delay-ms",
        "700",
        "-v",
    ]);
    let pids = [server.pid(), child_pids(&server, 1)[0]];
    let (mut clients, made) = one_client_each(&server, &pids);
    for (_, c) in &mut clients {
        c.send(b"last words");
    }
    // Both messages reach their servers before the signal (the reply waits
    // 700 ms); the pause is not needed for the check, only for the test to
    // test shutdown and not the order of arrival.
    thread::sleep(Duration::from_millis(150));
    server.signal("TERM");
    for (pid, c) in &mut clients {
        c.expect(b"Received last words;");
        assert!(
            c.closed(),
            "process {pid}: client not closed after its reply"
        );
    }
    let exit = server.wait();
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    let want = format!("Served {made} connections, 2 messages");
    assert!(
        exit.stdout.contains(&want),
        "want {want:?}: {}",
        exit.stdout
    );
    assert!(exit.stdout.contains("0 cut at shutdown"), "{}", exit.stdout);
}

#[test]
fn a_dead_child_is_restarted_and_no_child_outlives_a_killed_parent() {
    let server = Process::bin(&["--addr", "127.0.0.1:0", "--processes", "3", "-v"]);
    let port = server.addr.port();
    let children = child_pids(&server, 2);
    assert_eq!(listeners_on(port), 3);
    // A child killed outright is logged with its status and replaced.
    kill_9(children[0]);
    assert!(
        server.stderr_shows("exited unexpectedly (killed by signal 9)"),
        "{}",
        server.stderr_text()
    );
    assert!(server.stderr_shows("restarting it in 100 ms."));
    assert!(server.stderr_shows("listens again."));
    // Its replacement dies young too: the next pause is twice as long.
    let replacement = child_pids(&server, 3)[2];
    kill_9(replacement);
    assert!(
        server.stderr_shows("restarting it in 200 ms."),
        "{}",
        server.stderr_text()
    );
    let all = child_pids(&server, 4);
    let deadline = Instant::now() + PATIENCE;
    while server.stderr_text().matches("listens again.").count() < 2 {
        assert!(Instant::now() < deadline, "{}", server.stderr_text());
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(listeners_on(port), 3, "the replacement does not listen");
    // Now the parent dies without a chance to stop anyone.
    let parent = server.pid();
    let exit = server.stop("KILL");
    assert_eq!(exit.code, None);
    assert!(ended(parent));
    let deadline = Instant::now() + PATIENCE;
    let alive = loop {
        let alive: Vec<u32> = all.iter().copied().filter(|p| !ended(*p)).collect();
        if alive.is_empty() || Instant::now() > deadline {
            break alive;
        }
        thread::sleep(Duration::from_millis(20));
    };
    if !alive.is_empty() {
        // The test's own server's children: not left running after a
        // failure (the `--child` flag shows a pid was not reused).
        for pid in &alive {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("--child") {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
        panic!("children {alive:?} outlived their parent");
    }
    assert_eq!(listeners_on(port), 0);
}

/// The children speak to the parent over their stdout: none of it, and no
/// second `Listening on` line, reaches the user's stdout.
#[test]
fn one_listening_line_and_one_summary_for_all_processes() {
    let server = Process::bin(&["--addr", "127.0.0.1:0", "--processes", "3"]);
    let exit = server.stop("INT");
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    let lines: Vec<&str> = exit.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("Served 0 connections") && lines[0].ends_with("(3 processes)"),
        "{lines:?}"
    );
}

/// `processes` from a config file: the copies read the same file, and the
/// `--processes 1` after the user's arguments keeps each of them from
/// starting copies of its own.
#[test]
fn processes_from_the_config_file_start_exactly_that_many() {
    let dir = common::temp_dir("procs-config");
    let file = dir.join("three.toml");
    std::fs::write(
        &file,
        "address = \"127.0.0.1:0\"\nprocesses = 3\nmode = \"threads\"\n",
    )
    .unwrap();
    let server = Process::bin(&["--config", file.to_str().unwrap(), "-v"]);
    assert!(server.banner.contains("processes 3"), "{}", server.banner);
    assert_eq!(listeners_on(server.addr.port()), 3);
    assert_eq!(child_pids(&server, 2).len(), 2, "{}", server.stderr_text());
    let exit = server.stop("TERM");
    assert_eq!(exit.code, Some(0), "{}", exit.stderr);
    assert!(exit.stdout.contains("(3 processes)"), "{}", exit.stdout);
    let started = exit.stderr.matches("Started process ").count();
    assert_eq!(started, 2, "{}", exit.stderr);
    let _ = std::fs::remove_dir_all(dir);
}
