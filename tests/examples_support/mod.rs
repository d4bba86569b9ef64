//! Running the examples as real processes, for the `examples_*` tests.
//!
//! Each test starts the example's binary (built by `cargo test`, or by
//! `cargo build --examples` before `cargo test --test examples_NAME`) on
//! `127.0.0.1:0`, reads the port from its `Listening on` line, talks to it
//! over real sockets, and stops it with SIGINT, checking the graceful exit.
//! Every wait is bounded; a server left running by a failing test is killed
//! when its [`Example`] is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The modes every example runs in.
pub const MODES: [&str; 3] = ["serial", "threads", "pool"];

/// Longest any single step may take before the test fails: generous, for a
/// busy 2-core machine; a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How long "nothing arrives" is watched for. A slow machine can only make
/// such a check pass wrongly, never fail wrongly.
pub const QUIET: Duration = Duration::from_millis(300);

/// The example's binary, next to the test's own directory
/// (`target/debug/deps/..` → `target/debug/examples/NAME`).
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("examples").join(name);
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let built = std::fs::metadata(&bin).and_then(|m| m.modified());
    let edited = std::fs::metadata(&source).and_then(|m| m.modified());
    match (built, edited) {
        (Ok(b), Ok(e)) if b >= e => bin,
        (Ok(_), Ok(_)) => panic!(
            "{} is older than {}: run `cargo build --examples` (plain `cargo test` does it)",
            bin.display(),
            source.display()
        ),
        _ => panic!(
            "{} not found: run `cargo build --examples` (plain `cargo test` does it)",
            bin.display()
        ),
    }
}

/// An empty directory of its own for one server, so a `config.toml` in the
/// repository does not change what the test runs.
pub fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "examples-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A running example server.
pub struct Example {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its first stdout line (`Listening on ... (mode ..., framing ...)`).
    pub banner: String,
    /// The directory it runs in (for config files).
    pub dir: PathBuf,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

/// What a stopped server printed, and how it exited.
pub struct Stopped {
    pub status: ExitStatus,
    /// Stdout after the banner: the summary line.
    pub stdout: String,
    /// Logs.
    pub stderr: String,
}

impl Example {
    /// Starts example `name` on a free port with `args` (after `--addr`).
    pub fn start(name: &str, args: &[&str]) -> Example {
        Example::start_in(name, args, scratch_dir(name))
    }

    /// Like [`start`](Example::start), in directory `dir`.
    pub fn start_in(name: &str, args: &[&str], dir: PathBuf) -> Example {
        let mut child = Command::new(example_bin(name))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start example {name}: {e}"));
        let (tx, lines) = channel();
        let stdout = child.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Drained all along: a full stderr pipe would block the server.
        let mut err = child.stderr.take().expect("stderr");
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut ex = Example {
            child: Some(child),
            addr: "127.0.0.1:0".parse().unwrap(),
            banner: String::new(),
            dir,
            lines,
            stderr: Some(stderr),
        };
        let banner = match ex.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(_) => {
                let stopped = ex.kill();
                panic!("{name} printed no banner; stderr:\n{}", stopped.stderr);
            }
        };
        let addr = banner
            .strip_prefix("Listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from {name}: {banner}"));
        ex.addr = addr;
        ex.banner = banner;
        ex
    }

    /// A connection to the server, with reads bounded by [`PATIENCE`].
    pub fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// A line-protocol client.
    pub fn line_client(&self) -> LineClient {
        LineClient::new(self.connect())
    }

    /// Sends SIGINT, as Ctrl+C would, and waits for the graceful exit.
    pub fn stop(mut self) -> Stopped {
        let pid = self.child.as_ref().expect("running").id();
        let sent = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -INT {pid} failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("wait for example") {
                self.child = None;
                return self.collect(status);
            }
            if Instant::now() > deadline {
                let stopped = self.kill();
                panic!(
                    "server did not exit within {PATIENCE:?} of SIGINT; stderr:\n{}",
                    stopped.stderr
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops with SIGINT and asserts a clean exit; returns the output.
    pub fn stop_ok(self) -> Stopped {
        let stopped = self.stop();
        assert!(
            stopped.status.success(),
            "exit {:?}; stderr:\n{}",
            stopped.status,
            stopped.stderr
        );
        assert!(
            stopped.stdout.contains("Served "),
            "no summary: {}",
            stopped.stdout
        );
        stopped
    }

    fn kill(&mut self) -> Stopped {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let status = child.wait().expect("wait for killed example");
        self.collect(status)
    }

    fn collect(&mut self, status: ExitStatus) -> Stopped {
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let mut stdout = Vec::new();
        // Until the reader thread ends with the pipe; bounded all the same.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            stdout.push(line);
        }
        Stopped {
            status,
            stdout: stdout.join("\n"),
            stderr,
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A connection to `addr`, with reads and writes bounded by [`PATIENCE`].
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect to example");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.set_write_timeout(Some(PATIENCE)).unwrap();
    s
}

/// A client of a line protocol.
pub struct LineClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl LineClient {
    pub fn new(stream: TcpStream) -> LineClient {
        LineClient {
            writer: stream.try_clone().expect("clone stream"),
            reader: BufReader::new(stream),
        }
    }

    /// This client's own address, as the server sees it.
    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().unwrap()
    }

    /// Sends one line (a `\n` is added).
    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send line");
    }

    /// The next line, without its `\n`; fails the test after [`PATIENCE`].
    pub fn recv(&mut self) -> String {
        self.try_recv(PATIENCE)
            .unwrap_or_else(|| panic!("no line within {PATIENCE:?}"))
    }

    /// Sends a line and returns the reply line.
    pub fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.recv()
    }

    /// The next line if one arrives within `wait`; `None` on silence.
    /// Panics when the server closes instead.
    pub fn try_recv(&mut self, wait: Duration) -> Option<String> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let mut line = String::new();
        let got = self.reader.read_line(&mut line);
        self.reader
            .get_ref()
            .set_read_timeout(Some(PATIENCE))
            .unwrap();
        match got {
            Ok(0) => panic!("server closed the connection"),
            Ok(_) => {
                assert!(line.ends_with('\n'), "half a line: {line:?}");
                line.pop();
                Some(line)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                assert!(line.is_empty(), "half a line then silence: {line:?}");
                None
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Asserts nothing arrives for [`QUIET`].
    pub fn assert_silent(&mut self, why: &str) {
        if let Some(line) = self.try_recv(QUIET) {
            panic!("expected silence ({why}), got {line:?}");
        }
    }

    /// Reads until the server closes; returns what came before.
    pub fn recv_to_end(&mut self) -> String {
        let mut rest = String::new();
        self.reader.read_to_string(&mut rest).expect("read to end");
        rest
    }

    /// Closes our side, as a client leaving does.
    pub fn close(self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}

/// Whether `python3` can be run; tests that need it skip (with a note on
/// stderr) where it is missing.
pub fn have_python() -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("pass")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 not found");
    }
    ok
}
