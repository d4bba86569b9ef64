//! `--protocol daytime` (RFC 867): servers that send a line, right or
//! wrong, and close; a module of `tests/bench.rs`, on its servers.

use std::io::Write;

use tcpmodes::Framing;
use tcpmodes::bench::{BenchArgs, OutputFormat, Protocol, render, run_bench};

use super::{IDLE, TestServer, args, check_invariants, check_json, listen};

/// A daytime server (RFC 867) that sends `answer` to each connection and
/// closes, one connection at a time: plenty for a few hundred short
/// connections, and the shape of the answer is what is under test.
fn serve_daytime(answer: Vec<u8>) -> TestServer {
    listen(move |mut s| {
        let _ = s.set_write_timeout(Some(IDLE));
        // The client may close first after a wrong byte; that is
        // its business.
        let _ = s.write_all(&answer);
    })
}

fn daytime_args(server: &TestServer, clients: usize, messages: u64) -> BenchArgs {
    let mut a = args(server, Framing::Raw, clients, messages);
    a.protocol = Protocol::Daytime;
    a.load.churn = true;
    a
}

#[test]
fn daytime_churn_counts_every_line() {
    for answer in [&b"Tue, 25 Nov 2025 18:14:03 GMT\r\n"[..], b"Tuesday\n"] {
        let server = serve_daytime(answer.to_vec());
        let r = run_bench(&daytime_args(&server, 20, 10)).expect("bench runs");
        check_invariants(&r);
        check_json(&r);
        assert_eq!(r.sent, 200, "{r:?}");
        assert_eq!(r.replies_ok, 200, "{r:?}");
        assert_eq!(r.errors.total, 0, "{r:?}");
        assert_eq!(r.connections, 200, "a connection per answer: {r:?}");
        assert!(r.conns_per_sec > 0.0);
        assert_eq!(r.protocol, Protocol::Daytime);
        assert_eq!(r.size, 0, "daytime sends no payload");

        let json: serde_json::Value =
            serde_json::from_str(&render(&r, OutputFormat::Json)).unwrap();
        assert_eq!(json["protocol"], "daytime");
        assert_eq!(json["churn"], true);
        assert_eq!(json["version"], 1);
        let table = render(&r, OutputFormat::Table);
        assert!(
            table.contains("protocol") && table.contains("daytime"),
            "{table}"
        );
        let csv = render(&r, OutputFormat::Csv);
        let rows: Vec<&str> = csv.lines().collect();
        let col = rows[0].split(',').position(|h| h == "protocol").unwrap();
        assert_eq!(rows[1].split(',').nth(col), Some("daytime"));
    }
}

#[test]
fn daytime_implies_churn() {
    let server = serve_daytime(b"Tuesday\r\n".to_vec());
    let mut a = daytime_args(&server, 2, 5);
    a.load.churn = false;
    let r = run_bench(&a).expect("bench runs");
    check_invariants(&r);
    assert!(r.churn, "{r:?}");
    assert_eq!((r.replies_ok, r.connections), (10, 10), "{r:?}");
}

#[test]
fn daytime_answers_of_the_wrong_shape_are_wrong_replies() {
    let too_long = [vec![b'x'; 600], b"\r\n".to_vec()].concat();
    for answer in [
        b"garbage without a line end".to_vec(),
        too_long,
        b"\x00\x01\x02binary\n".to_vec(),
        b"two\nlines\n".to_vec(),
        b"\r\n".to_vec(),
    ] {
        let server = serve_daytime(answer.clone());
        let r = run_bench(&daytime_args(&server, 2, 5)).expect("bench runs");
        check_invariants(&r);
        let shown = String::from_utf8_lossy(&answer[..answer.len().min(30)]).into_owned();
        assert_eq!(r.sent, 10, "{shown:?}: {r:?}");
        assert_eq!(r.errors.wrong_reply, 10, "{shown:?}: {r:?}");
        assert_eq!(r.replies_ok, 0, "{shown:?}: {r:?}");
    }
}

#[test]
fn daytime_close_without_a_byte_is_closed_early() {
    let server = serve_daytime(Vec::new());
    let r = run_bench(&daytime_args(&server, 2, 5)).expect("bench runs");
    check_invariants(&r);
    assert_eq!(r.sent, 10, "{r:?}");
    assert_eq!(r.errors.closed_early, 10, "{r:?}");
    assert_eq!(r.replies_ok, 0);
}

/// The framework's own way of serving daytime (`on_connect` replies and
/// returns `Close`, as `examples/daytime.rs` does), in every mode.
#[test]
fn daytime_against_the_framework_in_every_mode() {
    use tcpmodes::{Action, Config, Context, Handler, Mode, Server};
    struct Daytime;
    impl Handler for Daytime {
        fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
            ctx.reply("Tue, 25 Nov 2025 18:14:03 GMT\r\n");
            Action::Close
        }
        fn on_message(&mut self, _: &[u8], _: &mut Context<'_>) -> Action {
            Action::Close
        }
    }
    for mode in [Mode::Serial, Mode::Threads, Mode::Pool] {
        let mut config = Config::default();
        config.address = "127.0.0.1:0".into();
        config.mode = mode;
        let server = Server::bind(config, || Daytime).expect("bind").spawn();
        let mut a = BenchArgs::new(server.local_addr().to_string());
        a.protocol = Protocol::Daytime;
        a.load.churn = true;
        a.load.clients = 8;
        a.load.messages = Some(10);
        a.threads = Some(2);
        a.no_progress = true;
        a.load.timeout_ms = 10_000;
        let r = run_bench(&a).expect("bench runs");
        server.stop();
        check_invariants(&r);
        assert_eq!(r.replies_ok, 80, "{mode:?}: {r:?}");
        assert_eq!(r.errors.total, 0, "{mode:?}: {r:?}");
    }
}
