//! `examples/chat.rs`: a room where a line goes to everyone else. Every
//! mode but serial broadcasts; serial mode only ever has one client in the
//! room, so its test asserts the waiting, not the broadcast. A member that
//! never reads is cut as too slow and holds up nobody.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::client::Client;
use common::process::Process;
use tcpmodes::{Framing, Mode};

/// Connects a client and reads its welcome.
fn join(server: &Process, others: usize) -> (Client, String) {
    let mut c = server.connect(Framing::Line);
    let addr = c.local();
    assert_eq!(
        c.recv_line(),
        format!(
            "Welcome to the chat, {addr}! {others} other(s) here. Send NICK <name> to pick a name."
        )
    );
    (c, addr)
}

/// Every mode that serves clients side by side (all but serial) runs the
/// room: joins, lines and nicknames reach everyone else.
#[test]
fn every_mode_but_serial_broadcasts_to_everyone_else() {
    for mode in Mode::ALL.into_iter().filter(|m| *m != Mode::Serial) {
        room_works(mode);
    }
}

fn room_works(mode: Mode) {
    let server = Process::example("chat", &["--mode", mode.name(), "--workers", "3"]);
    assert!(server.banner.contains("framing line"), "{}", server.banner);
    let (mut a, a_addr) = join(&server, 0);
    // a answered, so its on_connect (which joins the room) is done.
    assert_eq!(a.ask("anyone?"), "(nobody else is here)");
    let (mut b, b_addr) = join(&server, 1);
    // Each join is announced to those already in; once a has seen b join,
    // b is in the room.
    assert_eq!(a.recv_line(), format!("* {b_addr} joined"));
    let (mut c, c_addr) = join(&server, 2);
    assert_eq!(a.recv_line(), format!("* {c_addr} joined"));
    assert_eq!(b.recv_line(), format!("* {c_addr} joined"));

    a.send("hello all");
    assert_eq!(b.recv_line(), format!("{a_addr}: hello all"));
    assert_eq!(c.recv_line(), format!("{a_addr}: hello all"));

    assert_eq!(a.ask("NICK alice"), "* you are now alice");
    assert_eq!(b.recv_line(), format!("* {a_addr} is now alice"));
    assert_eq!(c.recv_line(), format!("* {a_addr} is now alice"));
    assert_eq!(
        b.ask("NICK two words"),
        "* NICK takes one word of letters, digits, - or _, up to 24"
    );
    b.send("NICK bob");
    assert_eq!(b.recv_line(), "* you are now bob");
    assert_eq!(a.recv_line(), format!("* {b_addr} is now bob"));
    assert_eq!(c.recv_line(), format!("* {b_addr} is now bob"));

    b.send("hi alice");
    assert_eq!(a.recv_line(), "bob: hi alice");
    assert_eq!(c.recv_line(), "bob: hi alice");
    // The sender does not get its own line back.
    b.assert_silent("own line");

    c.close();
    assert_eq!(a.recv_line(), format!("* {c_addr} left"));
    assert_eq!(b.recv_line(), format!("* {c_addr} left"));
    b.close();
    assert_eq!(a.recv_line(), "* bob left");
    assert_eq!(a.ask("anyone?"), "(nobody else is here)");
    a.close();
    let Some(stopped) = server.stop_checked() else {
        return;
    };
    assert!(
        stopped.stdout.contains("Served 3 connections"),
        "{mode}: {}",
        stopped.stdout
    );
}

/// Pool mode: a client past `--workers` is connected but outside the room
/// until a member leaves.
#[test]
fn pool_mode_keeps_clients_past_its_workers_outside() {
    let server = Process::example("chat", &["--mode", Mode::Pool.name(), "--workers", "2"]);
    let (mut a, a_addr) = join(&server, 0);
    // a answered, so its on_connect (which joins the room) is done.
    assert_eq!(a.ask("anyone?"), "(nobody else is here)");
    let (mut b, b_addr) = join(&server, 1);
    assert_eq!(a.recv_line(), format!("* {b_addr} joined"));
    let mut c = server.connect(Framing::Line);
    c.assert_silent("both workers are busy");
    a.send("secret");
    assert_eq!(b.recv_line(), format!("{a_addr}: secret"));
    c.assert_silent("not in the room");
    a.close();
    assert_eq!(b.recv_line(), format!("* {a_addr} left"));
    // a's worker is free: c is served, joins, and never saw the secret.
    let c_addr = c.local();
    assert_eq!(
        c.recv_line(),
        format!("Welcome to the chat, {c_addr}! 1 other(s) here. Send NICK <name> to pick a name.")
    );
    assert_eq!(b.recv_line(), format!("* {c_addr} joined"));
    b.close();
    c.close();
    server.end();
}

/// Serial mode: the lesson in one picture. The second client is connected
/// but hears nothing, not even its welcome, until the first leaves; the
/// first is alone in the room the whole time.
#[test]
fn serial_mode_makes_the_second_client_wait_and_everyone_alone() {
    let server = Process::example("chat", &["--mode", Mode::Serial.name()]);
    let (mut a, _) = join(&server, 0);
    let mut b = server.connect(Framing::Line);
    b.assert_silent("serial: b waits for a to leave");
    assert_eq!(a.ask("hello?"), "(nobody else is here)");
    b.send("is anyone there?");
    b.assert_silent("still waiting");
    a.close();
    // Now b is served: alone too, and a's line never reached it.
    let b_addr = b.local();
    assert_eq!(
        b.recv_line(),
        format!("Welcome to the chat, {b_addr}! 0 other(s) here. Send NICK <name> to pick a name.")
    );
    // What b typed while waiting was kept by the kernel and is handled now.
    assert_eq!(b.recv_line(), "(nobody else is here)");
    b.close();
    server.end();
}

/// Lines the speaker sends in the flood tests, each this many bytes with
/// its `\n`: 20 MB, far more than the silent member's socket buffers and
/// its queue (`max_pending_bytes`, 1 MiB by default) hold together.
const LINES: usize = 20_000;
const LINE_BYTES: usize = 1024;

/// How long the reader may take for all the lines: far above what a
/// passing run takes (the silent member's `stall_timeout_ms`, 2 s, plus
/// well under a second in release, see modes/README.md), so only a reader
/// left waiting for good fails it.
const BOUND: Duration = Duration::from_secs(60);

/// The servers the flood runs against: every mode that serves clients side
/// by side (serial serves one at a time, so its room never holds three
/// members), and `event` with one loop, where speaker, reader and silent
/// member share a thread. Default settings but for the pool's size.
fn flood_servers() -> Vec<(String, Vec<&'static str>)> {
    let mut servers: Vec<(String, Vec<&'static str>)> = Mode::ALL
        .into_iter()
        .filter(|m| *m != Mode::Serial)
        .map(|m| {
            let mut args = vec!["--mode", m.name()];
            if m == Mode::Pool {
                args.extend(["--workers", "4"]);
            }
            (m.name().to_string(), args)
        })
        .collect();
    servers.push((
        "event --loops 1".into(),
        vec!["--mode", "event", "--loops", "1"],
    ));
    servers
}

/// One member never reads; another reads all the time; the third says
/// 20,000 lines of 1 KB as fast as she can. With the default settings the
/// member who reads gets every line, whole and in order, and is never cut:
/// the speaker is slowed to the pace of the members she fills, as TCP
/// would slow her. The silent member is cut as too slow once its queue is
/// full and it has taken nothing for `stall_timeout_ms`, the room says it
/// left, and the speaker goes on. Read here at full speed (one `read` of
/// 64 KiB at a time, checked as it goes).
#[test]
fn a_reader_gets_every_line_and_a_silent_member_is_cut() {
    for (name, args) in flood_servers() {
        flood_with_a_fast_reader(&name, &args);
    }
}

/// The line number `i` the speaker sends, without its `\n`.
fn numbered_line(i: usize) -> String {
    let head = format!("{i:05} ");
    format!("{head}{}", "x".repeat(LINE_BYTES - 1 - head.len()))
}

fn flood_with_a_fast_reader(name: &str, args: &[&str]) {
    let server = Process::example("chat", args);
    let (mut reader, _) = join(&server, 0);
    assert_eq!(reader.ask("anyone?"), "(nobody else is here)");
    // Reads its welcome (in `join`), then nothing ever again; a small
    // receive buffer, so it stops taking bytes early.
    let silent = {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket.connect(&server.addr.into()).unwrap();
        let mut c = Client::from_stream(socket.into(), Framing::Line);
        assert!(c.recv_line().starts_with("Welcome to the chat"));
        c
    };
    let silent_addr = silent.local();
    assert_eq!(reader.recv_line(), format!("* {silent_addr} joined"));
    let (speaker, speaker_addr) = join(&server, 2);
    assert_eq!(reader.recv_line(), format!("* {speaker_addr} joined"));

    let start = Instant::now();
    let mut out = speaker.stream.try_clone().unwrap();
    let speaking = thread::spawn(move || {
        let mut all = Vec::with_capacity(LINES * LINE_BYTES);
        for i in 0..LINES {
            all.extend_from_slice(numbered_line(i).as_bytes());
            all.push(b'\n');
        }
        out.write_all(&all).expect("speaker's lines");
        start.elapsed()
    });
    // Whole lines, in order, each prefixed with the speaker's name; the
    // only other line is the room saying the silent member left.
    let deadline = start + BOUND;
    let (mut next, mut left, mut got, mut buf) = (0, false, Vec::new(), vec![0u8; 64 * 1024]);
    while next < LINES {
        let wait = deadline.saturating_duration_since(Instant::now());
        assert!(
            !wait.is_zero(),
            "{name}: {next} of {LINES} lines by the deadline"
        );
        reader.stream.set_read_timeout(Some(wait)).unwrap();
        let n = match reader.stream.read(&mut buf) {
            Ok(0) => panic!("{name}: the reader was closed after {next} lines"),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("{name}: {e} after {next} of {LINES} lines"),
        };
        got.extend_from_slice(&buf[..n]);
        let mut start_of_line = 0;
        while let Some(end) = got[start_of_line..].iter().position(|&b| b == b'\n') {
            let line = std::str::from_utf8(&got[start_of_line..start_of_line + end]).unwrap();
            if line == format!("* {silent_addr} left (too slow to read)") {
                left = true;
            } else {
                assert_eq!(
                    line,
                    format!("{speaker_addr}: {}", numbered_line(next)),
                    "{name}"
                );
                next += 1;
            }
            start_of_line += end + 1;
        }
        got.drain(..start_of_line);
    }
    let took = start.elapsed();
    let spoke = speaking.join().unwrap();
    // Shown with --nocapture, before any verdict: the figures
    // modes/README.md quotes.
    eprintln!(
        "{name}: {LINES} lines of {LINE_BYTES} bytes reached the reader in {took:.3?}; \
         the speaker had written them all after {spoke:.3?}"
    );
    if !left {
        let line = reader.recv_line();
        assert_eq!(
            line,
            format!("* {silent_addr} left (too slow to read)"),
            "{name}"
        );
    }
    drop(silent);
    let Some(stopped) = server.stop_checked() else {
        return;
    };
    assert!(
        stopped.stdout.contains(" 0 timeouts,") && stopped.stdout.contains(" 1 too slow,"),
        "{name}: {}",
        stopped.stdout
    );
    assert!(
        stopped.stderr.contains(&format!(
            "Connection from {silent_addr} closed: too slow: its queue was full"
        )),
        "{name}: {}",
        stopped.stderr
    );
}

/// The same flood read by a Python client (`scripts/chat_flood.py`: a
/// thread calling `recv(65536)` and checking each line as it comes), the
/// kind of reader a class writes: slower than the server, and still never
/// cut and never short of a line.
#[test]
fn a_python_reader_gets_every_line_too() {
    if !common::have(common::PYTHON) {
        return;
    }
    for (name, args) in flood_servers() {
        let server = Process::example("chat", &args);
        let run = std::process::Command::new(common::PYTHON)
            .arg(common::repo_path("scripts/chat_flood.py"))
            .args(["--addr", &server.addr.to_string(), "--reader", "python"])
            .args(["--timeout", &BOUND.as_secs().to_string()])
            .output()
            .expect("run scripts/chat_flood.py");
        let report = String::from_utf8_lossy(&run.stdout);
        eprintln!("{name}: {}", report.trim());
        let log = server.stderr_text();
        let stopped = server.stop_checked();
        assert!(
            run.status.success(),
            "{name}: {report}\n{}\nserver:\n{log}",
            String::from_utf8_lossy(&run.stderr),
        );
        for field in [
            "\"lines_got\": 20000",
            "\"in_order\": true",
            "\"reader_cut\": false",
            "\"silent_cut_announced\": true",
        ] {
            assert!(report.contains(field), "{name}: no {field} in {report}");
        }
        if let Some(stopped) = stopped {
            assert!(
                stopped.stdout.contains(" 1 too slow,"),
                "{name}: {}",
                stopped.stdout
            );
        }
    }
}
