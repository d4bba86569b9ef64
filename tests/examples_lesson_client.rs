//! `examples/lesson_client.rs` against the built-in echo server in every
//! mode, and against a Python server written like the lesson's `server.py`.

mod examples_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use examples_support::{example_bin, have_python};
use tcpmodes::{EchoHandler, Mode, Server};

/// What the client prints for `--count 3`.
const TRANSCRIPT: &str = "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n";

fn run_client(addr: &str, count: &str) -> std::process::Output {
    Command::new(example_bin("lesson_client"))
        .args(["--addr", addr, "--count", count, "--timeout-ms", "20000"])
        .output()
        .expect("run lesson_client")
}

#[test]
fn talks_to_the_builtin_echo_in_every_mode() {
    for mode in Mode::ALL {
        let server = Server::builder()
            .address("127.0.0.1:0")
            .mode(mode)
            .workers(2)
            .bind(EchoHandler::default)
            .unwrap()
            .spawn();
        let out = run_client(&server.local_addr().to_string(), "3");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT, "{mode}");
        let summary = server.stop();
        // Three messages and the `exit`, which closed the connection.
        assert_eq!((summary.connections, summary.messages), (1, 4), "{mode}");
    }
}

/// The lesson's server.py, in Python 3, on a port given as an argument
/// (0 for a free one) and printed once listening.
const LESSON_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(5)
print(s.getsockname()[1], flush=True)
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
    if !have_python() {
        return;
    }
    let mut server = Killed(
        Command::new("python3")
            .args(["-c", LESSON_SERVER, "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python server"),
    );
    let mut first = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("python server's port");
    let port: u16 = first.trim().parse().expect("a port number");
    let addr = format!("127.0.0.1:{port}");
    // Twice: the server goes on to the next client after an `exit`.
    for _ in 0..2 {
        let out = run_client(&addr, "3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT);
    }
}

/// The Python server serves for ever, like the lesson's: it is killed when
/// the test ends, passed or failed.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: 127.0.0.1:{port}: ")),
        "{err}"
    );
}
