//! `examples/uppercase.rs` in every mode, through its full command line.

mod common;

use common::process::{Process, example_command, run_example, run_to_exit};
use common::temp_dir;
use tcpmodes::{Framing, Mode};

#[test]
fn answers_each_line_in_upper_case_in_every_mode() {
    for mode in Mode::ALL {
        let server = Process::example("uppercase", &["--mode", mode.name(), "--workers", "2"]);
        assert!(
            server.banner.contains(&format!("mode {mode}"))
                && server.banner.contains("handler uppercase, framing line"),
            "{}",
            server.banner
        );
        let mut c = server.connect(Framing::Line);
        assert_eq!(c.ask("hello, World 42"), "HELLO, WORLD 42");
        // Two lines in one write are two messages; \r\n works as nc sends it.
        c.send("a\r\nb");
        assert_eq!((c.recv_line(), c.recv_line()), ("A".into(), "B".into()));
        assert_eq!(c.ask("déjà vu"), "DéJà VU", "non-ASCII passes unchanged");
        c.close();
        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        assert!(
            stopped.stdout.contains("Served 1 connection, 4 messages"),
            "{mode}: {}",
            stopped.stdout
        );
    }
}

/// The difference between the modes, seen by two clients at once: serial
/// answers the second only once the first has gone.
#[test]
fn a_second_client_waits_in_serial_mode_only() {
    for mode in Mode::ALL {
        let server = Process::example("uppercase", &["--mode", mode.name(), "--workers", "2"]);
        let mut first = server.connect(Framing::Line);
        assert_eq!(first.ask("one"), "ONE");
        let mut second = server.connect(Framing::Line);
        second.send("two");
        if mode == Mode::Serial {
            second.assert_silent("serial mode serves one client at a time");
            assert_eq!(first.ask("still me"), "STILL ME");
            first.close();
            assert_eq!(second.recv_line(), "TWO");
        } else {
            assert_eq!(second.recv_line(), "TWO", "{mode}");
            assert_eq!(first.ask("still me"), "STILL ME");
            first.close();
        }
        second.close();
        server.end();
    }
}

/// The program's line-framing default sits under the config file and the
/// flags, like the built-in defaults do.
#[test]
fn config_file_and_flags_override_the_programs_defaults() {
    let dir = temp_dir("uppercase-config");
    std::fs::write(
        dir.join("upper.toml"),
        "mode = \"pool\"\nworkers = 3\nframing = \"length\"\n",
    )
    .unwrap();
    let mut cmd = example_command("uppercase", &["--config", "upper.toml"]);
    cmd.current_dir(&dir);
    let server = Process::start(cmd);
    assert!(
        server
            .banner
            .contains("mode pool, workers 3, handler uppercase, framing length, config upper.toml"),
        "{}",
        server.banner
    );
    server.end();
    let mut cmd = example_command(
        "uppercase",
        &[
            "--config",
            "upper.toml",
            "--framing",
            "line",
            "--mode",
            "threads",
        ],
    );
    cmd.current_dir(&dir);
    let server = Process::start(cmd);
    assert!(
        server.banner.contains("mode threads") && server.banner.contains("framing line"),
        "{}",
        server.banner
    );
    server.end();
    // A bad value in the file is one line naming file and line, exit 2.
    std::fs::write(dir.join("bad.toml"), "\nworkers = 0\n").unwrap();
    let mut cmd = example_command("uppercase", &["--config", "bad.toml"]);
    cmd.current_dir(&dir);
    let out = run_to_exit(cmd);
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stderr.trim(),
        "error: bad.toml:2: workers: must be from 1 to 4096, got 0"
    );
}

/// The program's own `bench` loads a running uppercase server with its
/// exchange (no greeting, a line, its upper case), and its `compare` runs
/// *uppercase* in each mode, in its own framing, not the echo handler.
#[test]
fn its_bench_and_compare_measure_uppercase() {
    let server = Process::example("uppercase", &["--mode", "threads"]);
    let addr = server.addr.to_string();
    let exchange = [
        "--greeting",
        "none",
        "--request",
        "word {n} of client {client}",
        "--expect",
        "WORD {n} OF CLIENT {client}",
    ];

    let load = [
        "bench",
        "--addr",
        &addr,
        "--clients",
        "2",
        "--messages",
        "20",
    ];
    let bench = run_example(
        "uppercase",
        &[&load[..], &["--format", "json"], &exchange].concat(),
    );
    assert_eq!(bench.code, Some(0), "{}", bench.stderr);
    let r: serde_json::Value = serde_json::from_str(&bench.stdout).unwrap();
    assert_eq!(r["framing"], "line", "the program's framing by default");
    let counts = (r["replies_ok"].as_u64(), r["errors"]["total"].as_u64());
    assert_eq!(counts, (Some(40), Some(0)));
    server.end();

    let compare = [
        "compare",
        "--clients",
        "2",
        "--messages",
        "5",
        "--format",
        "json",
    ];
    let compare = run_example("uppercase", &[&compare[..], &exchange].concat());
    assert_eq!(compare.code, Some(0), "{}", compare.stderr);
    let rows: serde_json::Value = serde_json::from_str(&compare.stdout).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["replies_ok"], 10, "{row}");
        assert_eq!(row["clients_answered"], 2, "{row}");
        assert_eq!(row["framing"], "line", "{row}");
    }

    // The echo exchange is not what uppercase speaks: compare says so.
    let args = [
        "compare",
        "--clients",
        "1",
        "--duration",
        "0.5",
        "--modes",
        "threads",
    ];
    let echo = run_example("uppercase", &args);
    assert_eq!(echo.code, Some(1), "{}", echo.stderr);
    assert!(
        echo.stderr.contains("threads"),
        "names the mode: {}",
        echo.stderr
    );
}
