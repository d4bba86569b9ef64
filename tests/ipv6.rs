//! IPv6: `--addr [::1]:0` serves in every mode, alone and as several
//! processes, and the `Listening on` line names the address as it is
//! written in a URL or a flag, `[::1]:PORT`.

mod common;

use common::process::Process;
use tcpmodes::{Framing, Mode};

/// Whether this machine has an IPv6 loopback; says so once when not.
fn have_ipv6_loopback() -> bool {
    match std::net::TcpListener::bind("[::1]:0") {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipped: no IPv6 loopback ([::1]: {e})");
            false
        }
    }
}

/// Greeting, one echo and `exit` over IPv6, then a graceful stop.
fn greet_echo_exit(server: Process) {
    assert!(
        server.banner.starts_with("Listening on [::1]:"),
        "{}",
        server.banner
    );
    assert!(server.addr.is_ipv6());
    let mut c = server.connect(Framing::Raw);
    c.expect(b"Welcome!");
    c.echo(b"over six");
    c.send(b"exit");
    assert!(c.closed(), "{}", server.banner);
    let Some(exit) = server.stop_checked() else {
        return;
    };
    assert!(
        exit.stdout.contains("1 connection, 2 messages"),
        "{}",
        exit.stdout
    );
}

#[test]
fn every_mode_serves_on_the_ipv6_loopback() {
    if !have_ipv6_loopback() {
        return;
    }
    for mode in Mode::ALL {
        greet_echo_exit(Process::bin(&["--addr", "[::1]:0", "--mode", mode.name()]));
    }
    // The children bind the address the parent prints, brackets and all.
    greet_echo_exit(Process::bin(&[
        "--addr",
        "[::1]:0",
        "--processes",
        "2",
        "--mode",
        "event",
    ]));
}
