//! `examples/lesson_client.rs` against the built-in echo server in every
//! mode, and against a Python server written like the lesson's `server.py`.

mod common;

use std::process::Command;

use common::have;
use common::process::{Exit, Process, example_bin, run_to_exit};
use common::servers::{local_config, serve};
use tcpmodes::{EchoHandler, Mode};

/// What the client prints for `--count 3`.
const TRANSCRIPT: &str = "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n";

fn run_client(addr: &str, count: &str) -> Exit {
    let mut cmd = Command::new(example_bin("lesson_client"));
    cmd.args(["--addr", addr, "--count", count, "--timeout-ms", "20000"]);
    run_to_exit(cmd)
}

#[test]
fn talks_to_the_builtin_echo_in_every_mode() {
    for mode in Mode::ALL {
        let mut config = local_config(mode);
        config.workers = 2;
        let server = serve(config, EchoHandler::default);
        let out = run_client(&server.local_addr().to_string(), "3");
        assert_eq!(out.code, Some(0), "{mode}: {}", out.stderr);
        assert_eq!(out.stdout, TRANSCRIPT, "{mode}");
        let summary = server.stop();
        // Three messages and the `exit`, which closed the connection.
        assert_eq!((summary.connections, summary.messages), (1, 4), "{mode}");
    }
}

/// The lesson's server.py, in Python 3, on a port given as an argument
/// (0 for a free one); it says where it listens as `tcpmodes` does.
const LESSON_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(5)
print('Listening on 127.0.0.1:%d' % s.getsockname()[1], flush=True)
while True:
    sock, addr = s.accept()
    sock.send(b'Welcome!')
    while True:
        data = sock.recv(1024)
        if not data or data.decode('utf-8') == 'exit':
            break
        sock.send(('Received %s;' % data.decode('utf-8')).encode('utf-8'))
    sock.close()
"#;

#[test]
fn talks_to_the_lessons_python_server() {
    if !have(common::PYTHON) {
        return;
    }
    // It serves for ever, like the lesson's: killed when the test ends.
    let server = Process::start({
        let mut cmd = Command::new(common::PYTHON);
        cmd.args(["-c", LESSON_SERVER, "0"]);
        cmd
    });
    let addr = server.addr.to_string();
    // Twice: the server goes on to the next client after an `exit`.
    for _ in 0..2 {
        let out = run_client(&addr, "3");
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, TRANSCRIPT);
    }
}

#[test]
fn no_server_is_one_error_line_and_exit_1() {
    // A port that was free a moment ago: nobody listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run_client(&format!("127.0.0.1:{port}"), "5");
    assert_eq!(out.code, Some(1));
    let err = out.stderr;
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: 127.0.0.1:{port}: ")),
        "{err}"
    );
}
