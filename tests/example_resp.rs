//! `examples/resp/`, a small Redis, against the real Redis clients
//! (`redis-cli`, `redis-benchmark`) in every mode, and against raw sockets
//! for broken RESP and for a pipelined burst split at odd points.
//!
//! Without redis-tools installed, the tests that need it print one
//! `skipped: ...` line and pass; the raw-socket tests always run.

mod common;

// The example's codec and handler, fed bytes through a `Session` with no
// socket, as a handler is unit-tested (the example itself is a program).
#[path = "../examples/resp/codec.rs"]
#[allow(dead_code)]
mod codec;
#[path = "../examples/resp/handler.rs"]
mod handler;

use std::fs::{self, File};
use std::process::Command;
use std::thread;
use std::time::Duration;

use codec::RespCodec;
use common::process::{Exit, Process, example_bin, run_to_exit, wait_bounded};
use common::temp_dir;
use handler::{Resp, Store};
use tcpmodes::{Config, Framing, Mode, Session, Step};

/// Requests per `redis-benchmark` test: the documented command's 20,000.
/// Against the debug build the tests use, on 2 cores, its four tests take
/// 0.8 s (serial with one client, event, event-workers) to 1.1 s
/// (threads, pool) a mode: 5 s for the five modes, and 5 to 8 s for the
/// whole file, whose other tests run beside it. 400 requests per connection
/// (20,000 in serial) give a lost or misordered reply many chances to
/// show, for 4 s more than 2,000 would take.
const BENCH_REQUESTS: u32 = 20_000;

/// The `redis-benchmark` tests, as the example's documentation runs them.
const BENCH_TESTS: [&str; 4] = ["PING_INLINE", "PING_MBULK", "SET", "GET"];

/// `examples/resp`'s debug binary with `--addr 127.0.0.1:0` and `args`.
fn resp_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(example_bin("resp"));
    cmd.args(["--addr", "127.0.0.1:0"]).args(args);
    cmd
}

/// The example in `mode` with `workers` workers (pool and event-workers),
/// on a free port of 127.0.0.1.
fn start_with(mode: Mode, workers: u64) -> Process {
    let workers = workers.to_string();
    let server = Process::start(resp_command(&[
        "--mode",
        mode.name(),
        "--workers",
        &workers,
    ]));
    assert!(server.banner.contains("framing resp"), "{}", server.banner);
    server
}

/// The example in `mode`, 2 workers.
fn start(mode: Mode) -> Process {
    start_with(mode, 2)
}

/// Whether `program` (from redis-tools) runs; if not, says once that the
/// test is skipped.
fn installed(program: &str) -> bool {
    common::have_else(program, "not installed (apt-get install redis-tools)")
}

/// Runs `cmd` to its exit with `input` as its stdin, bounded as
/// `run_to_exit` is. Output goes to files, so nothing can block on a pipe.
fn run_with_input(mut cmd: Command, input: &str) -> Exit {
    let dir = temp_dir("redis-cli");
    let (stdin, stdout, stderr) = (dir.join("in"), dir.join("out"), dir.join("err"));
    fs::write(&stdin, input).unwrap();
    let mut child = cmd
        .current_dir(&dir)
        .stdin(File::open(&stdin).unwrap())
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let status = wait_bounded(&mut child).unwrap_or_else(|| panic!("{cmd:?} did not exit"));
    let exit = Exit {
        code: status.code(),
        stdout: fs::read_to_string(&stdout).unwrap(),
        stderr: fs::read_to_string(&stderr).unwrap(),
    };
    let _ = fs::remove_dir_all(&dir);
    exit
}

/// The connections and messages of the summary line, `Served N
/// connections, M messages ...`.
fn served(summary: &str) -> (u64, u64) {
    let numbers: Vec<u64> = summary
        .split("Served ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary: {summary}"))
        .split_whitespace()
        .take(4)
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{summary}");
    (numbers[0], numbers[1])
}

/// One `redis-cli` session fed from stdin, as `redis-cli < commands`
/// runs one: every command on the same connection. `--no-raw` keeps the
/// types visible (`(integer) 2`, `(nil)`, `(error) ...`) without a tty.
const CLI_COMMANDS: &str = "PING
SET k v
GET k
INCR n
INCR n
INCR k
FLY away
ECHO \"hello world\"
DEL k n nothing
GET k
PING
";

/// What `redis-cli` prints for [`CLI_COMMANDS`]: after each error reply
/// the connection goes on.
const CLI_REPLIES: &str = "PONG
OK
\"v\"
(integer) 1
(integer) 2
(error) ERR value is not an integer or out of range
(error) ERR unknown command 'FLY'
\"hello world\"
(integer) 2
(nil)
PONG
";

#[test]
fn redis_cli_gets_redis_answers_on_one_connection_in_every_mode() {
    if !installed("redis-cli") {
        return;
    }
    for mode in Mode::ALL {
        let server = start(mode);
        let mut cli = Command::new("redis-cli");
        cli.args(["--no-raw", "-h", "127.0.0.1", "-p"])
            .arg(server.addr.port().to_string());
        let out = run_with_input(cli, CLI_COMMANDS);
        assert_eq!(out.code, Some(0), "{mode}: {}", out.stderr);
        assert_eq!(out.stdout, CLI_REPLIES, "{mode}: stderr: {}", out.stderr);
        assert_eq!(out.stderr, "", "{mode}");

        // One command per run, as a shell script calls it.
        let mut once = Command::new("redis-cli");
        once.args(["-h", "127.0.0.1", "-p"])
            .arg(server.addr.port().to_string())
            .args(["SET", "greeting", "hello"]);
        assert_eq!(run_to_exit(once).stdout, "OK\n", "{mode}");

        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        // redis-cli 7 first asks `COMMAND DOCS`, then `COMMAND`, for its
        // help, and does not show their unknown-command errors; other
        // versions may ask other things: only the connection count is
        // exact.
        let (connections, messages) = served(&stopped.stdout);
        assert_eq!(connections, 2, "{mode}: {}", stopped.stdout);
        let commands = CLI_COMMANDS.lines().count() as u64 + 1;
        assert!(messages >= commands, "{mode}: {}", stopped.stdout);
        assert!(
            stopped.stdout.contains(" 0 errors, 0 panics"),
            "{mode}: {}",
            stopped.stdout
        );
    }
}

/// `redis-benchmark` with the documented command, 50 clients: one in
/// serial, which serves one connection at a time, and a worker each in
/// pool, whose worker holds a connection until it leaves. (Otherwise the
/// clients left waiting never get a reply, and redis-benchmark, which
/// waits for every client's, never ends.) It first asks
/// `CONFIG GET save` and `CONFIG GET appendonly`; answered badly, it warns
/// (`WARNING: Could not fetch server CONFIG`), so any warning fails the
/// test, as any error does: redis-benchmark 7 stops at the first error
/// reply (`Error from server: ...`) and prints `Error: ...` when a
/// connection breaks.
#[test]
fn redis_benchmark_runs_clean_in_every_mode() {
    if !installed("redis-benchmark") {
        return;
    }
    for mode in Mode::ALL {
        let clients = if mode == Mode::Serial { 1 } else { 50 };
        let workers = if mode == Mode::Pool { clients } else { 2 };
        let server = start_with(mode, workers);
        let mut bench = Command::new("redis-benchmark");
        bench
            .args(["-h", "127.0.0.1", "-p"])
            .arg(server.addr.port().to_string())
            .args(["-t", "ping_inline,ping_mbulk,set,get", "-q", "-n"])
            .arg(BENCH_REQUESTS.to_string())
            .arg("-c")
            .arg(clients.to_string());
        let out = run_to_exit(bench);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, Some(0), "{mode}: {all}");
        let lower = all.to_lowercase();
        for bad in ["err", "warn", "could not", "fail", "closed"] {
            assert!(!lower.contains(bad), "{mode}: {bad:?} in {all}");
        }
        // Each test's result line; the progress lines (`rps=...`) are
        // overwritten in place with `\r`.
        for test in BENCH_TESTS {
            let result = all.split(['\r', '\n']).any(|line| {
                line.trim_start()
                    .strip_prefix(test)
                    .and_then(|rest| rest.strip_prefix(": "))
                    .is_some_and(|rest| rest.contains(" requests per second"))
            });
            assert!(result, "{mode}: no {test} result in {all}");
        }

        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        let (connections, messages) = served(&stopped.stdout);
        // One connection to ask for the settings, then `clients` per test.
        assert_eq!(
            connections,
            1 + clients * BENCH_TESTS.len() as u64,
            "{mode}: {}",
            stopped.stdout
        );
        assert!(
            messages >= u64::from(BENCH_REQUESTS) * BENCH_TESTS.len() as u64,
            "{mode}: {}",
            stopped.stdout
        );
        assert!(
            stopped.stdout.contains(" 0 errors, 0 panics"),
            "{mode}: {}",
            stopped.stdout
        );
    }
}

/// A frame that breaks RESP (`*2` promises bulk strings, `+PING` is not
/// one) gets Redis's error reply, then that connection is closed and the
/// log says why; a client connected alongside is still served (in serial,
/// the next client is).
#[test]
fn broken_resp_closes_only_its_connection_in_every_mode() {
    for mode in Mode::ALL {
        let server = start(mode);
        let mut neighbour = (mode != Mode::Serial).then(|| {
            let mut c = server.connect(Framing::Raw);
            c.send_raw(b"*1\r\n$4\r\nPING\r\n");
            c.expect_raw(b"+PONG\r\n");
            c
        });

        let mut bad = server.connect(Framing::Raw);
        bad.send_raw(b"*2\r\n+PING\r\n");
        let told = bad.expect_closed();
        assert_eq!(
            String::from_utf8_lossy(&told),
            "-ERR Protocol error: expected '$', got '+'\r\n",
            "{mode}"
        );
        assert!(
            server.stderr_shows("closed: protocol error: expected '$', got '+'"),
            "{mode}: {}",
            server.stderr_text()
        );

        if let Some(c) = &mut neighbour {
            c.send_raw(b"ECHO still-here\r\n");
            c.expect_raw(b"$10\r\nstill-here\r\n");
        }
        let mut next = server.connect(Framing::Raw);
        next.send_raw(b"*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n");
        next.expect_raw(b"$5\r\nafter\r\n");
        next.close();
        if let Some(c) = neighbour {
            c.close();
        }

        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        let (connections, _) = served(&stopped.stdout);
        let want = if mode == Mode::Serial { 2 } else { 3 };
        assert_eq!(connections, want, "{mode}: {}", stopped.stdout);
        assert!(
            stopped.stdout.contains(" 1 errors, 0 panics"),
            "{mode}: the broken frame is the one error: {}",
            stopped.stdout
        );
    }
}

/// Commands of both forms in one burst, and their replies in order. The
/// ECHO payloads hold `\r\n` and whole RESP commands, which only a codec
/// that follows the lengths reads as data; blank lines between commands
/// are skipped.
fn burst() -> (Vec<u8>, Vec<u8>) {
    fn multibulk(args: &[&[u8]]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend(format!("${}\r\n", a.len()).into_bytes());
            out.extend(*a);
            out.extend(b"\r\n");
        }
        out
    }
    fn bulk(data: &[u8]) -> Vec<u8> {
        let mut out = format!("${}\r\n", data.len()).into_bytes();
        out.extend(data);
        out.extend(b"\r\n");
        out
    }
    let (mut sent, mut want) = (Vec::new(), Vec::new());
    for i in 0..60 {
        let key = format!("key{i}");
        let value = format!("value {i}");
        sent.extend(multibulk(&[b"SET", key.as_bytes(), value.as_bytes()]));
        want.extend(b"+OK\r\n");
        sent.extend(format!("GET {key}\r\n").into_bytes());
        want.extend(bulk(value.as_bytes()));
        sent.extend(multibulk(&[b"INCR", b"counter"]));
        want.extend(format!(":{}\r\n", i + 1).into_bytes());
        let payload = format!("{i}\r\n*1\r\n$4\r\nQUIT\r\nQUIT\r\n");
        sent.extend(multibulk(&[b"ECHO", payload.as_bytes()]));
        want.extend(bulk(payload.as_bytes()));
        if i % 7 == 0 {
            sent.extend(b"\r\n");
        }
        sent.extend(b"PING\r\n");
        want.extend(b"+PONG\r\n");
    }
    sent.extend(multibulk(&[b"DEL", b"key0", b"key59", b"nothing"]));
    want.extend(b":2\r\n");
    sent.extend(b"GET key0\r\n");
    want.extend(b"$-1\r\n");
    (sent, want)
}

/// A pipelined burst, written in pieces of odd sizes (a command split
/// inside its `*3`, its `$5`, its data, between `\r` and `\n`) with pauses
/// so the server reads them apart, is answered command by command, in
/// order, in every mode.
#[test]
fn a_pipelined_burst_split_at_odd_points_is_answered_in_order_in_every_mode() {
    let (sent, want) = burst();
    let sizes = [1, 2, 3, 5, 7, 11, 13, 17, 29, 64, 4, 1, 257, 9];
    for mode in Mode::ALL {
        let server = start(mode);
        let mut c = server.connect(Framing::Raw);
        c.stream.set_nodelay(true).unwrap();
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at == sent.len() {
                break;
            }
            let end = (at + size).min(sent.len());
            c.send_raw(&sent[at..end]);
            at = end;
            thread::sleep(Duration::from_micros(200));
        }
        // The replies are a few KiB: they wait in the socket buffers
        // until read here.
        c.expect_raw(&want);
        c.send_raw(b"QUIT\r\n");
        c.expect_raw(b"+OK\r\n");
        assert_eq!(c.expect_closed(), b"", "{mode}: nothing after QUIT's +OK");
        let Some(stopped) = server.stop_checked() else {
            continue;
        };
        let commands = 60 * 5 + 2 + 1;
        assert!(
            stopped
                .stdout
                .contains(&format!("Served 1 connection, {commands} messages")),
            "{mode}: {}",
            stopped.stdout
        );
    }
}

// A `Session` fed bytes: the handler and codec without a socket.

fn session(store: &Store) -> Session {
    let config = Config::default().with_codec(RespCodec);
    let mut s = Session::in_memory_with(
        Resp {
            store: store.clone(),
        },
        &config,
    );
    s.start();
    s
}

#[test]
fn commands_in_both_forms_split_anywhere() {
    let store = Store::default();
    let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n41\r\nINCR k\r\n\
        *2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n\
        *2\r\n$3\r\nDEL\r\n$1\r\nk\r\nGET k\r\n";
    let want: &[u8] = b"+OK\r\n:42\r\n$2\r\n42\r\n+PONG\r\n$3\r\na\r\n\r\n:1\r\n$-1\r\n";
    for cut in 0..input.len() {
        let mut s = session(&store);
        s.receive(&input[..cut]);
        s.receive(&input[cut..]);
        assert_eq!(s.take_output(), want, "cut at {cut}");
    }
}

#[test]
fn broken_resp_is_refused_with_redis_words() {
    for (input, why) in [
        (&b"*2\r\n+PING\r\n"[..], "expected '$', got '+'"),
        (b"*x\r\n", "invalid multibulk length"),
        (b"*1\r\n$-5\r\n", "invalid bulk length"),
        (b"*1\r\n$x\r\n", "invalid bulk length"),
        (b"*1\r\n$4\r\nPINGxx", "without its"),
    ] {
        let mut s = session(&Store::default());
        match s.receive(input) {
            Step::Close(reason) => assert!(reason.to_string().contains(why), "{reason}"),
            step => panic!("{input:?}: {step:?}"),
        }
        // The client is told why, as Redis tells it, before the close.
        let told = String::from_utf8(s.take_output()).unwrap();
        assert!(told.starts_with("-ERR Protocol error: "), "{told:?}");
        assert!(told.contains(why) && told.ends_with("\r\n"), "{told:?}");
    }
}

#[test]
fn config_get_answers_the_pairs_redis_benchmark_asks_for() {
    let mut s = session(&Store::default());
    s.receive(
        b"CONFIG GET save\r\nconfig get APPENDONLY\r\n\
          CONFIG GET nothing\r\nCONFIG GET save appendonly\r\nCONFIG GET\r\n",
    );
    let want: &[u8] = b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n\
        *2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n\
        *0\r\n\
        *4\r\n$4\r\nsave\r\n$0\r\n\r\n$10\r\nappendonly\r\n$2\r\nno\r\n\
        -ERR wrong number of arguments for 'config|get' command\r\n";
    assert_eq!(
        String::from_utf8_lossy(&s.take_output()),
        String::from_utf8_lossy(want)
    );
}
