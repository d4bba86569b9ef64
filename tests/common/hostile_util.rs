//! Helpers for the hostile-input suites (`tests/hostile*.rs`): servers in
//! this process with a recording logger, the real binary with its output
//! drained, clients that speak any framing, and Linux process figures
//! (RSS, CPU time) read from /proc.
//!
//! Every wait here has a deadline, so a server that hangs fails a test
//! instead of hanging the suite.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use tcpmodes::{
    Action, Config, ConnInfo, Context, DisconnectReason, EchoHandler, Framing, Handler, Mode,
    RunningServer, Server,
};

/// The longest one step of a test may wait. Generous: a busy 2-core
/// machine must never fail a test that is right.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Short wait used to show that something does *not* happen (a client left
/// waiting); a slow machine can only make such a check pass more easily.
pub const GLANCE: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------- logging

/// Warnings and errors logged by in-process servers, as text. Tests run in
/// parallel in one process, so each looks only for lines naming its own
/// client's address.
fn log_lines() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let line = format!("{}: {}", r.level(), r.args());
            log_lines().lock().unwrap().push(line);
        }
    }
    fn flush(&self) {}
}

/// Installs the recording logger (once per test binary).
pub fn record_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_boxed_logger(Box::new(Recorder)).expect("logger");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// Waits (bounded) for a logged line (info or worse) containing every one of
/// `parts`, and returns it.
pub fn logged(parts: &[&str]) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(l) = log_lines()
            .lock()
            .unwrap()
            .iter()
            .find(|l| parts.iter().all(|p| l.contains(p)))
        {
            return l.clone();
        }
        if Instant::now() > deadline {
            panic!(
                "no log line with {parts:?}; lines: {:#?}",
                log_lines().lock().unwrap()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------- servers

/// The lesson's echo protocol, plus faults on demand: the message `boom`
/// panics in `on_message`; panics in the other calls are chosen per
/// connection with [`Faults`].
pub struct Hostile {
    echo: EchoHandler,
    faults: Faults,
}

/// Which handler calls panic, for testing that a panic costs only its
/// connection.
#[derive(Clone, Copy, Default)]
pub struct Faults {
    /// `on_connect` panics.
    pub connect: bool,
    /// `on_disconnect` panics.
    pub disconnect: bool,
}

impl Hostile {
    pub fn new(faults: Faults) -> Hostile {
        Hostile {
            echo: EchoHandler::default(),
            faults,
        }
    }
}

impl Handler for Hostile {
    fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
        if self.faults.connect {
            panic!("test panic in on_connect");
        }
        self.echo.on_connect(ctx)
    }
    fn on_message(&mut self, message: &[u8], ctx: &mut Context<'_>) -> Action {
        if message == b"boom" {
            panic!("boom: test panic for {}", ctx.peer());
        }
        self.echo.on_message(message, ctx)
    }
    fn on_disconnect(&mut self, _info: ConnInfo, _reason: &DisconnectReason) {
        if self.faults.disconnect {
            panic!("test panic in on_disconnect");
        }
    }
}

/// A config for a test server on a free port of 127.0.0.1.
pub fn config(mode: Mode, framing: Framing) -> Config {
    let mut c = Config::default();
    c.address = "127.0.0.1:0".into();
    c.mode = mode;
    c.framing = framing;
    c.workers = 2;
    c.shutdown_timeout_ms = 2_000;
    c
}

/// Starts a server in this process serving [`Hostile`] (no faults beyond
/// `boom`), with the recording logger on.
pub fn start(config: Config) -> RunningServer {
    start_with(config, || Hostile::new(Faults::default()))
}

/// Starts a server in this process with any handler factory.
pub fn start_with<H: Handler, F>(config: Config, factory: F) -> RunningServer
where
    F: Fn() -> H + Send + Sync + 'static,
{
    record_logs();
    Server::bind(config, factory).expect("bind").spawn()
}

// ---------------------------------------------------------------- clients

/// A blocking client speaking one framing, with a deadline on every call.
pub struct Client {
    pub stream: TcpStream,
    pub framing: Framing,
}

impl Client {
    pub fn connect(addr: SocketAddr, framing: Framing) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Client { stream, framing }
    }

    /// Connects and reads the greeting.
    pub fn greeted(addr: SocketAddr, framing: Framing) -> Client {
        let mut c = Client::connect(addr, framing);
        c.expect(b"Welcome!");
        c
    }

    /// This client's own address, as the server logs it.
    pub fn local(&self) -> String {
        self.stream.local_addr().unwrap().to_string()
    }

    /// Sends one message, framed.
    pub fn send(&mut self, message: &[u8]) {
        let mut framed = Vec::new();
        self.framing.encode(message, &mut framed);
        self.send_raw(&framed);
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads one expected message (framed as the server frames it).
    pub fn expect(&mut self, message: &[u8]) {
        let mut framed = Vec::new();
        self.framing.encode(message, &mut framed);
        let mut got = vec![0; framed.len()];
        self.stream.read_exact(&mut got).unwrap_or_else(|e| {
            panic!(
                "{}: waiting for {:?}: {e}",
                self.local(),
                String::from_utf8_lossy(message)
            )
        });
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&framed),
            "{}",
            self.local()
        );
    }

    /// One request, its `Received ...;` reply.
    pub fn echo(&mut self, message: &[u8]) {
        self.send(message);
        let mut want = b"Received ".to_vec();
        want.extend_from_slice(message);
        want.push(b';');
        self.expect(&want);
    }

    /// Waits (bounded by `within`) for the server to close: end of stream
    /// or a reset. Returns what was read before, or `None` if still open.
    pub fn closed_within(&mut self, within: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + within;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return Some(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Some(got),
            }
        }
    }

    /// Asserts the server closes this connection (within `PATIENCE`).
    pub fn expect_closed(&mut self) -> Vec<u8> {
        let who = self.local();
        self.closed_within(PATIENCE)
            .unwrap_or_else(|| panic!("{who}: server did not close"))
    }

    /// True if no byte arrives within `GLANCE` (and the server did not
    /// close): the client is left waiting.
    pub fn waits(&mut self) -> bool {
        self.stream.set_read_timeout(Some(GLANCE)).unwrap();
        let mut b = [0u8; 1];
        let r = self.stream.read(&mut b);
        self.stream.set_read_timeout(Some(PATIENCE)).unwrap();
        matches!(r, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
    }
}

/// Writes `bytes` again and again (at most `limit` bytes in all) until the
/// server closes the connection; returns how many bytes went out. Each
/// write is bounded by a short timeout so a server that stops reading is
/// noticed; the loop is bounded by `PATIENCE`.
pub fn write_until_closed(stream: &mut TcpStream, bytes: &[u8], limit: usize) -> (usize, bool) {
    stream
        .set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut sent = 0;
    while sent < limit && Instant::now() < deadline {
        match stream.write(bytes) {
            Ok(0) => return (sent, true),
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return (sent, true),
        }
    }
    (sent, false)
}

// ---------------------------------------------------------------- binary

/// The `tcpmodes` binary running as a child, its stdout and stderr drained
/// by threads so its logging can never block it, its port read from the
/// first stdout line. Killed on drop if still running.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Arc<Mutex<String>>,
    pub stderr: Arc<Mutex<String>>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tcpmodes")
}

/// An empty directory to run the binary in, so a `config.toml` in the
/// repository (read when present) cannot change what a test sees.
pub fn empty_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tcpmodes-hostile-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Drains `r` into a shared string on a thread.
fn drain(r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let out = text.clone();
    thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut line = String::new();
        while matches!(r.read_line(&mut line), Ok(n) if n > 0) {
            out.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    text
}

impl Binary {
    /// Starts `program args...` (e.g. `prlimit ... tcpmodes ...` or the
    /// binary itself) and waits for its `Listening on` line.
    pub fn start_cmd(mut cmd: Command) -> Binary {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .current_dir(empty_dir());
        let mut child = cmd.spawn().expect("start tcpmodes");
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            let text = stdout.lock().unwrap().clone();
            if let Some(line) = text.lines().next() {
                let addr = line
                    .strip_prefix("Listening on ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|a| a.parse().ok());
                match addr {
                    Some(a) => break a,
                    None => {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!("unexpected first line {line:?}");
                    }
                }
            }
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(100));
                panic!("tcpmodes did not start; stderr: {}", stderr.lock().unwrap());
            }
            thread::sleep(Duration::from_millis(10));
        };
        Binary {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    /// Starts the binary with `args` (add `--addr 127.0.0.1:0`).
    pub fn start(args: &[&str]) -> Binary {
        let mut cmd = Command::new(bin());
        cmd.args(args);
        Binary::start_cmd(cmd)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, KiB (VmRSS in /proc/PID/status).
    pub fn rss_kb(&self) -> u64 {
        proc_status_kb(self.pid(), "VmRSS:")
    }

    /// Threads of the process.
    pub fn threads(&self) -> u64 {
        proc_status_kb(self.pid(), "Threads:")
    }

    /// CPU time used so far (user + system), in clock ticks (1/100 s).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the parenthesised name; utime and stime are 14, 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// Asks for a graceful stop (SIGTERM through kill(1): std has no safe
    /// way to send another signal) and waits for exit; returns the exit
    /// code, stdout and stderr.
    pub fn stop(mut self) -> (Option<i32>, String, String) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let code = wait_bounded(&mut self.child);
        thread::sleep(Duration::from_millis(50));
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (code, out, err)
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // Ends only the process this test started, if it still runs.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` to exit, killing it after `PATIENCE`.
pub fn wait_bounded(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A `kB` (or plain count) field of /proc/PID/status.
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs the binary to exit (start-up errors); returns code and stderr.
pub fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(empty_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpmodes");
    let err = drain(child.stderr.take().unwrap());
    let code = wait_bounded(&mut child);
    thread::sleep(Duration::from_millis(50));
    let err = err.lock().unwrap().clone();
    (code, err)
}

/// True when this process runs as root (uid 0), read from /proc.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        .unwrap_or(false)
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Reads everything the server sends on `stream` on another thread (so a
/// flooding client never blocks on its own full receive window); the
/// thread returns the byte count once the server closes.
pub fn drain_in_background(stream: &TcpStream) -> thread::JoinHandle<usize> {
    let mut reader = stream.try_clone().unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0usize;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    })
}
