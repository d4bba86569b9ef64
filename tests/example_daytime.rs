//! `examples/daytime.rs`: RFC 867, one line of time per connection, then the
//! server closes. Every mode serves it; threads mode serves many at once.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use common::client::Client;
use common::process::Process;
use tcpmodes::{Framing, Mode};

/// Connects, reads until the server closes, checks the line is now's time.
fn ask_the_time(server: SocketAddr, say_something: bool) {
    let mut c = Client::connect(server, Framing::Raw);
    if say_something {
        // RFC 867: anything the client sends is ignored.
        let _ = c.stream.write_all(b"what time is it?\r\n");
    }
    let text = c.recv_to_end();
    let line = text
        .strip_suffix("\r\n")
        .unwrap_or_else(|| panic!("not one CRLF line: {text:?}"));
    let when = httpdate::parse_http_date(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let skew = SystemTime::now()
        .duration_since(when)
        .unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(120), "{line} is not now");
}

#[test]
fn sends_the_time_and_closes_in_every_mode() {
    for mode in Mode::ALL {
        let server = Process::example("daytime", &["--mode", mode.name(), "--workers", "2"]);
        assert!(server.banner.contains("framing raw"), "{}", server.banner);
        for i in 0..5 {
            ask_the_time(server.addr, i % 2 == 1);
        }
        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        assert!(
            stopped.stdout.contains("Served 5 connections"),
            "{mode}: {}",
            stopped.stdout
        );
    }
}

/// Churn: many short connections at once, each one served and closed.
#[test]
fn serves_a_burst_of_concurrent_connections_in_every_mode() {
    for mode in Mode::ALL {
        let server = Process::example("daytime", &["--mode", mode.name(), "--workers", "2"]);
        let addr = server.addr;
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..5 {
                        ask_the_time(addr, false);
                    }
                });
            }
        });
        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        assert!(
            stopped.stdout.contains("Served 40 connections"),
            "{mode}: {}",
            stopped.stdout
        );
    }
}
