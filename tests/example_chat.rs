//! `examples/chat.rs`: a room where a line goes to everyone else. Every
//! mode but serial broadcasts; serial mode only ever has one client in the
//! room, so its test asserts the waiting, not the broadcast.

mod common;

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
    let stopped = server.stop_ok();
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
    server.stop_ok();
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
    server.stop_ok();
}
