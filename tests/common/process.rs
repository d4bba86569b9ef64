//! A server as a child process: the `tcpmodes` binary, an example, or a
//! wrapper that runs one (`prlimit --nofile=24:24 tcpmodes ...`).
//!
//! [`Process::start`] reads the server's address from its first stdout
//! line (`Listening on ADDR ...`), drains stdout and stderr on threads so
//! its logging can never block it, sends real signals with kill(1), waits
//! for its exit with a bound, and kills and reaps it on drop. It ends only
//! the process it started.
//!
//! Signals are Unix-only: std cannot send a child Ctrl+C on Windows (that
//! takes the console API, unsafe code). So [`Process::signal`],
//! [`Process::stop`] and [`Process::stop_ok`], and the tests about
//! signals, are `#[cfg(unix)]`. A test that only needs the server gone
//! calls [`Process::end`], and one that then reads the summary or the logs
//! calls [`Process::stop_checked`]: on Unix both are `stop_ok`; on Windows
//! the server is killed and the reading is skipped. The Windows build's
//! Ctrl+C and summary are checked under wine instead (`.ci/cross.sh`).

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tcpmodes::Framing;

use super::client::Client;
use super::{PATIENCE, temp_dir};

/// The `tcpmodes` binary Cargo built for these tests.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tcpmodes"))
}

/// The `tcpmodes` binary with `args`.
pub fn bin_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin_path());
    cmd.args(args);
    cmd
}

/// An example's binary, which plain `cargo test` builds. Fails the test if
/// it is missing or older than its source (`examples/NAME.rs`, or every
/// file of `examples/NAME/`).
pub fn example_bin(name: &str) -> PathBuf {
    let bin = example_path(name);
    let file = super::repo_path(&format!("examples/{name}.rs"));
    let sources: Vec<PathBuf> =
        match std::fs::read_dir(super::repo_path(&format!("examples/{name}"))) {
            Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(_) => vec![file],
        };
    let source = sources
        .iter()
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .cloned()
        .unwrap_or_default();
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

/// Where example `name`'s binary is, built or not: next to the test's own
/// directory (`target/debug/deps/..` → `target/debug/examples/NAME`, with
/// `.exe` on Windows).
pub fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    dir.join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// Runs example `name` with exactly `args` (no address added: `--help`,
/// `bench`, `compare`) to its exit; see [`run_to_exit`].
pub fn run_example(name: &str, args: &[&str]) -> Exit {
    let mut cmd = Command::new(example_bin(name));
    cmd.args(args);
    run_to_exit(cmd)
}

/// Example `name` on a free port of 127.0.0.1 (`--addr 127.0.0.1:0`),
/// then `args`.
pub fn example_command(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(example_bin(name));
    cmd.args(["--addr", "127.0.0.1:0"]).args(args);
    cmd
}

/// How a process ended, and what it printed.
#[derive(Debug)]
pub struct Exit {
    /// The exit code; `None` if a signal ended it, or if it ran past
    /// [`PATIENCE`] and was killed.
    pub code: Option<i32>,
    /// Stdout; for a [`Process`], what came after its first line (the
    /// summary line).
    pub stdout: String,
    /// Stderr (the logs).
    pub stderr: String,
}

/// A server running as a child process; see the module docs.
pub struct Process {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its first stdout line: `Listening on ADDR (mode ..., framing ...)`.
    pub banner: String,
    stdout: Output,
    stderr: Output,
    /// The directory made for it to run in, removed on drop.
    own_dir: Option<PathBuf>,
}

impl Process {
    /// Starts `cmd` and waits (bounded) for its `Listening on` line. Unless
    /// `cmd` says where, it runs in an empty directory of its own.
    pub fn start(mut cmd: Command) -> Process {
        let (mut child, stdout, stderr, own_dir) = spawn_drained(&mut cmd);
        let deadline = Instant::now() + PATIENCE;
        let banner = loop {
            if let Some((line, _)) = stdout.text().split_once('\n') {
                break line.to_string();
            }
            if Instant::now() > deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let _ = child.wait();
                stderr.finish();
                panic!("{cmd:?} printed no first line; stderr:\n{}", stderr.text());
            }
            thread::sleep(Duration::from_millis(10));
        };
        let addr = banner
            .strip_prefix("Listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            stderr.finish();
            panic!(
                "unexpected first line {banner:?} from {cmd:?}; stderr:\n{}",
                stderr.text()
            );
        };
        Process {
            child,
            addr,
            banner,
            stdout,
            stderr,
            own_dir,
        }
    }

    /// The `tcpmodes` binary with `args` (add `--addr 127.0.0.1:0`).
    pub fn bin(args: &[&str]) -> Process {
        Process::start(bin_command(args))
    }

    /// Example `name` on a free port, with `args`.
    pub fn example(name: &str, args: &[&str]) -> Process {
        Process::start(example_command(name, args))
    }

    /// A client of this server.
    pub fn connect(&self, framing: Framing) -> Client {
        Client::connect(self.addr, framing)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far (its logs).
    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// Waits (bounded by [`PATIENCE`]) until stderr contains `needle`;
    /// false if it never does.
    pub fn stderr_shows(&self, needle: &str) -> bool {
        let deadline = Instant::now() + PATIENCE;
        while !self.stderr.text().contains(needle) {
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Sends a signal by name (`INT`, `TERM`) with kill(1): std has no safe
    /// way to send a child any signal but SIGKILL.
    #[cfg(unix)]
    pub fn signal(&self, name: &str) {
        let pid = self.pid();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits (bounded by [`PATIENCE`], killed past it) for the exit.
    pub fn wait(mut self) -> Exit {
        let status = wait_bounded(&mut self.child);
        self.stdout.finish();
        self.stderr.finish();
        let stdout = self.stdout.text();
        let stdout = stdout.split_once('\n').map_or("", |(_, rest)| rest);
        Exit {
            code: status.and_then(|s| s.code()),
            stdout: stdout.to_string(),
            stderr: self.stderr.text(),
        }
    }

    /// Sends `signal` (a kill(1) name) and waits for the exit.
    #[cfg(unix)]
    pub fn stop(self, signal: &str) -> Exit {
        self.signal(signal);
        self.wait()
    }

    /// Sends SIGINT, as Ctrl+C does, and asserts the graceful exit: code 0
    /// and the summary line.
    #[cfg(unix)]
    pub fn stop_ok(self) -> Exit {
        let exit = self.stop("INT");
        assert_eq!(exit.code, Some(0), "stderr:\n{}", exit.stderr);
        assert!(
            exit.stdout.contains("Served "),
            "no summary: {}",
            exit.stdout
        );
        exit
    }

    /// Ends a server the test is done with: on Unix [`stop_ok`], so the
    /// graceful exit is checked too; on Windows a kill (see the module
    /// docs).
    ///
    /// [`stop_ok`]: Process::stop_ok
    pub fn end(self) {
        self.stop_checked();
    }

    /// [`stop_ok`]'s exit, to read its summary and logs, on Unix; `None`
    /// on Windows, where the server is killed (see the module docs).
    ///
    /// [`stop_ok`]: Process::stop_ok
    pub fn stop_checked(self) -> Option<Exit> {
        #[cfg(unix)]
        return Some(self.stop_ok());
        #[cfg(not(unix))]
        {
            drop(self);
            None
        }
    }

    /// Resident memory, KiB (VmRSS in /proc/PID/status; 0 without /proc).
    pub fn rss_kb(&self) -> u64 {
        proc_status_field(self.pid(), "VmRSS:")
    }

    /// Threads of the process (0 without /proc).
    pub fn threads(&self) -> u64 {
        proc_status_field(self.pid(), "Threads:")
    }

    /// CPU time used so far (user + system), in clock ticks (1/100 s).
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the parenthesised name; utime and stime are 14, 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Ends only the process this test started, if it still runs.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(dir) = &self.own_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Unless `cmd` says where to run, an empty directory of its own, so the
/// repository's `config.toml` cannot change what a test sees; returns it.
fn run_in_own_dir(cmd: &mut Command) -> Option<PathBuf> {
    if cmd.get_current_dir().is_some() {
        return None;
    }
    let dir = temp_dir("cwd");
    cmd.current_dir(&dir);
    Some(dir)
}

/// A number (a `kB` figure or a count) of /proc/PID/status.
fn proc_status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs `cmd` to its exit (start-up errors, clients, scripts), output
/// drained; in an empty directory of its own unless `cmd` says where.
/// Fails the test if it runs past [`PATIENCE`] (it is killed).
pub fn run_to_exit(mut cmd: Command) -> Exit {
    let (mut child, stdout, stderr, own_dir) = spawn_drained(&mut cmd);
    let Some(status) = wait_bounded(&mut child) else {
        panic!("{cmd:?} did not exit within {PATIENCE:?}");
    };
    stdout.finish();
    stderr.finish();
    if let Some(dir) = own_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Exit {
        code: status.code(),
        stdout: stdout.text(),
        stderr: stderr.text(),
    }
}

/// Starts `cmd` with no stdin and its output drained in the background;
/// in an empty directory of its own (returned, for removal) unless `cmd`
/// says where.
fn spawn_drained(cmd: &mut Command) -> (Child, Output, Output, Option<PathBuf>) {
    let own_dir = run_in_own_dir(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let stdout = Output::drain(child.stdout.take().expect("stdout"));
    let stderr = Output::drain(child.stderr.take().expect("stderr"));
    (child, stdout, stderr, own_dir)
}

/// Waits for `child` to exit, at most [`PATIENCE`]; kills it past that and
/// returns `None`. (std has no wait with a timeout.)
pub fn wait_bounded(child: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One output pipe of a child, read to its end by a thread of its own.
struct Output {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Output {
    fn drain(mut pipe: impl Read + Send + 'static) -> Output {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let sink = bytes.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Output { bytes, reader }
    }

    /// What was read so far.
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
    }

    /// Waits (at most 5 s: a grandchild may hold the pipe open) for the
    /// pipe's end, once the process has exited.
    fn finish(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.reader.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}
