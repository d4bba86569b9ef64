//! `examples/kv.rs`: one store shared by every connection, in every mode.

mod common;

use common::process::{Process, run_example};
use tcpmodes::{Framing, Mode};

#[test]
fn connections_share_one_store_in_every_mode() {
    for mode in Mode::ALL {
        let server = Process::example("kv", &["--mode", mode.name(), "--workers", "2"]);
        let mut a = server.connect(Framing::Line);
        let mut b = server.connect(Framing::Line);
        assert_eq!(a.ask("SET colour deep blue"), "OK");
        if mode == Mode::Serial {
            // b is connected but waits for a to leave; a's SET is kept.
            b.send("GET colour");
            b.assert_silent("serial: the first client holds the server");
            assert_eq!(a.ask("QUIT"), "BYE");
            assert_eq!(a.recv_to_end(), "", "closed after BYE");
            assert_eq!(b.recv_line(), "VALUE deep blue");
        } else {
            // Both served at once: b sees a's write while a is still here.
            assert_eq!(b.ask("GET colour"), "VALUE deep blue", "{mode}");
            assert_eq!(b.ask("SET colour red"), "OK");
            assert_eq!(a.ask("GET colour"), "VALUE red", "{mode}");
            assert_eq!(a.ask("QUIT"), "BYE");
        }
        assert_eq!(
            b.ask("del colour"),
            "DELETED",
            "commands are case-insensitive"
        );
        assert_eq!(b.ask("GET colour"), "NOT_FOUND");
        b.close();
        server.end();
    }
}

#[test]
fn bad_commands_get_one_clear_error_line_and_the_connection_goes_on() {
    let server = Process::example("kv", &["--mode", Mode::Threads.name()]);
    let mut c = server.connect(Framing::Line);
    for (command, reply) in [
        (
            "FLY away",
            "ERR unknown command `FLY`; try SET, GET, DEL, KEYS or QUIT",
        ),
        ("", "ERR empty command; try SET, GET, DEL, KEYS or QUIT"),
        ("SET lonely", "ERR usage: SET key value"),
        ("SET", "ERR usage: SET key value"),
        ("GET", "ERR usage: GET key"),
        ("GET a b", "ERR usage: GET key"),
        ("DEL", "ERR usage: DEL key"),
        ("KEYS x", "ERR usage: KEYS (no arguments)"),
        ("KEYS", "KEYS"),
        ("SET b 2", "OK"),
        ("SET a 1", "OK"),
        ("SET empty ", "OK"),
        ("GET empty", "VALUE "),
        ("KEYS", "KEYS a b empty"),
        ("DEL nothing", "NOT_FOUND"),
    ] {
        assert_eq!(c.ask(command), reply, "{command:?}");
    }
    // Bytes that are not UTF-8, on a second connection.
    let mut l = server.connect(Framing::Line);
    l.send_raw(b"GET \xff\xfe\n");
    assert_eq!(l.recv_line(), "ERR commands must be UTF-8 text");
    assert_eq!(l.ask("GET a"), "VALUE 1");
    c.close();
    l.close();
    server.end();
}

/// A program built on tcpmodes presents itself, not tcpmodes: its name,
/// description and version; the `tcpmodes` program's echo settings are
/// not its flags at all (refused as any unknown flag is).
#[test]
fn kv_is_its_own_program() {
    let help = run_example("kv", &["--help"]);
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    let out = &help.stdout;
    assert!(out.starts_with("A key-value store"), "{out}");
    assert!(out.contains("Usage: kv "), "{out}");
    assert!(!out.contains("tcpmodes"), "{out}");
    assert!(!out.contains("--delay-ms"), "{out}");
    assert!(!out.contains("--handler"), "{out}");

    let version = run_example("kv", &["--version"]);
    let want = format!("kv {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(version.stdout.trim(), want);

    let refused = run_example("kv", &["--delay-ms", "1000"]);
    assert_eq!(refused.code, Some(2));
    assert_eq!(
        refused.stderr.lines().next(),
        Some("error: unexpected argument '--delay-ms' found"),
        "{}",
        refused.stderr
    );
}

/// `kv compare` runs kv's own store in each mode with kv's exchange.
#[test]
fn kv_compare_runs_kv_in_every_mode() {
    let compare = run_example(
        "kv",
        &[
            "compare",
            "--clients",
            "2",
            "--messages",
            "5",
            "--format",
            "json",
            "--greeting",
            "none",
            "--request",
            "SET k{client}.{n} v",
            "--expect",
            "OK",
        ],
    );
    assert_eq!(compare.code, Some(0), "{}", compare.stderr);
    let rows: serde_json::Value = serde_json::from_str(&compare.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, Mode::ALL.map(|m| m.name()));
    for row in rows {
        assert_eq!(row["replies_ok"], 10, "{row}");
        assert_eq!(row["errors"]["total"], 0, "{row}");
    }
}
