//! Every mode serves the lesson's protocol byte for byte: the greeting,
//! `Received ...;` for each message, a close on `exit`; in every framing
//! that marks message ends; and to the lesson's own Python client.

mod common;

use std::process::Command;

use common::client::Client;
use common::process::run_to_exit;
use common::servers::echo_server;
use common::{have, repo_path};
use tcpmodes::{Framing, Mode};

/// Every mode, each with one worker and with two: a new mode is tested
/// without touching this file.
fn all_setups() -> impl Iterator<Item = (Mode, usize)> {
    Mode::ALL
        .into_iter()
        .flat_map(|mode| [(mode, 1), (mode, 2)])
}

#[test]
fn lesson_transcript_byte_for_byte_in_every_mode() {
    for (mode, workers) in all_setups() {
        let server = echo_server(mode, |c| c.workers = workers);
        let mut c = Client::connect(server.local_addr(), Framing::Raw);
        c.expect(b"Welcome!");
        for i in 1..=5 {
            c.send(format!("message{i}"));
            c.expect(format!("Received message{i};").as_bytes());
        }
        c.send(b"exit");
        assert!(c.closed(), "{mode}: exit must close");
        let summary = server.stop();
        assert_eq!(summary.connections, 1, "{mode}");
        assert_eq!(summary.messages, 6, "{mode}");
    }
}

/// `nc` sends the line ending the user typed: in the raw framing `exit\n`
/// and `exit\r\n` (telnet) close too, so nobody hangs until the read
/// timeout.
#[test]
fn exit_typed_in_nc_closes_in_every_mode() {
    for mode in Mode::ALL {
        for typed in [&b"exit\n"[..], b"exit\r\n"] {
            let server = echo_server(mode, |_| {});
            let mut c = Client::connect(server.local_addr(), Framing::Raw);
            c.expect(b"Welcome!");
            c.send_raw(b"hello\n");
            c.expect(b"Received hello\n;");
            c.send_raw(typed);
            assert!(c.closed(), "{mode}: {typed:?} must close");
            server.stop();
        }
    }
}

#[test]
fn every_framing_in_every_mode() {
    for (mode, workers) in all_setups() {
        for framing in [Framing::Line, Framing::Length] {
            let server = echo_server(mode, |c| {
                c.workers = workers;
                c.framing = framing;
            });
            let mut c = Client::connect(server.local_addr(), framing);
            c.expect(b"Welcome!");
            // Two messages in one write: framing must split them.
            let mut both = Vec::new();
            framing.encode(b"one", &mut both).unwrap();
            framing.encode(b"two", &mut both).unwrap();
            c.send_raw(&both);
            c.expect(b"Received one;");
            c.expect(b"Received two;");
            c.send(b"exit");
            assert!(c.closed(), "{mode} {framing}");
            server.stop();
        }
    }
}

#[test]
fn the_lessons_python_client_passes_against_every_mode() {
    if !have(common::PYTHON) {
        return;
    }
    // The copy of the lesson's client the README tells learners to run.
    let script = repo_path("scripts/lesson_client.py");
    for mode in Mode::ALL {
        let server = echo_server(mode, |_| {});
        let mut cmd = Command::new(common::PYTHON);
        cmd.arg(&script).arg(server.local_addr().port().to_string());
        let out = run_to_exit(cmd);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n\
             Received message4;\nReceived message5;\n",
            "{mode}"
        );
        let summary = server.stop();
        assert_eq!(summary.messages, 6);
    }
}
