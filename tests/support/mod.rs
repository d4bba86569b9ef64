//! Helpers shared by the integration tests: servers in-process or as the
//! real binary, and a client that never waits without a deadline.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tcpmodes::{Config, EchoHandler, Mode, RunningServer, Server};

/// The longest any single read in a test may wait: generous, so a busy
/// 2-core machine never fails a test that is right.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// An echo server in this process on a free port.
pub fn echo_server(mode: Mode, edit: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config::default();
    config.address = "127.0.0.1:0".into();
    config.mode = mode;
    edit(&mut config);
    let delay = Duration::from_millis(config.delay_ms);
    Server::bind(config, move || EchoHandler::new(delay))
        .expect("bind")
        .spawn()
}

/// A blocking test client with deadlines on every read.
pub struct Client {
    pub stream: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Client { stream }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.stream.read_exact(&mut buf).expect("read");
        buf
    }

    /// Reads exactly `expected.len()` bytes and checks them.
    pub fn expect(&mut self, expected: &[u8]) {
        let got = self.read_exact(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }

    /// True when the server closed: a read gives end of stream or a reset.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// The `tcpmodes` binary, started with `args`; its port is read from the
/// first stdout line.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub first_line: String,
    stdout: Option<BufReader<ChildStdout>>,
}

pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tcpmodes"))
}

/// The binary with `args`, run in `dir`, its output piped.
fn command(args: &[&str], dir: Option<&std::path::Path>) -> Command {
    let mut cmd = Command::new(bin_path());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd
}

impl Binary {
    pub fn start(args: &[&str]) -> Binary {
        Binary::start_in(args, None)
    }

    pub fn start_in(args: &[&str], dir: Option<&std::path::Path>) -> Binary {
        let mut child = command(args, dir).spawn().expect("start tcpmodes");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = tx.send(line);
            stdout
        });
        let line = match rx.recv_timeout(PATIENCE) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("tcpmodes printed no first line");
            }
        };
        let stdout = reader.join().ok();
        let addr = line
            .strip_prefix("Listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("unexpected first line {line:?}; stderr: {err}");
        };
        Binary {
            child,
            addr,
            first_line: line,
            stdout,
        }
    }

    /// Sends a signal by name (`INT`, `TERM`) with kill(1): std has no safe
    /// way to signal a child other than SIGKILL.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits (bounded) for exit; returns the exit code, the rest of stdout
    /// and all of stderr. Kills the child if it does not exit in time.
    pub fn wait(mut self) -> (Option<i32>, String, String) {
        let status = wait_bounded(&mut self.child);
        let mut out = String::new();
        if let Some(mut s) = self.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        let mut err = String::new();
        let e: Option<ChildStderr> = self.child.stderr.take();
        if let Some(mut e) = e {
            let _ = e.read_to_string(&mut err);
        }
        (status.and_then(|s| s.code()), out, err)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // Ends only the process this test started, if still running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the binary to completion (for start-up errors); returns exit code
/// and stderr. Killed if it is still running after `PATIENCE`.
pub fn run_to_exit(args: &[&str], dir: Option<&std::path::Path>) -> (Option<i32>, String) {
    let mut child = command(args, dir).spawn().expect("start tcpmodes");
    let Some(status) = wait_bounded(&mut child) else {
        panic!("tcpmodes {args:?} did not exit");
    };
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (status.code(), err)
}

/// Waits for `child` to exit, at most `PATIENCE`; kills it past that and
/// returns `None`. (std has no wait with a timeout.)
pub fn wait_bounded(child: &mut Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory under the system temp dir for one test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpmodes-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
