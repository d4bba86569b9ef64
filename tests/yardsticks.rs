//! The yardsticks the modes are measured against (`examples/baseline.rs`,
//! `mio_baseline.rs`, `tokio_baseline.rs`) speak the lesson's protocol
//! exactly as the framework does, so a table comparing them compares
//! servers, not protocols: the greeting, one answer per message, `exit`
//! (typed in `nc` or not) closing; and the load generator finds no error
//! against them, persistent or under churn. Each runs as its own process
//! on 127.0.0.1, port 0.

mod common;

use common::process::Process;
use tcpmodes::Framing;
use tcpmodes::bench::{BenchArgs, run_bench};

/// Every yardstick, with the arguments that pick each of its shapes.
const YARDSTICKS: [(&str, &[&str]); 4] = [
    ("baseline", &[]),
    ("mio_baseline", &[]),
    ("mio_baseline", &["--loops", "2"]),
    ("tokio_baseline", &[]),
];

#[test]
fn yardsticks_speak_the_lesson_protocol() {
    for (name, args) in YARDSTICKS {
        let server = Process::example(name, args);
        assert_eq!(
            server.banner,
            format!("Listening on {}", server.addr),
            "{name}"
        );
        for exit in [&b"exit"[..], b"exit\n", b"exit\r\n"] {
            let mut a = server.connect(Framing::Raw);
            a.expect(b"Welcome!");
            // A second client is served while the first stays.
            let mut b = server.connect(Framing::Raw);
            b.expect(b"Welcome!");
            a.echo(b"message1");
            b.echo(b"hello from b");
            a.echo(b"exit now");
            a.send_raw(exit);
            assert!(a.expect_closed().is_empty(), "{name}: {exit:?}");
            b.echo(b"still here");
        }
    }
}

#[test]
fn the_generator_finds_no_error_against_any_yardstick() {
    for (name, args) in YARDSTICKS {
        let server = Process::example(name, args);
        for churn in [false, true] {
            let mut bench = BenchArgs::new(server.addr.to_string());
            bench.load.clients = 8;
            bench.load.messages = Some(if churn { 20 } else { 200 });
            bench.load.churn = churn;
            bench.no_progress = true;
            let r = run_bench(&bench).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.errors.total, 0, "{name} churn={churn}: {:?}", r.errors);
            assert_eq!(r.clients_answered, 8, "{name} churn={churn}");
            assert_eq!(r.replies_ok, 8 * bench.load.messages.unwrap());
        }
    }
}
