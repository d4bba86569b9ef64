//! Restart without dropping clients (deploy/README.md): start the new
//! server with `--reuse-port` on the old one's port, wait for its
//! `Listening on` line, SIGTERM the old one. A client connecting over and
//! over meanwhile counts the attempts that fail during the handover.

// Linux only: the handover rests on Linux's SO_REUSEPORT (elsewhere one
// listener takes every client, or the flag is refused: Windows), and the
// old server is stopped with SIGTERM through kill(1).
#![cfg(target_os = "linux")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

use common::PATIENCE;
use common::process::Process;

/// Where the handover is; the client notes it when each attempt starts
/// and ends.
const OLD_ALONE: u8 = 0;
const BOTH_LISTEN: u8 = 1;
const OLD_STOPPING: u8 = 2;
const OLD_EXITED: u8 = 3;

/// What the client saw: attempts made, those that failed (with the first
/// few errors and the phases each failed attempt started and ended in),
/// and those that succeeded after the old server had exited.
#[derive(Debug, Default)]
struct Tally {
    attempts: u32,
    failed: u32,
    errors: Vec<String>,
    failed_phases: Vec<(u8, u8)>,
    ok_after_old_exit: u32,
}

/// Reads exactly `want` from `s`; `what` names the step in the error.
fn expect_bytes(s: &mut TcpStream, want: &[u8], what: &str) -> Result<(), String> {
    let mut got = vec![0; want.len()];
    s.read_exact(&mut got).map_err(|e| format!("{what}: {e}"))?;
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {:?}", String::from_utf8_lossy(&got)))
    }
}

/// One attempt: connect, read the greeting, one message and its reply.
fn attempt(addr: SocketAddr) -> Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| format!("set_read_timeout: {e}"))?;
    expect_bytes(&mut s, b"Welcome!", "greeting")?;
    s.write_all(b"ping").map_err(|e| format!("send: {e}"))?;
    expect_bytes(&mut s, b"Received ping;", "reply")
}

#[test]
fn a_new_server_takes_over_the_port_while_a_client_keeps_connecting() {
    let old = Process::bin(&["--addr", "127.0.0.1:0", "--reuse-port", "--mode", "threads"]);
    let addr = old.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU8::new(OLD_ALONE));
    let (s, p) = (stop.clone(), phase.clone());
    let client = thread::spawn(move || {
        let mut t = Tally::default();
        let deadline = Instant::now() + PATIENCE;
        while !s.load(SeqCst) && t.attempts < 100_000 && Instant::now() < deadline {
            t.attempts += 1;
            let began = p.load(SeqCst);
            match attempt(addr) {
                Ok(()) if began == OLD_EXITED => t.ok_after_old_exit += 1,
                Ok(()) => {}
                Err(e) => {
                    t.failed += 1;
                    t.failed_phases.push((began, p.load(SeqCst)));
                    if t.errors.len() < 5 {
                        t.errors.push(e);
                    }
                }
            }
        }
        t
    });
    // Clients are served by the old server alone for a moment.
    thread::sleep(Duration::from_millis(200));
    let new = Process::bin(&[
        "--addr",
        &addr.to_string(),
        "--reuse-port",
        "--mode",
        "threads",
    ]);
    assert_eq!(new.addr, addr);
    phase.store(BOTH_LISTEN, SeqCst);
    // Both serve for a moment: the kernel spreads clients over both.
    thread::sleep(Duration::from_millis(100));
    phase.store(OLD_STOPPING, SeqCst);
    let exit = old.stop("TERM");
    phase.store(OLD_EXITED, SeqCst);
    assert_eq!(exit.code, Some(0), "old server: {}", exit.stderr);
    eprintln!("old server: {}", exit.stdout.trim());
    // The new server alone serves for a moment.
    thread::sleep(Duration::from_millis(300));
    stop.store(true, SeqCst);
    let t = client.join().expect("client thread");
    eprintln!(
        "handover: {} attempts, {} failed {:?} (phases {:?}), {} served after the old server exited",
        t.attempts, t.failed, t.errors, t.failed_phases, t.ok_after_old_exit
    );
    assert!(
        t.ok_after_old_exit > 0,
        "the new server served nobody: {t:?}"
    );
    // What is certain: with one server listening, or both and neither
    // stopping, every attempt succeeds; an attempt can fail only if the
    // old server began stopping before it ended, and only if it began
    // before the old server had exited. (How many fail in that window is
    // measured, not asserted: deploy/README.md.)
    for &(began, ended) in &t.failed_phases {
        assert!(
            ended >= OLD_STOPPING && began < OLD_EXITED,
            "an attempt failed outside the handover: {t:?}"
        );
    }
    let exit = new.stop_ok();
    assert!(exit.stdout.contains("Served "), "{}", exit.stdout);
}
