//! Graceful shutdown: the message in flight is answered, idle clients are
//! closed at once, new clients are refused; through the library handle and
//! through real signals to the binary.

mod common;

use std::net::{SocketAddr, TcpStream};

use socket2::{Domain, Socket, Type};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::client::Client;
#[cfg(unix)]
use common::process::Process;
use common::servers::{echo_server, gated_server, local_config, serve};
use tcpmodes::{Action, ConnInfo, Context, DisconnectReason, Framing, Group, Handler, Mode};

/// Connecting after shutdown must fail, or at least never be served. Tries
/// a bounded number of times while the listener closes.
fn assert_refused(addr: SocketAddr) {
    for _ in 0..250 {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            // Refused as a rule; under a full test run the closing
            // listener can also reset the attempt, or another test's
            // client hold the port. Any failure to connect is no service,
            // which is what this asserts.
            Err(_) => return,
            Ok(s) => {
                // Raced the listener's close: it must not be greeted.
                let mut c = Client::from_stream(s, Framing::Raw);
                assert!(c.closed(), "a connection after shutdown was served");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    panic!("new connections were never refused");
}

#[test]
fn handle_answers_in_flight_closes_idle_and_refuses_new_in_every_mode() {
    for mode in Mode::ALL {
        let server = echo_server(mode, |c| {
            c.delay_ms = 600;
            c.workers = 2;
            // Far past the reply, so a starved machine cannot turn the
            // answer this test waits for into a cut.
            c.shutdown_timeout_ms = 20_000;
            // Event mode: the idle client on a loop of its own; on the busy
            // client's loop it would wait for the slow reply, as in serial.
            c.loops = 2;
        });
        let addr = server.local_addr();
        let mut busy = Client::connect(addr, Framing::Raw);
        busy.expect(b"Welcome!");
        // Serial serves one client: the idle one only exists in the others.
        let mut idle = (mode != Mode::Serial).then(|| Client::greeted(addr, Framing::Raw));
        busy.send(b"last words");
        let events = Arc::new(Mutex::new(Vec::new()));
        let handle = server.shutdown_handle();
        handle.trigger();
        let e = events.clone();
        let idle_thread = idle.take().map(|mut c| {
            thread::spawn(move || {
                assert!(c.closed(), "idle client not closed");
                e.lock().unwrap().push(("idle closed", Instant::now()));
            })
        });
        busy.expect(b"Received last words;");
        events
            .lock()
            .unwrap()
            .push(("busy answered", Instant::now()));
        assert!(
            busy.closed(),
            "{mode}: busy client not closed after its reply"
        );
        if let Some(t) = idle_thread {
            t.join().unwrap();
            let ev = events.lock().unwrap();
            // The idle client did not have to wait for the slow reply.
            assert_eq!(ev[0].0, "idle closed", "{mode}: {ev:?}");
        }
        assert_refused(addr);
        let summary = server.stop();
        assert_eq!(summary.messages, 1, "{mode}");
        assert_eq!(summary.cut, 0, "{mode}");
    }
}

#[test]
fn pool_closes_clients_still_waiting_for_a_worker() {
    let server = echo_server(Mode::Pool, |c| {
        c.workers = 1;
        c.delay_ms = 300;
        c.shutdown_timeout_ms = 20_000;
    });
    let addr = server.local_addr();
    let mut first = Client::greeted(addr, Framing::Raw);
    let mut waiting = Client::connect(addr, Framing::Raw);
    first.send(b"x");
    // Make sure the waiting client was accepted into the pool's queue.
    thread::sleep(Duration::from_millis(200));
    server.shutdown_handle().trigger();
    first.expect(b"Received x;");
    // The waiting client is closed without a greeting.
    assert!(waiting.closed());
    let summary = server.stop();
    assert_eq!(summary.connections, 1);
    assert_eq!(summary.accepted, 2);
    assert_eq!(summary.unstarted, 1);
}

/// event-workers: messages that arrived before shutdown are answered, even
/// those still waiting for a worker (unlike pool mode, where a client
/// waiting for a worker was never served and is closed): the loop took
/// them off the socket, so they are owed a reply.
#[test]
fn event_workers_answer_messages_still_waiting_for_a_worker() {
    let server = echo_server(Mode::EventWorkers, |c| {
        c.workers = 1;
        c.loops = 1;
        c.delay_ms = 300;
        c.shutdown_timeout_ms = 20_000;
    });
    let addr = server.local_addr();
    let mut first = Client::greeted(addr, Framing::Raw);
    let mut second = Client::greeted(addr, Framing::Raw);
    let mut idle = Client::greeted(addr, Framing::Raw);
    first.send(b"one");
    second.send(b"two");
    // Both messages are read (the second waits for the only worker)
    // before shutdown; a bounded pause lets the loop read them.
    thread::sleep(Duration::from_millis(100));
    server.shutdown_handle().trigger();
    assert!(idle.closed(), "the idle client is closed at once");
    first.expect(b"Received one;");
    second.expect(b"Received two;");
    assert!(first.closed() && second.closed());
    let summary = server.stop();
    assert_eq!(summary.messages, 2, "{summary}");
    assert_eq!(summary.cut + summary.unstarted, 0, "{summary}");
}

/// In the event modes, a handler call still running at the end of
/// `shutdown_timeout_ms` is cut like a connection thread's: the server's
/// run ends without waiting for the call (held at a gate the test opens
/// only afterwards), and the client is closed.
#[test]
fn event_modes_cut_a_held_handler_call_after_shutdown_timeout() {
    for mode in [Mode::Event, Mode::EventWorkers] {
        let (server, gate) = gated_server(mode, |c| c.shutdown_timeout_ms = 100);
        let mut c = Client::greeted(server.local_addr(), Framing::Raw);
        c.send(b"block");
        gate.wait_held(1);
        let started = Instant::now();
        let summary = server.stop();
        // Waiting for the call would take the gate's own limit, PATIENCE.
        assert!(
            started.elapsed() < common::PATIENCE / 2,
            "{mode}: the run waited for the handler call"
        );
        assert_eq!(summary.cut, 1, "{mode}: {summary}");
        gate.open();
        assert!(c.closed_within(common::PATIENCE).is_some(), "{mode}");
    }
}

#[test]
fn slow_handler_is_cut_after_shutdown_timeout() {
    let server = echo_server(Mode::Threads, |c| {
        c.delay_ms = 3_000;
        c.shutdown_timeout_ms = 100;
    });
    let mut c = Client::greeted(server.local_addr(), Framing::Raw);
    c.send(b"slow");
    thread::sleep(Duration::from_millis(100));
    let summary = server.stop();
    assert_eq!(summary.cut, 1);
    assert!(c.closed());
}

/// A room where `flood N` sends N numbered lines of 1 KB to everyone else
/// and answers `flooded` once they are all sent or queued.
struct Flood(Group);

/// Line `i` of a flood, without its `\n`.
fn flood_line(i: usize) -> String {
    format!("{i:04} {}", "f".repeat(1018))
}

impl Handler for Flood {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        self.0.join(ctx.sender());
        ctx.reply("joined");
        Action::Continue
    }
    fn on_message(&mut self, msg: &[u8], ctx: &mut Context<'_>) -> Action {
        let n: usize = std::str::from_utf8(msg)
            .ok()
            .and_then(|m| m.strip_prefix("flood "))
            .and_then(|n| n.parse().ok())
            .expect("flood N");
        for i in 0..n {
            self.0.broadcast_except(ctx.id(), flood_line(i));
        }
        ctx.reply("flooded");
        Action::Continue
    }
    fn on_disconnect(&mut self, info: ConnInfo, _: &DisconnectReason) {
        self.0.leave(info.id);
    }
}

/// Lines pushed to a client that were still queued (its socket full) when
/// shutdown came are delivered before it is closed; a client that takes
/// none of its queue is cut at `shutdown_timeout_ms`, as a slow handler is.
/// Modes that serve three clients at once (serial serves one).
#[test]
fn queued_pushes_are_flushed_at_shutdown_and_a_client_taking_none_is_cut() {
    for mode in Mode::ALL.into_iter().filter(|m| *m != Mode::Serial) {
        let mut config = local_config(mode);
        config.framing = Framing::Line;
        config.workers = 3;
        config.shutdown_timeout_ms = 2_000;
        config.max_pending_bytes = 16 << 20;
        let room = Group::new();
        let server = serve(config, move || Flood(room.clone()));
        let addr = server.local_addr();
        let member = |stream: TcpStream| {
            let mut c = Client::from_stream(stream, Framing::Line);
            assert_eq!(c.recv_line(), "joined");
            c
        };
        let mut reader = member(TcpStream::connect(addr).unwrap());
        // A small receive window, so the kernel holds little of what the
        // deaf one is sent and the rest stays in the server's queue.
        let deaf = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        deaf.set_recv_buffer_size(4096).unwrap();
        deaf.connect(&addr.into()).unwrap();
        let _deaf = member(deaf.into());
        let mut speaker = member(TcpStream::connect(addr).unwrap());
        // 8 MB each to the reader and the deaf one: more than a kernel
        // holds for a socket (Linux's largest send buffer is 4 MB by
        // default), so some waits in their queues. `flooded` says all of
        // it was sent or queued.
        let lines = 8_000;
        assert_eq!(speaker.ask(&format!("flood {lines}")), "flooded");
        let started = Instant::now();
        server.shutdown_handle().trigger();
        let got = reader.recv_to_end();
        let want: String = (0..lines).map(|i| flood_line(i) + "\n").collect();
        assert!(got == want, "{mode}: {} bytes of {}", got.len(), want.len());
        assert!(speaker.closed(), "{mode}");
        let summary = server.join();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2),
            "{mode}: {took:?}: {summary}"
        );
        assert_eq!(summary.cut, 1, "{mode}: only the deaf one: {summary}");
        assert_eq!(summary.slow_consumers + summary.timeouts, 0, "{mode}");
    }
}

// The tests below send the binary real signals with kill(1): Unix only
// (std cannot send a child Ctrl+C on Windows; there `.ci/cross.sh` sends
// the Windows build Ctrl+C under wine).

/// The binary in `mode`, a reply in flight when `signal` arrives: the reply
/// is sent, the exit is 0 with a summary.
#[cfg(unix)]
fn signal_is_graceful(signal: &str, mode: Mode) {
    let bin = Process::bin(&[
        "--addr",
        "127.0.0.1:0",
        "--mode",
        mode.name(),
        "--delay-ms",
        "500",
        "--shutdown-timeout-ms",
        "20000",
    ]);
    let mut c = bin.connect(Framing::Raw);
    c.expect(b"Welcome!");
    c.send(b"goodbye");
    bin.signal(signal);
    c.expect(b"Received goodbye;");
    assert!(c.closed(), "{mode}");
    let exit = bin.wait();
    assert_eq!(
        exit.code,
        Some(0),
        "{mode}: stdout: {}\nstderr: {}",
        exit.stdout,
        exit.stderr
    );
    assert!(
        exit.stdout.contains("Served 1 connection, 1 message"),
        "{mode}: {}",
        exit.stdout
    );
    assert!(exit.stderr.contains("Shutting down"), "{}", exit.stderr);
    assert!(!exit.stderr.contains("panicked"), "{}", exit.stderr);
}

#[cfg(unix)]
#[test]
fn sigint_to_the_binary_answers_in_flight_and_exits_0() {
    for mode in Mode::ALL {
        signal_is_graceful("INT", mode);
    }
}

#[cfg(unix)]
#[test]
fn sigterm_to_the_binary_is_graceful_too() {
    signal_is_graceful("TERM", Mode::Threads);
}

#[cfg(unix)]
#[test]
fn a_second_sigint_quits_at_once_with_130() {
    let bin = Process::bin(&[
        "--addr",
        "127.0.0.1:0",
        "--mode",
        Mode::Threads.name(),
        "--delay-ms",
        "15000",
    ]);
    let mut c = bin.connect(Framing::Raw);
    c.expect(b"Welcome!");
    c.send(b"this reply would take 15 s");
    bin.signal("INT");
    // The first signal's shutdown now waits on the slow reply; wait until
    // the server says so before sending the second.
    thread::sleep(Duration::from_millis(300));
    bin.signal("INT");
    let exit = bin.wait();
    assert_eq!(exit.code, Some(130), "{}", exit.stderr);
    assert!(exit.stderr.contains("Second signal"), "{}", exit.stderr);
}

/// Once the first line is out, a signal is already graceful: a script that
/// stops the server the moment it starts gets exit 0 and a summary, never
/// the default death by SIGINT. (Tried a few times: it was a race.)
#[cfg(unix)]
#[test]
fn a_signal_right_after_the_first_line_is_graceful() {
    for _ in 0..5 {
        let bin = Process::bin(&["--addr", "127.0.0.1:0"]);
        let exit = bin.stop("INT");
        assert_eq!(
            exit.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            exit.stdout,
            exit.stderr
        );
        assert!(
            exit.stdout.contains("Served 0 connections"),
            "{}",
            exit.stdout
        );
    }
}
